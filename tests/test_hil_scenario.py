"""Scenario files: the fault kinds' and the vehicle's keys, and their errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from keigov.errors import InputError
from keigov_hil.scenario import SCENARIOS, load_scenario

BASE = "[scenario]\nduration_s = 10.0\n\n[[driver]]\nt_s = 0.0\npedal_pct = 100.0\n"


def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "sc.toml"
    path.write_text(BASE + extra)
    return path


@pytest.mark.parametrize("name", sorted(p.stem for p in SCENARIOS.glob("*.toml")))
def test_every_bundled_scenario_loads_and_says_what_it_proves(name: str) -> None:
    path = SCENARIOS / f"{name}.toml"
    assert path.read_text().startswith("# "), "the first line says what the scenario proves"
    assert load_scenario(path).checks


def test_fault_keys_default_to_what_every_older_file_meant(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, '[[faults]]\nkind = "stop"\nstart_s = 1.0\n'
                                       '[vehicle]\nmass_kg = 1000.0\n'))
    (f,) = sc.faults
    assert (f.message, f.wheel, f.scale_pct, f.every_n, f.probability, f.jitter_ms, f.counter) == (
        "WHEEL_SPEEDS", 0, 0.0, 0, 0.0, 0, "next")
    assert "regen_max_torque_nm" not in sc.vehicle, "no regen unless asked for"
    regen = load_scenario(write(tmp_path, "[vehicle]\nregen_max_torque_nm = 120\n"))
    assert regen.vehicle["regen_max_torque_nm"] == 120.0


@pytest.mark.parametrize("extra, expected", [
    ('[[faults]]\nkind = "smash"\nstart_s = 1.0\n', "'faults[0].kind' = 'smash' is not one of"),
    ('[[faults]]\nkind = "scale"\nstart_s = 1.0\nwheel = 4\n', "'faults[0].wheel' = 4 is above the maximum"),
    ('[[faults]]\nkind = "scale"\nstart_s = 1.0\nscale_pct = -95.0\n', "'faults[0].scale_pct' = -95.0 is below"),
    ('[[faults]]\nkind = "scale"\nstart_s = 1.0\nmessage = "GNSS_VELOCITY"\n', "acts on WHEEL_SPEEDS only"),
    ('[[faults]]\nkind = "drop"\nstart_s = 1.0\n', "'faults[0]' (drop) needs exactly one of every_n or probability"),
    ('[[faults]]\nkind = "drop"\nstart_s = 1.0\nevery_n = 3\nprobability = 0.1\n', "exactly one of every_n"),
    ('[[faults]]\nkind = "drop"\nstart_s = 1.0\nprobability = 1.5\n', "'faults[0].probability' = 1.5 is above"),
    ('[[faults]]\nkind = "jitter"\nstart_s = 1.0\njitter_ms = 15\n',
     "'faults[0].jitter_ms' = 15 is not a positive whole"),
    ('[[faults]]\nkind = "jitter"\nstart_s = 1.0\n', "'faults[0].jitter_ms' = 0 is not a positive"),
    ('[[faults]]\nkind = "forge"\nstart_s = 1.0\nmessage = "DRIVER_INPUTS"\n', "forge needs a message with a speed"),
    ('[[faults]]\nkind = "forge"\nstart_s = 1.0\ncounter = "later"\n', "'faults[0].counter' = 'later' is not one of"),
    ('[[faults]]\nkind = "freeze_valid"\nstart_s = 5.0\nend_s = 5.0\n', "'faults[0].end_s' = 5.0 is not after"),
    ('[[faults]]\nkind = "stop"\nstart_s = 1.0\nscale = 3.0\n', "unknown key 'faults[0].scale'"),
    ("[vehicle]\nregen_max_torque_nm = -1.0\n", "'vehicle.regen_max_torque_nm' = -1.0 is below the minimum"),
    ('[vehicle]\nregen_max_torque_nm = "lots"\n', "'vehicle.regen_max_torque_nm' must be a number"),
])
def test_bad_fault_and_vehicle_keys_are_errors_naming_file_and_key(tmp_path: Path, extra: str, expected: str) -> None:
    path = write(tmp_path, extra)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert str(path) in str(err.value) and expected in str(err.value), str(err.value)
