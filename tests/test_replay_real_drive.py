"""Real recordings through the firmware (CSS Electronics, MIT; keigov.paths.SHARED_DATA):
10 minutes of a CANedge logger with a CANmod.gps module on Danish roads, replayed as a
CANedge user would (the .MF4, its DBC and a signal map), and a parked J1939 truck.

The bus has no pedal and no wheel speeds: the CANmod.gps ground speed is the vehicle
speed (1 Hz) and the replay supplies the pedal; the GNSS goes through the map's
[gateway]. What the firmware makes of it is the finding this test pins down: it limits
whenever the car is above 40 mph, it starts without a fault (a 1 Hz speed needs three
frames to be trusted, and the start-up deadline follows the source's rate), and it
faults twice: at two 3-second gaps in the module's messages (longer than the 2.5-period
timeout).
"""

from __future__ import annotations

import csv
import itertools
import json

import pytest

from fwenv import micropython_binary

from keigov import paths
from keigov.cli import main
from keigov.replay.drive import Drive, DriveReader
from keigov.replay.frames import EXTENDED, Selection

can = pytest.importorskip("can")
pytest.importorskip("asammdf")

DATA = paths.SHARED_DATA / "css-canedge-gps-drive"
LOG = DATA / "00000002-60FE415D.MF4"
pytestmark = pytest.mark.skipif(not LOG.exists(), reason="no shared recordings")
RUNTIME = "micropython" if micropython_binary() else "cpython"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("canedge")
    status = main(["replay", str(LOG), "--dbc", str(DATA / "canmod-gps.dbc"), "--map",
                   str(paths.DBC_DIR / "maps" / "canedge_gps.toml"), "--out", str(out), "--runtime", RUNTIME])
    return status, out, json.loads((out / "summary.json").read_text()), json.loads((out / "events.json").read_text())


def test_the_mf4_reader_agrees_with_python_can():
    reader = DriveReader(Drive("d", (LOG,)), Selection(lambda fid: True))
    reader.start()
    ours = list(itertools.islice(reader.frames(), 5000))
    theirs = [(m.timestamp, m.arbitration_id | (EXTENDED if m.is_extended_id else 0), bytes(m.data), m.channel)
              for m in itertools.islice(can.LogReader(str(LOG)), 5000)]
    assert ours == theirs


def test_the_drive_replays_with_its_own_gnss(run):
    status, out, summary, events = run
    assert status == 1                                 # checks failed: the faults below
    assert summary["gnss"] == "gateway" and summary["frames_read"] == 73785
    assert summary["frames_used"] == 571               # the CANmod.gps speed, the one input on this bus
    assert summary["frames_supplied"] > 40000          # GNSS at 10 Hz, pedal at 50 Hz
    assert abs(summary["sim_seconds"] - 600) < 1 and summary["distance_km"] > 11
    fixes = [e["position"] for e in events if "position" in e]
    assert fixes and all(55 < p["lat"] < 58 and 8 < p["lon"] < 13 for p in fixes)     # Denmark
    with (out / "track.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 571
    assert (out / "report.png").stat().st_size > 10000


def test_the_governor_limits_above_the_cap_and_rides_through_the_gaps(run):
    _status, out, summary, events = run
    checks = {c["name"]: c for c in summary["checks"]}
    assert checks["torque_limited"]["verdict"] == "pass"
    assert summary["seconds_over_cap"] > 400 and summary["limit_engaged"] >= 3
    # The log's two ~3 s gaps time the 10 Hz GNSS out, but not the 1 Hz speed (5 periods):
    # no FAULT, the car is not lost for a gap it can ride through.
    faults = [e["t_s"] for e in events if e["name"] == "fault_entered"]
    assert faults == [], faults
    starts = [e for e in events if e["name"] == "state_change"]
    assert starts[0]["value"] == 1 and starts[0]["t_s"] < 3.5, "NORMAL once the third 1 Hz speed frame is in"
    timeouts = {(e["message"], round(e["t_s"])) for e in events if e["name"] == "input_invalid"}
    assert ("GNSS_FIX_LAT", 349) in timeouts and ("GNSS_FIX_LAT", 450) in timeouts
    with (out / "timeline.csv").open() as f:
        rows = list(csv.DictReader(f))
    over = [r for r in rows if float(r["speed_kph"]) > 66 and r["state"] != "FAULT"]
    assert over and all(float(r["torque_limit_pct"]) < float(r["pedal_pct"]) for r in over)


TRUCK = paths.SHARED_DATA / "css-j1939-truck" / "00000001.MF4"


@pytest.mark.skipif(not TRUCK.exists(), reason="no shared recordings")
def test_a_j1939_truck_replays_by_parameter_group(tmp_path):
    """127 s of a parked truck: its CCVS1 and EEC2 come from source address 0x00 with other
    priorities than the map's DBC says; the device matches them by PGN and runs NORMAL."""
    reader = DriveReader(Drive("d", (TRUCK,)), Selection(lambda fid: True))
    reader.start()
    ours = list(itertools.islice(reader.frames(), 3000))
    theirs = [(m.timestamp, m.arbitration_id | (EXTENDED if m.is_extended_id else 0), bytes(m.data), m.channel)
              for m in itertools.islice(can.LogReader(str(TRUCK)), 3000)]
    assert ours == theirs                       # an unfinalized MF4 too
    out = tmp_path / "truck"
    assert main(["replay", str(TRUCK), "--map", str(paths.DBC_DIR / "maps" / "j1939_truck.toml"), "--out", str(out),
                 "--runtime", RUNTIME, "--no-plot"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_read"] == 57849 and 3000 < summary["frames_used"] < 5000
    events = json.loads((out / "events.json").read_text())
    assert {e["message"] for e in events if e["name"] == "input_recovered"} == {"CCVS1", "EEC2"}
    assert [e["value"] for e in events if e["name"] == "state_change"] == [1]        # NORMAL, and no fault
