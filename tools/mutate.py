"""Mutation testing of the firmware's safety core (docs/quality.md).

A mutant is one small change to one of the core files: a comparison flipped at its
boundary, an arithmetic operator swapped, an integer constant off by one, `and`/`or`
swapped, a statement removed (an assignment, a call, a return value) or a condition
negated. Each one is written into a private copy of the repository (firmware/ copied,
dbc/ linked; keigov finds it through KEIGOV_ROOT) and the gate's tests run against it;
a mutant that no test notices survives. Survivors are either gaps in the tests or
equivalent mutants (code that behaves the same); docs/quality.md classifies them.

Speed comes from three things, none of which changes the verdict:
- a worker per core imports pytest, hypothesis, cantools and keigov once, then forks a
  child per mutant that imports the (mutated) firmware and the tests afresh;
- a first, unmutated run under coverage records which tests execute each line; a
  mutant runs only those tests (all of them for lines that run at import time), with
  -x, so a killed mutant stops at its first failing test;
- each child is killed after a timeout (a mutant can loop forever), scaled from how long
  its tests took unmutated.
Hypothesis runs derandomized with no example database, so a verdict is reproducible.

    python tools/mutate.py tests/test_fw_rx.py ...            every mutant
    python tools/mutate.py --sample 300 --seed 1 tests/...    a random 300 of them
    python tools/mutate.py --list                             only generate and count

The report (JSON, every mutant with its verdict) goes to build/mutation/report.json.
"""

from __future__ import annotations

import argparse
import ast
import bisect
import difflib
import importlib
import io
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tokenize
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CORE = ("firmware/core/rx.py", "firmware/core/safety.py", "firmware/core/governor.py", "firmware/core/tx.py")
OPERATORS = ("compare", "arith", "const", "bool", "remove", "negate")
REPORT = REPO / "build" / "mutation" / "report.json"

_COMPARE = {ast.Lt: ("<", "<="), ast.LtE: ("<=", "<"), ast.Gt: (">", ">="), ast.GtE: (">=", ">"),
            ast.Eq: ("==", "!="), ast.NotEq: ("!=", "==")}
_ARITH = {ast.Add: ("+", "-"), ast.Sub: ("-", "+"), ast.Mult: ("*", "//"), ast.FloorDiv: ("//", "*")}


@dataclass
class Mutant:
    id: int
    path: str          # repository-relative
    line: int
    end_line: int
    stmt_line: int     # first line of the statement it is in: where coverage counts it
    op: str            # one of OPERATORS
    what: str          # the change, as read in the source: "< -> <="
    source: str = field(repr=False)
    uses: list[int] | None = None   # a module constant's: the lines of this file that read it
    scope: str = ""                 # the function (or class) it is in


# -- generating mutants -----------------------------------------------------------------

class _File:
    """A source file's text with ast positions (UTF-8 byte columns) and tokens (character
    columns) on one scale: character offsets into the text."""

    def __init__(self, base: Path, path: str) -> None:
        self.base = base
        self.path = path
        self.text = (base / path).read_text(encoding="utf-8")
        self.lines = self.text.splitlines(keepends=True)
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line))
        self.tree = ast.parse(self.text, path)
        self.tokens = [t for t in tokenize.generate_tokens(io.StringIO(self.text).readline)
                       if t.type in (tokenize.OP, tokenize.NAME)]
        self.token_pos = [self.offset(t.start[0], t.start[1], chars=True) for t in self.tokens]

    def offset(self, line: int, col: int, chars: bool = False) -> int:
        if not chars:
            col = len(self.lines[line - 1].encode("utf-8")[:col].decode("utf-8"))
        return self.starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),            # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))    # type: ignore[attr-defined]

    def token_between(self, a: int, b: int, text: str) -> tuple[int, int] | None:
        """The span of the operator token `text` between offsets a and b (comments, parens
        and line breaks in between are skipped by the tokenizer)."""
        k = bisect.bisect_left(self.token_pos, a)
        while k < len(self.tokens) and self.token_pos[k] < b:
            if self.tokens[k].string == text:
                return self.token_pos[k], self.token_pos[k] + len(text)
            k += 1
        return None

    def replaced(self, spans: list[tuple[int, int]], new: str) -> str:
        out = self.text
        for a, b in sorted(spans, reverse=True):
            out = out[:a] + new + out[b:]
        return out


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0]))
    return ids


