"""The governor's fast path on the example vehicles: maps compile into RX/TX tables that
the unchanged Receiver and the Transmitter use, frames built by cantools (host packer)
decode into firmware units, and transmitted frames carry counters and checksums the host
reference accepts."""

from __future__ import annotations

import random
import subprocess

import cantools
import pytest

import fwenv  # noqa: F401  (puts firmware/ on sys.path)

from boards.ramcan import RamCan
from core import idmatch, roles
from core.events import EventLog
from core.idmatch import FrameIndex
from core.rx import ERR_CHECKSUM, Receiver
from core.tx import Transmitter
from dbc_support import MICROPYTHON
from keigov.dbc import layout
from keigov.dbc.checksums import BUILTIN
from keigov.dbc.compile import compile_map
from keigov.dbc.e2e import FramePacker, checksum
from keigov.dbc.generated import load_source
from keigov.paths import DBC_DIR, FIRMWARE

MAPS = DBC_DIR / "maps"
EXT = 0x20000000


def _table(name: str):
    return load_source(compile_map(MAPS / f"{name}.toml"), name)


def _feed(rx: Receiver, packer: FramePacker, name: str, values: dict, now: int, **kw) -> int:
    frame_id, data = packer.pack(name, values, **kw)
    ext = packer.message(name).is_extended_frame
    return rx.feed(frame_id | (EXT if ext else 0), bytearray(data), len(data), now)


EV_FRAMES = {
    "ABS_WHEEL_SPEEDS": {"WHEEL_FL": 12.34, "WHEEL_FR": 12.35, "WHEEL_RL": 12.3, "WHEEL_RR": 0.01},
    "VCU_VEHICLE": {"VEHICLE_SPEED": 45.67, "GEAR": 3, "BRAKE_PRESSED": 1, "READY": 1},
    "VCU_PEDAL": {"ACCEL_PEDAL": 37.5, "ACCEL_PEDAL_RAW_2": 37.4, "KICKDOWN": 0},
}


def test_ev_inputs_decode_into_firmware_units():
    rx = Receiver(_table("ev_mcu"), EventLog())
    packer = FramePacker.from_map(MAPS / "ev_mcu.toml")
    for now in (0, 10, 20):
        for name, values in EV_FRAMES.items():
            assert _feed(rx, packer, name, values, now) >= 0
    v = rx.values
    assert [v[roles.IN_WHEEL_FL], v[roles.IN_WHEEL_FR], v[roles.IN_WHEEL_RL], v[roles.IN_WHEEL_RR]] == \
        [1234, 1235, 1230, 1]
    assert v[roles.IN_VEHICLE_SPEED] == 4567
    assert v[roles.IN_PEDAL] == 375             # a unit-less DBC signal, "%" from the map
    assert v[roles.IN_BRAKE] == 1
    assert all(rx.valid)


def test_ev_transmits_limits_with_sum_checksum_and_constant():
    table = _table("ev_mcu")
    can = RamCan()
    tx = Transmitter(table, can)
    tx.values[roles.OUT_TORQUE_LIMIT] = 425
    tx.values[roles.OUT_SPEED_LIMIT] = 6437
    tx.values[roles.OUT_STATE] = 2
    db = cantools.database.load_file(str(DBC_DIR / "vehicles" / "ev_mcu.dbc"))
    msg = db.get_message_by_name("MCU_TORQUE_LIMIT")
    for now in (0, 10):
        tx.send_due(now)
        assert can.take_sent() == 1
        data = bytes(can.tx_data[:can.tx_len[0]])
        decoded = msg.decode(data, decode_choices=False)
        assert decoded["TORQUE_LIMIT_PCT"] == pytest.approx(42.5)
        assert decoded["VEHICLE_SPEED_LIMIT"] == pytest.approx(64.4)   # 0.1 km/h steps, rounded
        assert decoded["GOVERNOR_STATE"] == 2 and decoded["LIMIT_ENABLE"] == 1
        assert decoded["MCU_LIMIT_COUNTER"] == now // 10
        assert decoded["MCU_LIMIT_CHECKSUM"] == checksum(BUILTIN["sum8"], msg.frame_id, data, 7)
        assert table.decode(can.tx_id[0], data) == decoded       # the table's own physical API


