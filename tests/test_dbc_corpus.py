"""Differential tests: every message of the corpus decodes and encodes as cantools does.

The corpus (tests/dbc_corpus/) covers Motorola signals crossing bytes, 64-bit signals,
negative and fractional scales, offsets, float and double, simple and extended
multiplexing (multiplexers of multiplexers), CAN FD up to 64 bytes, extended ids and
out-of-range choices.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dbc_support import CORPUS, cantools_decode, cantools_encode, compiled, device_id, payloads, same_values

ERR_UNKNOWN_ID, ERR_LENGTH, ERR_MULTIPLEXER = 1, 2, 3
_COMPILED = {dbc.name: compiled(dbc) for dbc in CORPUS}
CASES = [(name, msg.name) for name, (db, _mod) in _COMPILED.items() for msg in db.messages]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _case(dbc: str, message: str):
    db, mod = _COMPILED[dbc]
    return db, mod, db.get_message_by_name(message)


def test_corpus_covers_every_feature():
    messages = [m for db, _ in _COMPILED.values() for m in db.messages]
    signals = [s for m in messages for s in m.signals]
    assert any(m.length == 64 and m.is_extended_frame for m in messages)
    assert any(s.length == 64 and s.byte_order == "big_endian" and s.is_signed for s in signals)
    assert any(s.byte_order == "big_endian" and s.start % 8 < s.length - 1 for s in signals)
    assert any(s.scale < 0 for s in signals) and any(s.is_float and s.length == 64 for s in signals)
    assert any(s.multiplexer_signal and s.is_multiplexer for s in signals)   # multiplexer of a multiplexer
    assert any(len(s.multiplexer_ids or []) > 1 for s in signals)           # SG_MUL_VAL_ ranges


@pytest.mark.parametrize("dbc,message", CASES)
@FAST
@given(data=st.data())
def test_decode_equals_cantools(dbc, message, data):
    db, mod, msg = _case(dbc, message)
    payload = data.draw(payloads(msg))
    ext = msg.is_extended_frame
    expected = cantools_decode(db, msg.frame_id, payload, extended=ext)
    got = mod.decode(device_id(msg), payload)
    assert same_values(expected, got), (payload.hex(), expected, got)
    if got is None:
        assert mod.last_error() == ERR_MULTIPLEXER
    longer = mod.decode(device_id(msg), payload + b"\xAA\x55")        # cantools ignores excess bytes
    assert same_values(cantools_decode(db, msg.frame_id, payload + b"\xAA\x55", extended=ext), longer)


@pytest.mark.parametrize("dbc,message", CASES)
@FAST
@given(data=st.data())
def test_encode_equals_cantools_and_round_trips(dbc, message, data):
    db, mod, msg = _case(dbc, message)
    values = cantools_decode(db, msg.frame_id, data.draw(payloads(msg)), extended=msg.is_extended_frame)
    if values is None:
        return
    expected = cantools_encode(msg, values)
    if expected is None:                  # a random raw value outside the DBC's [min|max]
        with pytest.raises(ValueError):
            mod.encode(device_id(msg), values)
        return
    payload = mod.encode(device_id(msg), values)
    assert payload == expected
    assert same_values(values, mod.decode(device_id(msg), payload))


@pytest.mark.parametrize("dbc,message", CASES)
def test_short_frame_is_invalid_not_an_exception(dbc, message):
    _db, mod, msg = _case(dbc, message)
    for n in range(msg.length):
        assert mod.decode(device_id(msg), bytes(n)) is None
        assert mod.last_error() == ERR_LENGTH


def test_unknown_id_is_none():
    db, mod = _COMPILED["layouts.dbc"]
    assert mod.decode(0x7FF, bytes(8)) is None and mod.last_error() == ERR_UNKNOWN_ID
    assert mod.decode(0x10, bytes(8)) is not None


def test_extended_id_forms():
    """A 29-bit id decodes given as cantools gives it or with the boards' bit 29."""
    db, mod = _COMPILED["canfd_ext.dbc"]
    ccvs = db.get_message_by_name("CCVS1_LIKE")
    assert mod.decode(ccvs.frame_id, bytes(8)) == mod.decode(ccvs.frame_id | 0x20000000, bytes(8)) is not None
    low = db.get_message_by_name("EXT_LOW_ID")       # extended id 0x200: only the flagged form names it
    assert mod.decode(0x200 | 0x20000000, bytes(8)) == {"LOW_ID_VALUE": 0}
    assert mod.decode(low.frame_id, bytes(8)) is None


@pytest.mark.parametrize("name,values", [
    ("MOTOROLA_CROSSING", {"M_13_ACROSS_2": 8192, "M_SIGNED_11": 0, "M_24_ACROSS_4": 0, "M_3_IN_LAST": 0}),
    ("INTEL_ODD", {"I_1": 0, "I_7_SIGNED": -65, "I_17_ACROSS_3": 100, "I_SIGNED_NEG_SCALE": 0, "I_TOP": 0}),
    ("EMPTY_RANGE", {"NO_RANGE": 7 * 65536}),          # no [min|max]: only the field width limits it
    ("FLOAT_UNALIGNED", {"LEAD": 0, "F32_AT_4": 1000.5}),
])
def test_out_of_range_is_rejected_naming_the_signal(name, values):
    db, mod = next(c for c in _COMPILED.values() if name in [m.name for m in c[0].messages])
    msg = db.get_message_by_name(name)
    assert cantools_encode(msg, values) is None
    bad = next(k for k, v in values.items() if v)
    with pytest.raises(ValueError, match=bad):
        mod.encode(msg.frame_id, values)


def test_encode_accepts_out_of_range_choices_like_cantools():
    """J1939 style: 254 'ERROR' lies outside [0|3] yet is a valid value to send."""
    db, mod = _COMPILED["canfd_ext.dbc"]
    msg = db.get_message_by_name("FD_48_CHOICES")
    values = {"STATE": 254, "PCT": 100.4, "TAIL": 0}
    assert mod.encode(msg.frame_id, values) == cantools_encode(msg, values) is not None
    values["STATE"] = 200
    with pytest.raises(ValueError, match="STATE"):
        mod.encode(msg.frame_id, values)


def test_encode_needs_exactly_the_selected_signals():
    db, mod = _COMPILED["multiplex.dbc"]
    msg = db.get_message_by_name("SIMPLE_MUX")
    with pytest.raises(ValueError, match="PAGE0_B"):
        mod.encode(msg.frame_id, {"MUX": 0, "COMMON": 1, "PAGE0_A": 1.5})
    with pytest.raises(ValueError, match="PAGE1_A"):
        mod.encode(msg.frame_id, {"MUX": 0, "COMMON": 1, "PAGE0_A": 1.5, "PAGE0_B": 2, "PAGE1_A": 3})
    with pytest.raises(ValueError, match="MUX"):
        mod.encode(msg.frame_id, {"MUX": 7, "COMMON": 1})
