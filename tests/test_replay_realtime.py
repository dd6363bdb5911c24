"""keigov replay --realtime: a log played onto a python-can bus at recorded timing and the
board's answers recorded. The board here is a stand-in on the virtual bus that commands
zero torque above 64 km/h (a real board runs the firmware); what is tested is the
playing, the pacing and the recording."""

from __future__ import annotations

import csv
import json
import threading
import time
import uuid

import can

from keigov import paths
from keigov.cli import main
from keigov.dbc.e2e import FramePacker
from keigov_hil.drivelog import DriveProfile, drive_frames, write_log

DRIVE = DriveProfile([(0, 60), (2, 70)], pedal_pct=50.0, other_ids=(0x123,))


class StandInBoard(threading.Thread):
    """Answers every DRIVER_INPUTS frame with a GOVERNOR_COMMAND for the latest wheel speed."""

    def __init__(self, channel: str) -> None:
        super().__init__(daemon=True)
        self.bus = can.Bus(interface="virtual", channel=channel)
        self.packer = FramePacker.from_map(paths.KEIGOV_MAP)
        self.stop = threading.Event()
        self.seen = 0

    def run(self) -> None:
        speeds = self.packer.message("WHEEL_SPEEDS")
        speed = 0.0
        while not self.stop.is_set():
            msg = self.bus.recv(timeout=0.05)
            if msg is None:
                continue
            self.seen += 1
            if msg.arbitration_id == speeds.frame_id:
                speed = speeds.decode(msg.data)["WHEEL_SPEED_FL"]
            elif msg.arbitration_id == 0x0C0:
                over = speed > 64.0
                command = {"TORQUE_LIMIT": 0 if over else 50, "SPEED_LIMIT": 64.4,
                           "COMMAND_STATE": 2 if over else 1, "REGEN_REQUEST": 0}
                fid, data = self.packer.pack("GOVERNOR_COMMAND", command)
                self.bus.send(can.Message(arbitration_id=fid, data=data, is_extended_id=False))
        self.bus.shutdown()


def test_play_at_recorded_timing_and_record_the_boards_answers(tmp_path):
    log = tmp_path / "drive.log"
    n = write_log(log, drive_frames(DRIVE))
    channel = f"keigov-rt-{uuid.uuid4().hex[:8]}"
    board = StandInBoard(channel)
    board.start()
    out = tmp_path / "out"
    t0 = time.perf_counter()
    try:
        status = main(["replay", str(log), "--map", str(paths.KEIGOV_MAP), "--realtime", "--interface", "virtual",
                       "--channel", channel, "--out", str(out), "--no-plot"])
    finally:
        board.stop.set()
        board.join(2)
    wall = time.perf_counter() - t0
    assert status == 0
    assert 2.0 <= wall < 6.0                              # paced: the drive lasts 2 s
    assert board.seen == n                                # every recorded frame reached the board
    received = (out / "received.log").read_text().splitlines()
    assert received and all(" 200#" in line for line in received)
    with (out / "timeline.csv").open() as f:
        rows = list(csv.DictReader(f))
    states = [(float(r["t_s"]), r["state"], float(r["speed_kph"])) for r in rows]
    assert {s for _t, s, v in states if v > 64.5} == {"LIMITING"}
    assert {s for t, s, v in states if 0.1 < t and v < 63.5} == {"NORMAL"}
    events = json.loads((out / "events.json").read_text())
    assert [e["value"] for e in events if e["name"] == "state_change"][-1] == 2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runtime"] == f"board on virtual:{channel}" and summary["frames_used"] > 150


def test_realtime_needs_a_channel(tmp_path, capsys):
    log = tmp_path / "drive.log"
    write_log(log, drive_frames(DRIVE))
    assert main(["replay", str(log), "--map", str(paths.KEIGOV_MAP), "--realtime", "--out", str(tmp_path / "o")]) == 2
    assert "give --interface and --channel" in capsys.readouterr().err