def test_truck_tsc1_carries_torque_limit_counter_and_j1939_checksum():
    can = RamCan()
    tx = Transmitter(_table("j1939_truck"), can)
    tx.values[roles.OUT_TORQUE_LIMIT] = 500
    tx.values[roles.OUT_SPEED_LIMIT] = 6437
    db = cantools.database.load_file(str(DBC_DIR / "vehicles" / "j1939_truck.dbc"))
    tsc1 = db.get_message_by_name("TSC1")
    status = None
    for now in range(0, 40, 10):
        tx.send_due(now)
        sent = {can.tx_id[i]: bytes(can.tx_data[i * 64:i * 64 + can.tx_len[i]]) for i in range(can.take_sent())}
        status = sent.get(0x18FF5027 | EXT, status)             # every 100 ms
        data = sent[0x0C000027 | EXT]                            # from the map's source address 0x27
        d = tsc1.decode(data, decode_choices=False)
        assert (d["EngOverrideCtrlMode"], d["OverrideCtrlModePriority"], d["TSC1CtrlPurpose"]) == (3, 1, 3)
        assert d["EngRqedSpeed_SpeedLimit"] == 8031.875 and d["EngRqedTorque_TorqueLimit"] == 50
        assert d["MessageCounter"] == now // 10
        assert d["MessageChecksum"] == checksum(BUILTIN["j1939"], 0x0C000027, data, 7)
    decoded = db.get_message_by_name("PROPB_KEIGOV").decode(status)
    assert decoded["ActiveSpeedLimit"] == pytest.approx(64.37, abs=1 / 256)


def test_truck_vehicle_speed_and_pedal_from_j1939():
    rx = Receiver(_table("j1939_truck"), EventLog())
    packer = FramePacker.from_map(MAPS / "j1939_truck.toml")
    ccvs = {s.name: 0 for s in packer.message("CCVS1").signals} | {"WheelBasedVehicleSpeed": 88.5, "BrakeSwitch": 1}
    eec2 = {s.name: 0 for s in packer.message("EEC2").signals} | {"AccelPedalPos1": 62.4}
    for now in (0, 50, 100):
        assert _feed(rx, packer, "CCVS1", ccvs, now) >= 0
        assert _feed(rx, packer, "EEC2", eec2, now) >= 0
    assert rx.values[roles.IN_VEHICLE_SPEED] == 8850
    assert rx.values[roles.IN_PEDAL] == 624 and rx.values[roles.IN_BRAKE] == 1
    # 0xFFFF, J1939's "not available", is outside the DBC range: the frame is refused whole.
    frame_id, data = packer.pack("CCVS1", ccvs)
    raw = bytearray(data)
    raw[1] = raw[2] = 0xFF
    assert rx.feed(frame_id | EXT, raw, 8, 150) == -1


def test_truck_governs_on_its_single_speed_signal():
    """A bus without wheel speeds: CCVS1's speed drives the supervisor (median and
    plausibility need four wheels, so none apply), and losing it is a fault, not a
    silent fall back to nothing."""
    from boards.sim import SimWatchdog
    from core.app import Governor
    from core.config import Config
    from core.safety import FAULT, NORMAL

    can = RamCan()
    app = Governor(can, SimWatchdog(), _table("j1939_truck"), Config())
    packer = FramePacker.from_map(MAPS / "j1939_truck.toml")
    ccvs = {s.name: 0 for s in packer.message("CCVS1").signals} | {"WheelBasedVehicleSpeed": 30.0}
    eec2 = {s.name: 0 for s in packer.message("EEC2").signals} | {"AccelPedalPos1": 20.0}

    def send(name: str, values: dict) -> None:
        frame_id, data = packer.pack(name, values, source_address=0x0B)
        can.deliver(frame_id | EXT, data, len(data))

    now = 0
    for now in range(0, 500, 10):
        if now % 50 == 0:
            send("CCVS1", ccvs)
        send("EEC2", eec2)
        app.step(now)
    sup = app.safety
    assert (sup.state, sup.speed_source, sup.speed) == (NORMAL, 1, 3000)
    for later in range(now + 10, now + 600, 10):      # CCVS1 stops (timeout: 5 periods); the pedal goes on
        send("EEC2", eec2)
        app.step(later)
    assert sup.state == FAULT and sup.flags & (1 << roles.FLAG_SPEED_TIMEOUT)


