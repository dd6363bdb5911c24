"""The firmware's table-driven checksums equal the host's bit-by-bit references.

Every scheme of the registry (and map-defined CRC-8s) on random frames; the firmware
computes allocation-free under MicroPython.
"""

from __future__ import annotations

import ast
import subprocess
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fwenv  # noqa: F401  (puts firmware/ on sys.path)

from core.checksums import Checksums
from dbc_support import MICROPYTHON
from keigov.dbc import checksums
from keigov.dbc.e2e import checksum, checksum_function
from keigov.paths import FIRMWARE

CUSTOM = checksums.custom_scheme("vehicle_crc", {"algorithm": "crc8", "poly": 0x07, "init": 0x00, "xorout": 0x55,
                                                 "data_id": "id_low_byte"})
SCHEMES = checksums.table_schemes([*checksums.BUILTIN.values(), CUSTOM])
TABLE = SimpleNamespace(**checksums.columns(SCHEMES))


@settings(max_examples=300, deadline=None)
@given(kind=st.integers(1, len(SCHEMES) - 1), frame_id=st.integers(0, 0x1FFFFFFF), extended=st.booleans(),
       data=st.binary(min_size=1, max_size=64), skip_at=st.integers(0, 63))
def test_firmware_equals_reference(kind, frame_id, extended, data, skip_at):
    skip = skip_at % len(data)
    device_id = frame_id | (0x20000000 if extended else 0)
    expected = checksum(SCHEMES[kind], frame_id, data, skip)
    assert Checksums(TABLE).compute(kind, device_id, bytearray(data), len(data), skip) == expected


@settings(max_examples=300, deadline=None)
@given(kind=st.integers(1, len(SCHEMES) - 1), frame_id=st.integers(0, 0x1FFFFFFF),
       data=st.binary(min_size=1, max_size=64), skip_at=st.integers(0, 63), whole=st.booleans())
def test_the_host_s_precomputed_checksum_equals_the_reference(kind, frame_id, data, skip_at, whole):
    # The rig's packers and its motor controller use checksum_function. A CRC may also
    # cover the whole payload (no checksum byte in it: skip -1), as checksum() allows.
    # With the payload's length given, a CRC is one expression for that length; another
    # length (a frame of the wrong DLC reaching a checker) takes the loop.
    skip = -1 if whole and SCHEMES[kind].algorithm == "crc8" else skip_at % len(data)
    expected = checksum(SCHEMES[kind], frame_id, data, skip)
    assert checksum_function(SCHEMES[kind], frame_id, skip)(data) == expected
    assert checksum_function(SCHEMES[kind], frame_id, skip, len(data))(data) == expected
    assert checksum_function(SCHEMES[kind], frame_id, skip, len(data) + 1)(data) == expected


def test_known_values():
    """Check values of the textbook CRCs over "123456789" (no data id, nothing skipped)."""
    data = b"123456789X"
    by_name = {s.name: k for k, s in enumerate(SCHEMES)}
    fw = Checksums(TABLE)
    assert fw.compute(by_name["crc8_j1850"], 0, data, 10, 9) == 0x4B       # CRC-8/SAE-J1850
    assert fw.compute(by_name["crc8_autosar"], 0, data, 10, 9) == 0xDF     # CRC-8/AUTOSAR
    assert fw.compute(by_name["xor"], 0, b"\x01\x02\x04\xFF", 4, 3) == 0x07
    assert fw.compute(by_name["sum8"], 0, b"\xF0\x20\x01\xFF", 4, 3) == 0x11


def test_j1939_checksum_of_a_tsc1_frame():
    """J1939-71: bytes 1-7 + counter nibble + the id's 4 bytes, folded to 4 bits."""
    data = bytes([0xFF, 0xFF, 0xFF, 0x7D, 0xF8, 0xFF, 0xFF, 0x03])     # counter 3 in the low nibble
    total = sum(data[:7]) + 3 + 0x0C + 0x00 + 0x00 + 0x27
    expected = ((total >> 4) + total) & 0x0F
    k = SCHEMES.index(checksums.BUILTIN["j1939"])
    assert Checksums(TABLE).compute(k, 0x0C000027 | 0x20000000, data, 8, 7) == expected
    assert checksum(checksums.BUILTIN["j1939"], 0x0C000027, data, 7) == expected


def test_table_without_columns_keeps_the_keigov_scheme():
    fw = Checksums(SimpleNamespace())
    data = bytes(range(8))
    assert fw.compute(1, 0xB0, data, 8, 7) == checksum(checksums.BUILTIN["crc8_j1850_id"], 0xB0, data, 7)


@pytest.mark.parametrize("spec,reason", [
    ({"algorithm": "crc16"}, "algorithm"),
    ({"algorithm": "crc8"}, "polynomial"),
    ({"algorithm": "crc8", "poly": 0x1D, "init": 256}, "init"),
    ({"algorithm": "xor", "data_id": "full_id"}, "data_id"),
    ({"algorithm": "xor", "seed": 1}, "unknown keys"),
])
def test_bad_custom_schemes_say_why(spec, reason):
    with pytest.raises(ValueError, match=reason):
        checksums.custom_scheme("x", spec)




@pytest.mark.micropython
@pytest.mark.skipif(MICROPYTHON is None, reason="no micropython binary")
def test_compute_allocates_nothing_under_micropython():
    cols = checksums.columns(SCHEMES)
    script = "\n".join([
        "import micropython",
        "from core.checksums import Checksums",
        "class T: pass",
        "t = T()",
        *[f"t.{name} = {tuple(values)!r}" for name, values in cols.items()],
        "c = Checksums(t)",
        "buf = bytearray(range(64))",
        "out = bytearray(%d)" % len(SCHEMES),
        "micropython.heap_lock()",
        "for k in range(1, %d):" % len(SCHEMES),
        "    out[k] = c.compute(k, 0x2C000027, buf, 64, 7)",
        "micropython.heap_unlock()",
        "print(list(out))",
    ])
    run = subprocess.run([MICROPYTHON, "-c", script], cwd=FIRMWARE, capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    expected = [0] + [checksum(s, 0x0C000027, bytes(range(64)), 7) for s in SCHEMES[1:]]
    assert ast.literal_eval(run.stdout.strip()) == expected
