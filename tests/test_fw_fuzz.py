"""An independent fuzz of the firmware's receive path, closed-loop (issue 14's acceptance).

Each attack mode drives the real core.app.Governor for ~31 s of simulated time with the
driver's pedal at 100 %, so believing a low speed would take the car far over the 40 mph
cap. The limits are the issue's, measured on the plant's TRUE speed (tests/fuzz_support.py):
no exception; no torque while more than 2 km/h over the cap from 3 s after first getting
there; at most 2 km/h over the cap after the first 3 s over it; and for what a healthy bus
does (frames lost, a spinning wheel) no FAULT and at most 20 events in a 30 s flood.
"""

from __future__ import annotations

import importlib.util
import json
import random
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import firmware_harness as fh

import fuzz_support as fs

RUN_FUZZ = Path(__file__).resolve().parent / "fuzz_device" / "run_fuzz.py"
SEED = 1
SECONDS = 31.0                 # 1 s of boot, then a 30 s flood


def load_run_fuzz() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_fuzz", RUN_FUZZ)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(m: dict[str, Any]) -> str:
    keys = ("max_speed_kph", "max_over_cap_kph", "over_torque_periods", "fault_periods", "flood_events",
            "exceptions", "injected", "dropped", "tampered", "rx_overflow")
    return ", ".join(f"{k}={m[k]}" for k in keys)


def assert_limits(m: dict[str, Any], runtime: str = "CPython") -> None:
    broken = fs.violations(m)
    assert not broken, (f"{runtime}, mode {m['mode']} (seed {m['seed']}, {m['seconds']} s): "
                        + "; ".join(broken) + f"  [{report(m)}]")


@pytest.mark.parametrize("mode", fs.MODES)
def test_campaign(mode: str) -> None:
    assert_limits(fs.host_campaign(mode, SEED, SECONDS))


# -- the harness itself -------------------------------------------------------------------

def test_without_a_governor_the_car_goes_far_over_the_cap() -> None:
    """The pedal alone (torque never limited) must exceed the cap by far, or no attack could show."""
    plant = fs.Plant()
    for _ in range(3000):
        plant.step(1.0)
    assert plant.speed_kph > 2 * fs.CAP_KPH - 20, f"top speed {plant.speed_kph:.1f} km/h"


def test_attacks_are_seeded_and_deterministic() -> None:
    a = fs.host_campaign("random", 7, 3.0)
    b = fs.host_campaign("random", 7, 3.0)
    c = fs.host_campaign("random", 8, 3.0)
    assert a == b and a["injected"] > 0
    assert c != a, "another seed must give another campaign"


def test_local_packer_matches_frame_packer() -> None:
    """The device script's own packer and CRC give cantools' bytes (so its frames are the DBC's)."""
    rf = load_run_fuzz()
    local = rf.LocalPacker()
    host = fh.packer()
    rng = random.Random(3)
    cases: list[tuple[str, dict[str, float]]] = []
    for raw in (0, 1, 2575, 2574, 4000, 8190, 8191):
        cases.append(("WHEEL_SPEEDS", {w: fs.wheel_kph(raw) for w in fs.WHEELS}))
    for _ in range(40):
        cases.append(("WHEEL_SPEEDS", {w: fs.wheel_kph(rng.randrange(8192)) for w in fs.WHEELS}))
        cases.append(("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": rng.randrange(1001) / 10, "BRAKE_SWITCH": rng.randrange(2)}))
        cases.append(("GNSS_FIX_LAT", {"LATITUDE": rng.randrange(-900000000, 900000001) * 1e-7,
                                       "FIX_TYPE": rng.randrange(6), "NUM_SATELLITES": rng.randrange(64)}))
        cases.append(("GNSS_FIX_LON", {"LONGITUDE": rng.randrange(-1800000000, 1800000001) * 1e-7,
                                       "HDOP": rng.randrange(1024) / 10}))
        cases.append(("GNSS_VELOCITY", {"GNSS_SPEED": rng.randrange(65536) / 100,
                                        "GNSS_HEADING": rng.randrange(36000) / 100}))
    vcu = fs.Vcu()
    plant = fs.Plant(63.21)
    plant.distance_m = 1234.5
    cases += [(name, values) for name, values, _ in vcu.due(0, plant)]
    for k, (name, values) in enumerate(cases):
        counter = k % 16
        assert local.pack(name, values, counter) == host.pack(name, values, counter=counter), (name, values, counter)


def test_local_decoder_matches_cantools() -> None:
    rf = load_run_fuzz()
    local = rf.LocalDecoder()
    host = fs.HostDecoder()
    rng = random.Random(4)
    for _ in range(300):
        data = bytes(rng.randrange(256) for _ in range(8))
        if (data[0] | data[1] << 8) & 0x3FF <= 1000 and data[4] & 7 <= 4:
            assert local.command(data) == host.command(data), data.hex()
        if data[0] & 7 <= 4:
            assert local.status(data) == host.status(data), data.hex()


@pytest.mark.parametrize("mode", ("forged_interleave", "replay", "extreme"))
def test_device_packer_gives_the_same_campaign(mode: str) -> None:
    """The device script's packing and decoding, in-process on CPython: the very same run."""
    rf = load_run_fuzz()
    ours = fs.Campaign(mode, SEED, 12.0, fh.build_governor(), rf.LocalPacker(), rf.LocalDecoder()).run()
    assert ours == fs.host_campaign(mode, SEED, 12.0)


# -- the same campaign on the device runtime ------------------------------------------------

# The acceptance items (common-mode error, frozen, forged low; car needs ~7 s to reach the
# cap, then 3 s of grace, so 20 s) and the benign ones over a full 30 s flood.
DEVICE_CAMPAIGN = ((20.0, ("scaled_low", "frozen", "forged_interleave", "extreme")),
                   (SECONDS, ("counter_jump", "drop_third", "outlier")))


def device_metrics() -> list[dict[str, Any]]:
    out = []
    for seconds, modes in DEVICE_CAMPAIGN:
        text = fh.run_micropython(RUN_FUZZ, (str(seconds), str(SEED)) + modes, timeout=120)
        out += [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert [m["mode"] for m in out] == [m for _, modes in DEVICE_CAMPAIGN for m in modes]
    return out


@pytest.fixture(scope="module")
def on_device() -> list[dict[str, Any]]:
    if fh.micropython_binary() is None:
        pytest.skip("no micropython binary")
    return device_metrics()


@pytest.mark.micropython
def test_micropython_campaign(on_device: list[dict[str, Any]]) -> None:
    broken = [f"{m['mode']}: " + "; ".join(fs.violations(m)) + f" [{report(m)}]"
              for m in on_device if fs.violations(m)]
    assert not broken, "MicroPython campaign:\n  " + "\n  ".join(broken)


@pytest.mark.micropython
def test_micropython_runs_the_same_campaign_as_cpython(on_device: list[dict[str, Any]]) -> None:
    """Same seed, same firmware: the device runtime gives CPython's figures (floats to 1e-6)."""
    for m in on_device:
        host = fs.host_campaign(m["mode"], SEED, m["seconds"])
        for key, value in host.items():
            if isinstance(value, float):
                assert m[key] == pytest.approx(value, abs=1e-6), (m["mode"], key)
            else:
                assert m[key] == value, (m["mode"], key)