def test_frame_index_matches_j1939_by_pgn():
    table = _table("j1939_truck")
    index = FrameIndex(table.RX_ID, table.RX_MATCH)
    assert index.find(0x18FEF100 | EXT) == 0
    assert index.find(0x0CFEF10B | EXT) == 0          # CCVS1 from the brakes, priority 3
    assert index.find(0x18FEF200 | EXT) == -1         # another PGN
    assert index.find(0x18FEF100) == -1               # not an extended frame


def test_the_host_decoder_finds_messages_as_the_firmware_index_does():
    """keigov.dbc.decode has its own id lookup (the host never imports the firmware): the
    same constants as core.idmatch, and the same message for every id in either form."""
    assert (layout.EXTENDED, layout.MATCH_EXACT, layout.MATCH_PGN) == \
        (idmatch.EXTENDED, idmatch.MATCH_EXACT, idmatch.MATCH_PGN)
    assert all(layout.pgn_key(i) == idmatch.pgn_key(i) for i in (0, 0x1CFEF1FE, 0x3FFFFFFF, 0x18EA00FE))
    rng = random.Random(11)
    for name in ("j1939_truck", "keigov", "ev_mcu"):
        table = _table(name)
        db, index = table._database(), FrameIndex(table._DB_MSG_ID, table._DB_MSG_MATCH)
        if name == "j1939_truck":
            assert layout.MATCH_PGN in table._DB_MSG_MATCH
        ids = [rng.getrandbits(11) for _ in range(200)] + [rng.getrandbits(29) | EXT for _ in range(200)]
        for fid in table._DB_MSG_ID:
            ids += [fid, fid & ~EXT, fid ^ 0xFF, fid ^ 0x100]
            ids += [(fid & ~0x1C0000FF) | rng.getrandbits(3) << 26 | rng.getrandbits(8) for _ in range(20)]
        for fid in ids:
            expected = index.find(fid | EXT if fid > 0x7FF else fid)
            assert db.find(fid) == expected, (name, hex(fid))
            assert (table.decode(fid, bytes(64)) is None) == (expected < 0), (name, hex(fid))


def test_receiver_matches_j1939_by_pgn():
    rx = Receiver(_table("j1939_truck"), EventLog())
    packer = FramePacker.from_map(MAPS / "j1939_truck.toml")
    ccvs = {s.name: 0 for s in packer.message("CCVS1").signals} | {"WheelBasedVehicleSpeed": 20}
    assert _feed(rx, packer, "CCVS1", ccvs, 0, source_address=0x0B) == 0


def test_receiver_checks_every_registry_scheme():
    rx = Receiver(_table("ev_mcu"), EventLog())
    packer = FramePacker.from_map(MAPS / "ev_mcu.toml")
    assert _feed(rx, packer, "VCU_VEHICLE", EV_FRAMES["VCU_VEHICLE"], 0) >= 0
    assert _feed(rx, packer, "VCU_VEHICLE", EV_FRAMES["VCU_VEHICLE"], 20, corrupt_checksum=True) == -1
    assert rx.error[1] == ERR_CHECKSUM


_TX_HEAP = """
import sys, micropython
sys.path.append(sys.argv[1])
import j1939_truck as table
from boards.ramcan import RamCan
from core.idmatch import FrameIndex
from core.tx import Transmitter
can = RamCan(tx_depth=64)
tx = Transmitter(table, can)
index = FrameIndex(table.RX_ID, table.RX_MATCH)
tx.values[0] = 500
micropython.heap_lock()
for now in range(0, 200, 10):
    tx.send_due(now)
    index.find(0x2CFEF10B)
    index.find(0x2CFEF20B)
micropython.heap_unlock()
print(can.take_sent(), bytes(can.tx_data[0:8]).hex())
"""


_ON_A_BOARD = """
import sys
sys.path.append(sys.argv[1])
import j1939_truck as table
try:
    table.decode(table._DB_MSG_ID[0], bytes(8))
    print("decoded")
except ImportError:
    print(len(table.RX_ID), len(table.TX_ID), "host-only")
"""


