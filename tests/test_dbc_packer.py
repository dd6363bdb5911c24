"""Compiled packers (keigov.dbc.packer) give cantools' payloads byte for byte.

The oracle is cantools' strict encode and its decode without choices: for every plain
message of the bundled and corpus DBCs, for random layouts, for physical values that need
rounding or lie just outside a range, and for whole protected frames (counters, checksums,
a corrupted checksum) against keigov.dbc.e2e.FramePacker.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import cantools
import pytest
from cantools.database.can import Message
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dbc_support import CORPUS, cantools_decode, cantools_encode
from keigov import paths
from keigov.dbc.e2e import FramePacker
from keigov.dbc.packer import MessagePacker, TablePacker
from test_dbc_random_layouts import layouts

DBCS = [paths.KEIGOV_DBC, *sorted((paths.DBC_DIR / "vehicles").glob("*.dbc")), *CORPUS]
MAPS = sorted((paths.DBC_DIR / "maps").glob("*.toml"))


def _plain(msg: Message) -> bool:
    return not (msg.is_multiplexed() or msg.is_container or any(s.is_float for s in msg.signals))


MESSAGES = [(dbc.name, msg) for dbc in DBCS
            for msg in cantools.database.load_file(str(dbc), strict=True).messages if _plain(msg)]


def _encode_or_none(packer: MessagePacker, values: dict) -> bytes | None:
    """The packer's payload (None where it refuses); its straight-line function must agree."""
    try:
        checked = packer.encode_checked(values)
    except ValueError:
        checked = None
    fast = packer.specialized(values)
    assert fast is None or fast == checked, (values, fast, checked)
    try:
        assert packer.encode(values) == checked
    except ValueError:
        assert checked is None
    return checked


def _decoded_random_payload(msg: Message, data: st.DataObject) -> dict:
    """cantools' values of random payload bytes (they may lie outside the signals' ranges)."""
    payload = data.draw(st.binary(min_size=msg.length, max_size=msg.length))
    values = cantools_decode(cantools.database.can.Database([msg]), msg.frame_id, payload,
                             extended=msg.is_extended_frame)
    assert values is not None
    return values


def test_every_bundled_dbc_has_compiled_messages() -> None:
    files = {name for name, _ in MESSAGES}
    assert {paths.KEIGOV_DBC.name, "ev_mcu.dbc", "j1939_truck.dbc", "layouts.dbc"} <= files
    assert len(MESSAGES) >= 30


