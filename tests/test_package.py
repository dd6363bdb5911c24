"""The wheel is the whole product: installed outside any checkout, keigov finds its firmware,
DBCs, maps and scenarios in the package and runs.

The wheel is built and installed once a session (tests/conftest.py `installed`), and every
command runs from another folder, with the checkout nowhere on its path.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

from keigov import paths
from keigov_hil.scenario import SCENARIOS
from wheelenv import keigov


def test_the_wheel_carries_the_firmware_dbcs_maps_and_scenarios(installed):
    wheel, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    firmware = {p.relative_to(paths.FIRMWARE).as_posix() for p in paths.FIRMWARE.rglob("*.py")
                if "__pycache__" not in p.parts}
    assert {f"keigov/_firmware/{f}" for f in firmware} <= names, "every firmware source"
    dbc = {p.relative_to(paths.DBC_DIR).as_posix() for p in paths.DBC_DIR.rglob("*") if p.is_file()}
    assert {f"keigov/_dbc/{f}" for f in dbc} <= names, "keigov.dbc, the vehicles and their maps"
    assert {f"keigov_hil/scenarios/{p.name}" for p in SCENARIOS.glob("*.toml")} <= names
    assert "keigov_hil/zones/demo.geojson" in names


def test_installed_outside_a_checkout_it_finds_its_own_data(installed, tmp_path):
    _, target = installed
    out = keigov(target, tmp_path, "scenarios", "--json")
    assert out.returncode == 0, out.stderr
    listed = json.loads(out.stdout)
    assert {s["name"] for s in listed} == {p.stem for p in SCENARIOS.glob("*.toml")}
    assert all(Path(s["path"]).is_relative_to(target) for s in listed), "the wheel's copies, not the checkout's"


def test_a_bundled_scenario_runs_by_name_from_the_installed_wheel(installed, tmp_path):
    _, target = installed
    out = keigov(target, tmp_path, "sim", "full_throttle", "--out", "ft", "--no-plot")
    assert out.returncode == 0, out.stdout + out.stderr
    summary = json.loads((tmp_path / "ft" / "summary.json").read_text())
    assert summary["passed"] and summary["runtime"] == "micropython"


def test_a_bundled_map_by_name_and_a_compiled_dbc_from_the_installed_wheel(installed, tmp_path):
    _, target = installed
    out = keigov(target, tmp_path, "dbc", "check-map", "j1939_truck")
    assert out.returncode == 0 and out.stdout.startswith("ok: ") and str(target) in out.stdout, out.stderr
    out = keigov(target, tmp_path, "dbc", "compile", "--map", "keigov", "-o", "bus.py")
    assert out.returncode == 0, out.stderr
    assert "RX_ID" in (tmp_path / "bus.py").read_text()


def test_an_unknown_scenario_name_is_a_clear_error(installed, tmp_path):
    _, target = installed
    out = keigov(target, tmp_path, "sim", "no_such_scenario", "--out", "x")
    assert out.returncode == 2
    assert "no bundled scenario of that name" in out.stderr and "full_throttle" in out.stderr
    assert "Traceback" not in out.stderr


def test_unreadable_package_data_is_one_line_and_exit_3(installed, tmp_path):
    _, target = installed
    broken = tmp_path / "site"
    shutil.copytree(target, broken)
    (broken / "keigov" / "_firmware" / "core" / "safety.py").unlink()
    for args in (("--help",), ("sim", "full_throttle", "--out", "x")):
        out = keigov(broken, tmp_path, *args)
        assert out.returncode == 3, out.stderr
        assert out.stderr.count("\n") == 1 and "core/safety.py" in out.stderr and "Traceback" not in out.stderr