@pytest.mark.micropython
@pytest.mark.skipif(MICROPYTHON is None, reason="no micropython binary")
def test_a_generated_module_imports_on_a_board_where_decode_is_host_only(tmp_path):
    """A board imports the module for its RX_/TX_ tables; decode() would need keigov."""
    (tmp_path / "j1939_truck.py").write_text(compile_map(MAPS / "j1939_truck.toml"))
    (tmp_path / "run.py").write_text(_ON_A_BOARD)
    run = subprocess.run([MICROPYTHON, str(tmp_path / "run.py"), str(tmp_path)], cwd=FIRMWARE,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    rx, tx, verdict = run.stdout.split()
    assert int(rx) > 0 and int(tx) > 0 and verdict == "host-only"


@pytest.mark.micropython
@pytest.mark.skipif(MICROPYTHON is None, reason="no micropython binary")
def test_transmitter_and_frame_index_allocate_nothing_under_micropython(tmp_path):
    (tmp_path / "j1939_truck.py").write_text(compile_map(MAPS / "j1939_truck.toml"))
    (tmp_path / "run.py").write_text("import sys\nsys.path.insert(0, '.')\n" + _TX_HEAP)
    run = subprocess.run([MICROPYTHON, str(tmp_path / "run.py"), str(tmp_path)], cwd=FIRMWARE,
                         capture_output=True, text=True, timeout=30)
    assert run.returncode == 0, run.stdout + run.stderr
    sent, first = run.stdout.split()
    assert int(sent) == 20 + 2                          # TSC1 every 10 ms, the status every 100 ms
    tsc1 = cantools.database.load_file(str(DBC_DIR / "vehicles" / "j1939_truck.dbc")).get_message_by_name("TSC1")
    assert tsc1.decode(bytes.fromhex(first))["EngRqedTorque_TorqueLimit"] == 50


def test_a_1_hz_speed_source_is_given_time_to_be_trusted_at_start_up():
    """The CANedge map's vehicle speed is the CANmod.gps ground speed at 1 Hz. The receiver
    trusts a message after three good frames, up to 3 s at that rate: the start-up deadline
    follows the source (4 s) where the configured 1 s would fault every such drive at
    start-up. The device's tables are the ones `keigov replay` builds for that logger
    (the map's inputs and the pedal the replay supplies)."""
    from boards.sim import SimWatchdog
    from core.app import Governor
    from core.config import Config
    from core.safety import FAULT, INIT, NORMAL
    from keigov.replay.vehicle import VehicleSpec, build_vehicle

    vehicle = build_vehicle(VehicleSpec(MAPS / "canedge_gps.toml"))
    table = load_source(vehicle.source, "canedge_tables")
    speed_msg = vehicle.loaded.db.get_message_by_name("gnss_speed")
    speed_id = speed_msg.frame_id | (EXT if speed_msg.is_extended_frame else 0)
    speed_period = table.RX_PERIOD_MS[table.RX_ID.index(speed_id)]
    assert speed_period == 1000
    packer = FramePacker.from_map(DBC_DIR / "maps" / "keigov.toml")
    cfg = Config()
    assert cfg.init_timeout_ms == 1000

    def run(speed_frames: bool, until_ms: int) -> tuple[Governor, list[tuple[int, int]]]:
        can = RamCan()
        app = Governor(can, SimWatchdog(), table, cfg)
        states = []
        for now in range(0, until_ms, 10):
            if speed_frames and now % 1000 == 0:
                data = speed_msg.encode({s.name: 0 for s in speed_msg.signals} | {"Speed": 8.0})   # m/s
                can.deliver(speed_id, data, len(data))
            if now % 20 == 0:
                fid, data = packer.pack("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": 20.0, "BRAKE_SWITCH": 0})
                can.deliver(fid, data, len(data))
            app.step(now)
            if not states or states[-1][1] != app.safety.state:
                states.append((now, app.safety.state))
        return app, states

    app, states = run(speed_frames=True, until_ms=6000)
    assert states == [(0, INIT), (2000, NORMAL)], "the third 1 Hz frame makes the speed trusted: no fault"
    assert app.safety.speed == 2880          # 8 m/s in 0.01 km/h
    app, states = run(speed_frames=False, until_ms=6000)
    assert states == [(0, INIT), (4010, FAULT)], "a source that never comes still faults, at 4 periods of it"
    assert app.safety.flags & (1 << roles.FLAG_SPEED_TIMEOUT)
