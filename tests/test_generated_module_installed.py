"""A generated module decodes wherever keigov is installed, with nothing put on sys.path.

From the wheel, installed on its own (tests/conftest.py's `installed`), `keigov dbc
compile DBC --all -o m.py` runs in an empty folder; then `python -S -c "import m; ..."`,
with the installed copy as the only entry beyond the standard library, decodes frames of
keigov.dbc and of the CSS recordings' DBCs, and the values equal cantools'
decode_message(..., decode_choices=False).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import cantools
import pytest
from cantools.database.can import Message

from dbc_support import cantools_decode, device_id, same_values, sample_payloads
from keigov import paths
from wheelenv import keigov

DBCS = [paths.KEIGOV_DBC, *sorted(paths.SHARED_DATA.glob("*/*.dbc"))]

# Runs in the bare interpreter: decode every frame, report what was imported from where.
_DECODE = """
import json, sys
import m
import keigov
with open(sys.argv[1]) as f:
    frames = json.load(f)
print(json.dumps({"keigov": keigov.__file__, "path": sys.path, "modules": sorted(sys.modules),
                  "decoded": [m.decode(fid, bytes.fromhex(data)) for fid, data in frames]}))
"""


def _frames(db: cantools.database.can.Database, rng: random.Random) -> list[tuple[Message, int, bytes]]:
    """A few payloads of every message, its id as cantools gives it or as a board does
    (bit 29: the only form of an extended id below 0x800)."""
    out = []
    for msg in db.messages:
        for k, payload in enumerate(sample_payloads(msg, rng, 3)):
            plain = not msg.is_extended_frame or msg.frame_id > 0x7FF
            out.append((msg, msg.frame_id if plain and k % 2 else device_id(msg), payload))
    return out


@pytest.mark.parametrize("dbc", DBCS, ids=lambda p: p.name)
def test_a_compiled_module_decodes_like_cantools_from_the_installed_wheel(installed, tmp_path: Path,
                                                                          dbc: Path):
    _, target = installed
    out = keigov(target, tmp_path, "dbc", "compile", str(dbc), "--all", "-o", "m.py")
    assert out.returncode == 0, out.stderr
    db = cantools.database.load_file(str(dbc))
    frames = _frames(db, random.Random(dbc.name))
    (tmp_path / "frames.json").write_text(json.dumps([(fid, data.hex()) for _, fid, data in frames]))
    env = {k: v for k, v in os.environ.items() if k not in ("KEIGOV_ROOT", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    run = subprocess.run([sys.executable, "-S", "-c", _DECODE, "frames.json"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert Path(got["keigov"]).is_relative_to(target), "the installed keigov, not the checkout's"
    assert not {"core", "micropython", "cantools"} & set(got["modules"]), "self-contained: no firmware, no cantools"
    assert not [p for p in got["path"] if p and Path(p).resolve().is_relative_to(paths.FIRMWARE)]
    decoded = 0
    for (msg, _, data), values in zip(frames, got["decoded"], strict=True):
        expected = cantools_decode(db, msg.frame_id, data, extended=msg.is_extended_frame)
        assert same_values(expected, values), (dbc.name, msg.name, data.hex(), expected, values)
        decoded += values is not None
    assert decoded > len(frames) // 2
