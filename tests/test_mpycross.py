"""mpy-cross as keigov runs it: compile errors named, and the rig's cache of compiled firmware."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from keigov import mpycross
from keigov.errors import KeigovError
from keigov.simboard.runtimes import get_runtime


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KEIGOV_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _tree(root: Path, answer: int) -> list[str]:
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "main.py").write_text("import pkg.calc\nprint(pkg.calc.answer())\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(f"def answer():\n    return {answer}\n")
    return ["main.py", "pkg/__init__.py", "pkg/calc.py"]


def test_compiled_once_reused_and_rebuilt_when_a_source_changes(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "src"
    files = _tree(root, 42)
    built = mpycross.compiled_firmware(root, files, march="x64", emit="bytecode", keep_source=("main.py",))
    assert built.parent == cache / "firmware"
    assert (built / "main.py").read_text() == (root / "main.py").read_text()
    assert (built / "pkg" / "calc.mpy").read_bytes()[:1] == b"M" and not (built / "pkg" / "calc.py").exists()
    stamp = (built / "pkg" / "calc.mpy").stat().st_mtime_ns
    assert mpycross.compiled_firmware(root, files, march="x64", emit="bytecode", keep_source=("main.py",)) == built
    assert (built / "pkg" / "calc.mpy").stat().st_mtime_ns == stamp, "a cached build must not be compiled again"
    _tree(root, 43)
    rebuilt = mpycross.compiled_firmware(root, files, march="x64", emit="bytecode", keep_source=("main.py",))
    assert rebuilt != built, "an edited source must not run from the old build"
    native = mpycross.compiled_firmware(root, files, march="x64", emit="native", keep_source=("main.py",))
    assert native not in (built, rebuilt)
    assert not [p for p in (cache / "firmware").iterdir() if p.name.startswith(".")], "no build left half-done"


@pytest.mark.micropython
def test_the_port_runs_what_the_cache_holds(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "src"
    files = _tree(root, 42)
    exe = get_runtime("micropython").executable()
    for emit in ("bytecode", "native"):
        built = mpycross.compiled_firmware(root, files, march="x64", emit=emit, keep_source=("main.py",))
        out = subprocess.run([exe, str(built / "main.py")], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0 and out.stdout.strip() == "42", out


def test_a_compile_error_names_the_file(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "src"
    files = _tree(root, 42)
    (root / "pkg" / "calc.py").write_text("def answer(:\n")
    with pytest.raises(KeigovError) as err:
        mpycross.compiled_firmware(root, files, march="x64", emit="native")
    assert str(err.value).startswith(f"{root / 'pkg' / 'calc.py'}: mpy-cross failed")
    assert not [p for p in (cache / "firmware").iterdir()], "a failed build leaves nothing behind"


def test_old_builds_are_pruned(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "src"
    for answer in range(mpycross._KEEP + 3):
        files = _tree(root, answer)
        mpycross.compiled_firmware(root, files, march="x64", emit="bytecode")
    assert len(list((cache / "firmware").iterdir())) == mpycross._KEEP


def test_the_micropython_runtime_runs_the_firmware_from_the_cache(tmp_path: Path, cache: Path) -> None:
    command = get_runtime("micropython").command(tmp_path, False)
    main = Path(next(a for a in command if a.endswith("main.py")))
    assert main.parent.parent == cache / "firmware"
    assert (main.parent / "core" / "app.mpy").exists() and (main.parent / "boards" / "sim.mpy").exists()
    command = get_runtime("micropython-bytecode").command(tmp_path, False)
    bytecode = Path(next(a for a in command if a.endswith("main.py")))
    assert bytecode.parent.name.startswith("any-bytecode-"), "bytecode for any port: no -march to refuse it elsewhere"


def test_an_unwritable_cache_is_an_environment_problem_naming_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    from keigov.errors import EnvironmentProblem

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache would go")
    monkeypatch.setenv("KEIGOV_CACHE", str(blocker))
    root = tmp_path / "src"
    with pytest.raises(EnvironmentProblem, match="KEIGOV_CACHE") as err:
        mpycross.compiled_firmware(root, _tree(root, 1), march="x64", emit="bytecode")
    assert str(blocker / "firmware") in str(err.value)