def _mutations(f: _File) -> list[tuple[ast.AST, str, str, str]]:
    """(node, operator, description, mutated source) for every mutation of one file."""
    out: list[tuple[ast.AST, str, str, str]] = []
    docs = _docstrings(f.tree)
    for node in ast.walk(f.tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for k, op in enumerate(node.ops):
                if type(op) not in _COMPARE:
                    continue
                old, new = _COMPARE[type(op)]
                span = f.token_between(f.span(operands[k])[1], f.span(operands[k + 1])[0], old)
                if span:
                    out.append((node, "compare", f"{old} -> {new}", f.replaced([span], new)))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _ARITH:
            old, new = _ARITH[type(node.op)]
            left, right = (node.left, node.right) if isinstance(node, ast.BinOp) else (node.target, node.value)
            if isinstance(node, ast.AugAssign):
                old, new = old + "=", new + "="
            span = f.token_between(f.span(left)[1], f.span(right)[0], old)
            if span:
                out.append((node, "arith", f"{old} -> {new}", f.replaced([span], new)))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            a, b = f.span(node)
            for delta in (1, -1):
                v = node.value + delta
                out.append((node, "const", f"{f.text[a:b]} -> {v}", f.replaced([(a, b)], str(v))))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            out.append((node, "const", f"{node.value} -> {not node.value}",
                        f.replaced([f.span(node)], str(not node.value))))
        elif isinstance(node, ast.BoolOp):
            old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
            spans = [f.token_between(f.span(x)[1], f.span(y)[0], old) for x, y in zip(node.values, node.values[1:])]
            if all(spans):
                out.append((node, "bool", f"{old} -> {new}", f.replaced(spans, new)))  # type: ignore[arg-type]
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) or \
                (isinstance(node, ast.Expr) and id(node) not in docs):
            line = f.lines[node.lineno - 1].strip()
            out.append((node, "remove", f"removed: {line[:60]}", f.replaced([f.span(node)], "pass")))
        elif isinstance(node, ast.Return) and node.value is not None:
            out.append((node, "remove", f"return {ast.unparse(node.value)[:50]} -> return None",
                        f.replaced([f.span(node.value)], "None")))
        if isinstance(node, (ast.If, ast.While, ast.IfExp)):
            a, b = f.span(node.test)
            out.append((node.test, "negate", f"{ast.unparse(node.test)[:50]} -> not (...)",
                        f.replaced([(a, b)], f"not ({f.text[a:b]})")))
    return out


