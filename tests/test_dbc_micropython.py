"""The same generated tables decode and encode identically under MicroPython and CPython.

MicroPython runs core/dbcdecode.py's table loop; CPython its specialized functions (and,
checked here too, the table loop). Both are compared with cantools on the corpus.
"""

from __future__ import annotations

import random
import subprocess

import pytest

from dbc_support import MICROPYTHON, CORPUS, cantools_decode, compiled, device_id, same_values, sample_payloads
from keigov.dbc.compile import compile_messages
from keigov.dbc.generated import load_source
from keigov.paths import FIRMWARE

# Runs inside MicroPython: decode each frame, re-encode what decodes, print one line each.
_SCRIPT = """
import sys
sys.path.append(sys.argv[1])
sys.path.insert(0, ".")    # firmware/ is the working directory
def show(d):
    if d is None:
        return "None"
    return ";".join("%s:%s:%r" % (k, "f" if isinstance(d[k], float) else "i", d[k]) for k in sorted(d))
with open(sys.argv[2]) as f:
    for line in f:
        name, fid, hexdata = line.split()
        mod = __import__(name)
        data = bytes.fromhex(hexdata)
        d = mod.decode(int(fid), data)
        enc = "-"
        if d is not None:
            try:
                enc = mod.encode(int(fid), d).hex()
            except ValueError:
                enc = "ValueError"
        print(show(d), mod.last_error(), enc)
"""


def _parse(text: str) -> dict | None:
    if text == "None":
        return None
    out = {}
    for item in text.split(";") if text else []:
        name, kind, value = item.split(":", 2)
        out[name] = float(value) if kind == "f" else int(value)
    return out


def _frames():
    rng = random.Random(3)
    for dbc in CORPUS:
        db, _ = compiled(dbc)
        for msg in db.messages:
            for payload in sample_payloads(msg, rng, 6):
                yield dbc.stem, db, msg, payload


@pytest.mark.micropython
@pytest.mark.skipif(MICROPYTHON is None, reason="no micropython binary")
def test_micropython_decodes_and_encodes_like_cpython(tmp_path):
    frames = list(_frames())
    modules = {}
    for dbc in CORPUS:
        source = compile_messages([dbc], None)
        (tmp_path / f"{dbc.stem}.py").write_text(source)
        modules[dbc.stem] = load_source(source, dbc.stem)
    (tmp_path / "frames.txt").write_text("".join(f"{s} {device_id(m)} {p.hex()}\n" for s, _, m, p in frames))
    (tmp_path / "run.py").write_text(_SCRIPT)
    out = subprocess.run([MICROPYTHON, str(tmp_path / "run.py"), str(tmp_path), str(tmp_path / "frames.txt")],
                         cwd=FIRMWARE, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(frames)
    decoded = 0
    for (stem, db, msg, payload), line in zip(frames, lines):
        shown, error, encoded = line.rsplit(" ", 2)
        on_device = _parse(shown)
        mod = modules[stem]
        on_host = mod.decode(device_id(msg), payload)
        assert same_values(on_host, on_device), (msg.name, payload.hex(), on_host, on_device)
        assert same_values(cantools_decode(db, msg.frame_id, payload, extended=msg.is_extended_frame), on_device)
        assert int(error) == mod.last_error()
        if on_host is not None:
            decoded += 1
            try:
                host_encoded = mod.encode(device_id(msg), on_host).hex()
            except ValueError:
                host_encoded = "ValueError"
            assert encoded == host_encoded, (msg.name, payload.hex())
    assert decoded > len(frames) // 2


def test_cpython_table_loop_equals_specialized_functions():
    """Table loop, specialized functions with value lookups, and without (budget spent)."""
    rng = random.Random(5)
    specialized = 0
    for dbc in CORPUS:
        db, mod = compiled(dbc)
        source = compile_messages([dbc], None)
        loop, plain = load_source(source, "loop"), load_source(source, "plain")
        loop._database().specialize = False
        plain._database()._budget = 0
        for msg in db.messages:
            for payload in sample_payloads(msg, rng, 20):
                fid = device_id(msg)
                expected = loop.decode(fid, payload)
                assert same_values(expected, mod.decode(fid, payload))
                assert same_values(expected, plain.decode(fid, payload))
        assert not loop._database()._fast
        specialized += len(mod._database()._fast)
    assert specialized == sum(len(compiled(dbc)[0].messages) for dbc in CORPUS)