@pytest.mark.parametrize("name, msg", MESSAGES, ids=[f"{n}:{m.name}" for n, m in MESSAGES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_decoded_payloads_encode_as_cantools(name: str, msg: Message, data: st.DataObject) -> None:
    values = _decoded_random_payload(msg, data)
    # Decoded values may lie outside [min, max]: then both must refuse them.
    expected = cantools_encode(msg, values)
    assert _encode_or_none(MessagePacker(msg), values) == expected
    if expected is not None:
        assert expected == msg.encode(values, strict=False)


@pytest.mark.parametrize("name, msg", MESSAGES, ids=[f"{n}:{m.name}" for n, m in MESSAGES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_physical_values_round_and_refuse_as_cantools(name: str, msg: Message, data: st.DataObject) -> None:
    values: dict[str, float] = {}
    for sig in msg.signals:
        scale = abs(sig.conversion.scale)
        raw_lo = -(1 << (sig.length - 1)) if sig.is_signed else 0
        ends = [raw_lo * sig.conversion.scale + sig.conversion.offset,
                (raw_lo + (1 << sig.length) - 1) * sig.conversion.scale + sig.conversion.offset]
        lo = sig.minimum if sig.minimum is not None else min(ends)
        hi = sig.maximum if sig.maximum is not None else max(ends)
        near_edge = st.sampled_from([lo, hi, lo - scale * 1e-6, hi + scale * 1e-6, lo - scale, hi + scale,
                                     lo + scale / 2, hi - scale / 2])
        values[sig.name] = data.draw(st.one_of(
            st.floats(float(min(lo, hi) - 2 * scale), float(max(lo, hi) + 2 * scale), allow_nan=False,
                      allow_infinity=False),
            near_edge, st.integers(math.floor(min(lo, hi)), math.ceil(max(lo, hi)))), label=sig.name)
    assert _encode_or_none(MessagePacker(msg), values) == cantools_encode(msg, values)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layout=layouts(), data=st.data())
def test_random_layouts_pack_as_cantools(layout: tuple[str, int], data: st.DataObject) -> None:
    text, _ = layout
    with tempfile.TemporaryDirectory() as tmp:
        dbc = Path(tmp) / "random.dbc"
        dbc.write_text(text)
        db = cantools.database.load_file(str(dbc), strict=True)
    msg = db.messages[0]
    assume(_plain(msg))
    payload = data.draw(st.binary(min_size=msg.length, max_size=msg.length))
    values = cantools_decode(db, msg.frame_id, payload, extended=msg.is_extended_frame)
    assert _encode_or_none(MessagePacker(msg), values) == cantools_encode(msg, values), text


def test_missing_unknown_and_non_numeric_values_are_refused() -> None:
    msg = cantools.database.load_file(str(paths.KEIGOV_DBC), strict=True).get_message_by_name("DRIVER_INPUTS")
    packer = MessagePacker(msg)
    good = {s.name: 0 for s in msg.signals}
    assert packer.encode(good) == msg.encode(good)
    for bad in ({k: v for k, v in good.items() if k != "BRAKE_SWITCH"}, {**good, "NOT_A_SIGNAL": 1},
                {**good, "BRAKE_SWITCH": "on"}, {**good, "ACCEL_PEDAL_POS": 100.1}):
        with pytest.raises(ValueError, match="DRIVER_INPUTS"):
            packer.encode(bad)


def test_multiplexed_and_float_messages_are_not_compiled() -> None:
    for dbc in ("multiplex.dbc", "floats.dbc"):
        msg = cantools.database.load_file(str(paths.ROOT / "tests" / "dbc_corpus" / dbc), strict=True).messages[0]
        with pytest.raises(ValueError, match=msg.name):
            MessagePacker(msg)


@pytest.mark.parametrize("smap", MAPS, ids=[m.stem for m in MAPS])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_protected_frames_equal_the_cantools_packer(smap: Path, data: st.DataObject) -> None:
    """Same frame sequence, counters and checksums (also a corrupted one) as FramePacker."""
    oracle = FramePacker.from_map(smap)
    packer = TablePacker(oracle.db, oracle.protection, oracle.schemes)
    names = sorted(n for n in oracle.protection if _plain(oracle.message(n)))
    assert names
    for _ in range(6):
        name = data.draw(st.sampled_from(names))
        msg = oracle.message(name)
        spec = oracle.protection[name]
        values = {}
        for sig in msg.signals:
            if sig.name in (spec.get("counter"), spec.get("checksum")):
                continue
            lo = sig.minimum if sig.minimum is not None else 0
            hi = sig.maximum if sig.maximum is not None else lo
            values[sig.name] = data.draw(st.floats(lo, hi) if sig.conversion.scale != 1 else st.integers(
                math.ceil(lo), math.floor(hi)))
        kw = {"corrupt_checksum": data.draw(st.booleans())}
        if data.draw(st.booleans()):
            kw["counter"] = data.draw(st.integers(0, 255))
        assert packer.pack(name, values, **kw) == oracle.pack(name, values, **kw), (name, values, kw)
    assert packer.counters == oracle.counters


WITH_SIGNALS = [(n, m) for n, m in MESSAGES if m.signals]


@pytest.mark.parametrize("name, msg", WITH_SIGNALS, ids=[f"{n}:{m.name}" for n, m in WITH_SIGNALS])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_replacing_one_signal_equals_encoding_again(name: str, msg: Message, data: st.DataObject) -> None:
    decoded = _decoded_random_payload(msg, data)
    values = {s.name: min(max(decoded[s.name], s.minimum if s.minimum is not None else -math.inf),
                          s.maximum if s.maximum is not None else math.inf) for s in msg.signals}
    packer = MessagePacker(msg)
    assume(_encode_or_none(packer, values) is not None)
    sig = data.draw(st.sampled_from(msg.signals))
    lo = -(1 << (sig.length - 1)) if sig.is_signed else 0
    raw = data.draw(st.integers(lo - 2, lo + (1 << sig.length) + 1))
    value = raw * sig.conversion.scale + sig.conversion.offset
    expected = cantools_encode(msg, {**values, sig.name: value})
    try:
        got = packer.replace(packer.encode(values), sig.name, value)
    except ValueError:
        got = None
    assert got == expected