def _constant_uses(f: _File) -> dict[int, list[int]]:
    """Module-level statement line -> the lines of the file that read the names it binds,
    for names no other firmware module or test names (those may be imported elsewhere:
    every test then counts). A module constant runs at import, under every test; what a
    change to it can alter is only the code that reads it."""
    others = " ".join(p.read_text(encoding="utf-8") for d in ("firmware", "tests")
                      for p in sorted((f.base / d).rglob("*.py")) if p != f.base / f.path)
    loads: dict[str, list[int]] = {}
    for node in ast.walk(f.tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loads.setdefault(node.id, []).append(node.lineno)
    out: dict[int, list[int]] = {}
    for stmt in f.tree.body:
        if isinstance(stmt, ast.Assign) and all(isinstance(t, ast.Name) for t in stmt.targets):
            names = [t.id for t in stmt.targets]       # type: ignore[attr-defined]
            if not any(re.search(rf"\b{n}\b", others) for n in names):
                out[stmt.lineno] = sorted({ln for n in names for ln in loads.get(n, [])})
    return out


def _scopes(tree: ast.AST) -> dict[int, str]:
    """Node -> the qualified name of the function or class it is in ("" at module level)."""
    out: dict[int, str] = {}

    def visit(node: ast.AST, name: str) -> None:
        for child in ast.iter_child_nodes(node):
            inner = name
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                inner = f"{name}.{child.name}" if name else child.name
            out[id(child)] = inner
            visit(child, inner)

    visit(tree, "")
    return out


def generate(paths: tuple[str, ...] = CORE, operators: tuple[str, ...] = OPERATORS, base: Path = REPO) -> list[Mutant]:
    mutants: list[Mutant] = []
    for path in paths:
        f = _File(base, path)
        uses = _constant_uses(f)
        scopes = _scopes(f.tree)
        stmt_line: dict[int, int] = {}
        for stmt in ast.walk(f.tree):          # outer statements first: inner ones overwrite
            if isinstance(stmt, ast.stmt):
                for sub in ast.walk(stmt):
                    stmt_line[id(sub)] = stmt.lineno
        seen: set[str] = set()
        for node, op, what, source in _mutations(f):
            if op not in operators or source in seen:
                continue
            try:
                same = ast.dump(ast.parse(source)) == ast.dump(f.tree)
            except SyntaxError:
                continue
            if same:
                continue
            seen.add(source)
            line = node.lineno                      # type: ignore[attr-defined]
            mutants.append(Mutant(len(mutants), path, line, node.end_lineno or line,  # type: ignore[attr-defined]
                                  stmt_line.get(id(node), line), op, what, source,
                                  uses=uses.get(stmt_line.get(id(node), line)), scope=scopes.get(id(node), "")))
    mutants.sort(key=lambda m: (m.path, m.line, m.op, m.what))
    for k, m in enumerate(mutants):
        m.id = k
    return mutants


# -- the worker: one per core, a forked child per run -------------------------------------

_SNAPSHOT = ("firmware", "tests", "pyproject.toml")
_IGNORE = shutil.ignore_patterns("__pycache__", ".hypothesis", ".pytest_cache")


def snapshot(src: Path, dest: Path) -> Path:
    """firmware/, tests/ and pyproject.toml as they are now, with dbc/ linked: a checkout
    keigov takes for the repository (KEIGOV_ROOT), which edits made to the working tree
    during the run do not reach."""
    dest = dest.resolve()
    for name in _SNAPSHOT:
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name, ignore=_IGNORE, symlinks=True)
        else:
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / name, dest / name)
    (dest / "dbc").symlink_to(REPO / "dbc")
    return dest


class _Recorder:
    """pytest plugin in the child: how long each test took, which failed; at the end of
    the session it writes them to `result` and ends the child at once (pytest's own
    teardown, garbage collection and all, is of no use to a process about to exit)."""

    def __init__(self, root: Path, result: Path, cov: Any = None) -> None:
        self.root = root
        self.result = result
        self.cov = cov
        self.durations: dict[str, float] = {}
        self.failed: list[str] = []

    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        if self.cov is not None:
            self.cov.switch_context(nodeid)

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.durations[report.nodeid] = self.durations.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.append(report.nodeid)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        loaded = {name: getattr(mod, "__file__", "") or "" for name, mod in sys.modules.items()
                  if name.startswith("core.")}
        foreign = sorted(n for n, p in loaded.items() if p and not p.startswith(str(self.root)))
        out: dict[str, Any] = {"rc": int(exitstatus), "durations": self.durations, "failed": self.failed,
                               "foreign": foreign}
        if self.cov is not None:
            self.cov.stop()
            data = self.cov.get_data()
            out["lines"] = {os.path.relpath(p, self.root): {str(k): sorted(v)
                                                            for k, v in data.contexts_by_lineno(p).items()}
                            for p in data.measured_files()}
        self.result.write_text(json.dumps(out))
        sys.stdout.flush()
        os._exit(0)


# pytest in the child: plugins named, not discovered (discovery costs more than the tests
# of a killed mutant); hypothesis's is the one the gate's tests need.
_PYTEST_ARGS = ["-x", "-p", "no:cacheprovider", "-p", "no:unraisableexception", "-p", "no:threadexception",
                "-p", "_hypothesis_pytestplugin", "--hypothesis-profile=mutation"]


