"""core.tx.Transmitter against cantools: what goes on the bus is what the firmware meant.

The expected physical value of every output signal comes from the host's role table and
unit factors (keigov.dbc.roles) and the DBC, never from the compiled table.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness as fh

from boards.ramcan import RamCan
from core import roles
from core.tx import Transmitter
from keigov.dbc import roles as host_roles
from keigov.dbc.e2e import crc8_j1850
from keigov.dbc.tables import load_map
from keigov.paths import KEIGOV_MAP
from tables import keigov_bus as T

SMAP = load_map(KEIGOV_MAP)
DB = fh.packer().db


def sent_frames(tx: Transmitter, can: RamCan, now: int) -> dict[str, dict[str, float]]:
    tx.send_due(now)
    out = {}
    for i in range(can.take_sent()):
        data = bytes(can.tx_data[i * 64: i * 64 + can.tx_len[i]])
        msg = DB.get_message_by_frame_id(can.tx_id[i])
        spec = SMAP.messages.get(msg.name, {})
        if "checksum" in spec:
            byte = msg.get_signal_by_name(spec["checksum"]).start // 8
            assert data[byte] == crc8_j1850(msg.frame_id, data, byte)
        out[msg.name] = msg.decode(data, decode_choices=False)
    return out


output_values = st.fixed_dictionaries({
    roles.OUT_TORQUE_LIMIT: st.integers(-100, 1100),
    roles.OUT_SPEED_LIMIT: st.integers(-100, 30000),
    roles.OUT_STATE: st.integers(0, 7),
    roles.OUT_ZONE: st.integers(0, 300),
    roles.OUT_VEHICLE_SPEED: st.integers(0, 70000),
    roles.OUT_ODOMETER_DAM: st.integers(0, 1 << 25),
    roles.OUT_EVENT_COUNT: st.integers(0, 255),
    roles.OUT_LOOP_TIME_MAX: st.integers(0, 100000),
    roles.OUT_REGEN_REQUEST: st.integers(-100, 1100),
    roles.OUT_ACTIVE_LIMIT: st.integers(-100, 30000),
    roles.OUT_FLAGS: st.integers(0, (1 << 15) - 1),
})


@settings(max_examples=200, deadline=None)
@given(values=output_values)
def test_outputs_encode_to_their_physical_values_saturating_at_the_dbc_range(values):
    can = RamCan()
    tx = Transmitter(T, can)
    for slot, v in values.items():
        tx.values[slot] = v
    frames = sent_frames(tx, can, 0)
    assert set(frames) == {DB.get_message_by_frame_id(f).name for f in T.TX_ID}
    for role_name, targets in SMAP.outputs.items():
        role = host_roles.OUTPUTS[role_name]
        for target in targets:
            m, _, s = target.partition(".")
            sig = DB.get_message_by_name(m).get_signal_by_name(s)
            got = frames[m][s]
            if role.ids[0] >= roles.FLAG_BASE:
                assert got == (values[roles.OUT_FLAGS] >> (role.ids[0] - roles.FLAG_BASE)) & 1, target
                continue
            factor = host_roles.unit_factor(role.unit, sig.unit or "")
            want = Fraction(values[role.ids[0]]) / factor       # physical, DBC unit
            lo, hi = Fraction(str(sig.minimum)), Fraction(str(sig.maximum))
            want = min(max(want, lo), hi)
            half_step = Fraction(str(sig.scale)) / 2
            assert abs(Fraction(str(got)) - want) <= half_step + Fraction(1, 10**9), target


def test_messages_go_out_at_their_cycle_times_with_rolling_counters():
    can = RamCan()
    tx = Transmitter(T, can)
    counts: dict[str, list[int]] = {}
    for now in range(0, 2000, fh.PERIOD_MS):
        for name, signals in sent_frames(tx, can, now).items():
            spec = SMAP.messages.get(name, {})
            counts.setdefault(name, []).append(signals[spec["counter"]] if "counter" in spec else now)
    assert {n: len(c) for n, c in counts.items()} == {
        "GOVERNOR_COMMAND": 100, "GOVERNOR_STATUS": 20, "GOVERNOR_TELEMETRY": 2}
    for name in ("GOVERNOR_COMMAND", "GOVERNOR_STATUS"):
        assert counts[name] == [k % 16 for k in range(len(counts[name]))], name