def _child(root: Path, tests: list[str], result: Path, coverage_of: list[str] | None) -> None:
    """In the forked child: run pytest on the tests against the scratch firmware; the
    _Recorder writes what happened to `result`. Never returns."""
    try:
        os.chdir(root)
        log = os.open(result.with_suffix(".log"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        cov = None
        if coverage_of is not None:
            import coverage

            cov = coverage.Coverage(data_file=None, include=coverage_of)
            cov.start()
        pytest.main([*_PYTEST_ARGS, "--rootdir", str(root), *tests], plugins=[_Recorder(root, result, cov)])
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(3)       # only if the session never finished


def _run_child(root: Path, tests: list[str], result: Path, cover: list[str] | None,
               deadline: float) -> tuple[str, dict[str, Any]]:
    """Fork a child for one pytest run; kill it at the deadline. ("timeout" | "error", its result)."""
    result.unlink(missing_ok=True)
    pid = os.fork()
    if pid == 0:
        _child(root, tests, result, cover)
    while True:
        done, _status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", {}
        time.sleep(0.005)
    return "error", json.loads(result.read_text()) if result.exists() else {}


_PRELOAD = ("cantools", "can", "keigov.dbc.compile", "keigov.dbc.generated", "keigov.dbc.tables",
            "keigov.dbc.e2e", "keigov.zones", "keigov.zones.projection", "keigov.simboard.runtimes")


def worker(root_base: str, source: str) -> None:
    """Serve runs read from stdin as JSON lines; answer each on stdout. Each worker has its
    own copy of the snapshot `source` to write its mutants into."""
    base = Path(root_base)
    root = snapshot(Path(source), base / "repo")
    os.environ["KEIGOV_ROOT"] = str(root)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    sys.dont_write_bytecode = False     # the tests' rewritten bytecode is reused; the core's is not (below)
    # What every run needs and no mutant touches, imported once before the forks (only to
    # save time: a child imports whatever is missing).
    import _hypothesis_pytestplugin  # noqa: F401
    import hypothesis

    import keigov.paths

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    assert Path(keigov.paths.FIRMWARE) == root / "firmware", "keigov ignored KEIGOV_ROOT"
    assert not [m for m in sys.modules if m == "core" or m.startswith("core.")], "firmware imported before the fork"
    # Derandomized: the same examples for every mutant; no health check or deadline, which
    # two busy workers could trip on an unmutated test. Shrinking is left out: it only
    # makes a failure smaller, and a failure is all a mutant needs.
    hypothesis.settings.register_profile("mutation", derandomize=True, database=None, deadline=None,
                                         print_blob=False, suppress_health_check=list(hypothesis.HealthCheck),
                                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    caches = root / "firmware" / "core" / "__pycache__"
    out = sys.stdout
    for line in sys.stdin:
        job = json.loads(line)
        target = root / job["path"] if job.get("path") else None
        original = target.read_text(encoding="utf-8") if target else None
        if target:
            target.write_text(job["source"], encoding="utf-8")
        result = base / "result.json"
        cover = [str(root / p) for p in job["cover"]] if job.get("cover") else None
        start = time.monotonic()
        tests = job["tests"]
        while True:
            status, got = _run_child(root, tests, result, cover, start + job["timeout"])
            # pytest's 4 (usage) for test ids: a module named by them no longer imports.
            # Its file, collected, reports that as the collection error it is.
            if got.get("rc") != 4 or not any("::" in t for t in tests):
                break
            tests = list(dict.fromkeys(t.split("::", 1)[0] for t in tests))
        answer: dict[str, Any] = {"id": job["id"], "seconds": round(time.monotonic() - start, 2)}
        if status != "timeout" and got:
            answer |= got
            # pytest's 1: a test failed; 2: collection broke (the mutant fails at import).
            status = "survived" if got["rc"] == 0 else "killed" if got["rc"] in (1, 2) else "error"
        if status == "error":
            log = result.with_suffix(".log")
            answer["log"] = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        answer["status"] = status
        if target:
            target.write_text(original, encoding="utf-8")   # type: ignore[arg-type]
        # The mutated files' bytecode goes with them: a mutant with the same size and
        # timestamp as the one before would otherwise be taken for it.
        for path in caches.glob("*.pyc"):
            if any(path.name.startswith(Path(c).stem + ".") for c in CORE):
                path.unlink()
        out.write(json.dumps(answer) + "\n")
        out.flush()


class _Pool:
    """Worker subprocesses, each with its own scratch checkout, fed one job at a time."""

    def __init__(self, jobs: int, base: Path, source: Path) -> None:
        self.procs = []
        for k in range(jobs):
            d = base / f"w{k}"
            d.mkdir()
            self.procs.append(subprocess.Popen([sys.executable, __file__, "--worker", str(d), str(source)],
                                               stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, text=True, bufsize=1))

    def run(self, jobs: list[dict], progress: bool = False) -> list[dict]:
        """Run the jobs. Within a function, the test that killed the last mutant there runs
        first for the next: mutants of one function tend to die by the same test."""
        killers: dict[tuple[str, str], list[str]] = {}
        pending = list(reversed(jobs))
        by_id = {job["id"]: job for job in jobs}
        busy: dict[int, subprocess.Popen] = {}
        answers: list[dict] = []
        idle = list(self.procs)
        started = time.monotonic()
        while pending or busy:
            while pending and idle:
                p = idle.pop()
                job = pending.pop()
                first = killers.get((job.get("path", ""), job.get("scope", "")), [])
                job["tests"] = [t for t in first if t in job["tests"]] + [t for t in job["tests"] if t not in first]
                busy[job["id"]] = p
                p.stdin.write(json.dumps(job) + "\n")   # type: ignore[union-attr]
                p.stdin.flush()                         # type: ignore[union-attr]
            ready, _, _ = select.select([p.stdout for p in busy.values()], [], [])
            for stream in ready:
                line = stream.readline()
                if not line:
                    raise SystemExit("a mutation worker died")
                answer = json.loads(line)
                idle.append(busy.pop(answer["id"]))
                answers.append(answer)
                done = by_id[answer["id"]]
                if answer.get("status") == "killed" and answer.get("failed"):
                    key = (done.get("path", ""), done.get("scope", ""))
                    killer = answer["failed"][0].split("[", 1)[0]
                    killers[key] = [killer] + [t for t in killers.get(key, []) if t != killer][:4]
                if progress and len(answers) % 25 == 0:
                    rate = len(answers) / (time.monotonic() - started)
                    print(f"  {len(answers)}/{len(jobs)} done, {rate:.1f}/s", file=sys.stderr, flush=True)
        return answers

    def close(self) -> None:
        for p in self.procs:
            p.stdin.close()    # type: ignore[union-attr]
            p.wait()


# -- the run ---------------------------------------------------------------------------

def _function(nodeid: str) -> str:
    """A test function's id without its parameters: a mutant may change them (a constant
    used in a parametrize list), and the function's id selects whatever they become."""
    return nodeid.split("[", 1)[0]


def _tests_for(m: Mutant, lines: dict[str, dict[str, list[str]]], everything: list[str]) -> list[str]:
    """The test functions that execute the mutated lines; every one when a line runs only
    at import time (a module constant, a def or class line)."""
    by_line = lines.get(m.path, {})
    names: set[str] = set()
    for ln in m.uses or {m.stmt_line, *range(m.line, m.end_line + 1)}:
        contexts = by_line.get(str(ln), [])
        if "" in contexts:
            return everything
        names.update(_function(c) for c in contexts)
    return [t for t in everything if t in names] or everything


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("tests", nargs="*", help="the gate's test files")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--operators", default=",".join(OPERATORS), help="comma-separated subset of " + ",".join(OPERATORS))
    ap.add_argument("--files", default=",".join(CORE))
    ap.add_argument("--sample", type=int, default=0, help="run a random sample of this many mutants")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout-factor", type=float, default=4.0)
    ap.add_argument("--list", action="store_true", help="generate and count the mutants, run nothing")
    ap.add_argument("--only", default="", help="comma-separated mutant ids (from --list or the report) to run")
    ap.add_argument("--show", type=int, help="print one mutant's diff and exit")
    ap.add_argument("--report", type=Path, default=REPORT)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return 0
    operators = tuple(args.operators.split(","))
    files = tuple(args.files.split(","))
    if args.list or args.show is not None:
        mutants = generate(files, operators)
        if args.show is not None:
            m = mutants[args.show]
            sys.stdout.writelines(difflib.unified_diff((REPO / m.path).read_text().splitlines(keepends=True),
                                                       m.source.splitlines(keepends=True), m.path, f"mutant {m.id}"))
        else:
            for m in mutants:
                print(f"{m.id}: {m.path}:{m.line}: [{m.op}] {m.what}")
        return 0
    if not args.tests:
        ap.error("name the gate's test files")
    tests = [os.path.relpath(Path(t).resolve(), REPO) for t in args.tests]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="keigov-mutate-") as tmp:
        source = snapshot(REPO, Path(tmp) / "source")
        mutants = generate(files, operators, source)
        counts = {op: sum(m.op == op for m in mutants) for op in operators}
        print(f"{len(mutants)} mutants of {', '.join(files)}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        chosen = mutants
        if args.only:
            wanted = {int(k) for k in args.only.split(",")}
            chosen = [m for m in mutants if m.id in wanted]
        elif args.sample and args.sample < len(mutants):
            chosen = sorted(random.Random(args.seed).sample(mutants, args.sample), key=lambda m: m.id)
        pool = _Pool(args.jobs, Path(tmp), source)
        try:
            base = pool.run([{"id": -1, "tests": tests, "timeout": 600, "cover": list(files)}])[0]
            if base["status"] != "survived" or base.get("foreign"):
                print(f"the unmutated run failed ({base['status']}: {base.get('failed') or base.get('foreign')}"
                      f"{base.get('log', '')}); fix the tests first", file=sys.stderr)
                return 2
            durations: dict[str, float] = {}
            for nodeid, seconds in base["durations"].items():
                durations[_function(nodeid)] = durations.get(_function(nodeid), 0.0) + seconds
            everything = list(durations)
            print(f"unmutated: {len(base['durations'])} tests in {sum(durations.values()):.1f} s; "
                  f"running {len(chosen)} mutants on {args.jobs} workers")
            jobs = []
            for m in chosen:
                # Fastest first: a killed mutant usually fails in the first few.
                selected = sorted(_tests_for(m, base["lines"], everything), key=durations.__getitem__)
                timeout = 10 + args.timeout_factor * sum(durations[t] for t in selected)
                jobs.append({"id": m.id, "path": m.path, "scope": m.scope, "source": m.source, "tests": selected,
                             "timeout": timeout})
            answers = {a["id"]: a for a in pool.run(jobs, progress=True)}
        finally:
            pool.close()
    elapsed = time.monotonic() - started
    results = []
    for m in chosen:
        a = answers[m.id]
        if a.get("foreign"):
            raise SystemExit(f"mutant {m.id} ran against the repository's firmware, not the copy: {a['foreign']}")
        d = asdict(m)
        del d["source"]
        results.append(d | {"status": a["status"], "seconds": a["seconds"], "killed_by": (a.get("failed") or [None])[0]}
                       | ({"log": a.get("log", "")} if a["status"] == "error" else {}))
    tally = {s: sum(r["status"] == s for r in results) for s in ("killed", "survived", "timeout", "error")}
    rate = tally["survived"] / len(results) if results else 0.0
    summary = {"date": time.strftime("%Y-%m-%d"), "generated": len(mutants), "run": len(results),
               "sample": args.sample or None, "seed": args.seed if args.sample else None,
               "operators": list(operators), **tally, "survival_rate": round(rate, 4),
               "seconds": round(elapsed), "tests": tests}
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps({"summary": summary, "mutants": results}, indent=1))
    print("\nsurviving mutants:")
    for r in results:
        if r["status"] == "survived":
            print(f"  {r['path']}:{r['line']}: [{r['op']}] {r['what']}")
    if tally["error"]:
        print("errors (the run broke, e.g. at import):")
        for r in results:
            if r["status"] == "error":
                print(f"  {r['path']}:{r['line']}: [{r['op']}] {r['what']}")
    print(f"\n{len(results)} mutants run of {len(mutants)} generated: {tally['killed']} killed, "
          f"{tally['survived']} survived, {tally['timeout']} timed out, {tally['error']} errors; "
          f"survival rate {100 * rate:.1f} % in {elapsed / 60:.1f} min (report: {args.report})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
