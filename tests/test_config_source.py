"""The operator's CONFIG.toml -> signed blob: every error names the key, what builds is
what the device accepts (the firmware checks the host's output), keys and blobs on disk."""

from __future__ import annotations

import json
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import link
from devrig import KEY, TABLES, provisioned, push, reboot
from keigov.cli import main
from keigov.config import blob as cfgblob
from keigov.config.keys import KeyFile, load_key, write_key
from keigov.config.source import build_config
from keigov.errors import InputError
from keigov.firmware_params import firmware_params, literal
from keigov.paths import KEIGOV_MAP
from keigov.zones import compile_zones

GOOD = """\
version = 3
cap_mph = 25
limp_mph = 10
lockout_mph = 5
hysteresis_m = 20
dwell_s = 2.5

[params]
overspeed_ms = 800
"""


def write(tmp_path: Path, text: str, name: str = "CONFIG.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_file_compiles_to_firmware_units(tmp_path):
    config = build_config(write(tmp_path, GOOD), KEY)
    assert config.version == 3 and config.device_id == KEY.device
    assert config.params == {"cap_ckph": 4023, "limp_ckph": 1609, "lockout_ckph": 805, "zone_hysteresis_m": 20,
                             "zone_dwell_ms": 2500, "overspeed_ms": 800}


@pytest.mark.parametrize("text,where,reason", [
    ("version = 1\ncap_mph = 90\n", "CONFIG.toml:2: cap_mph",
     "must be within 4.98 .. 80.77 mph (firmware bounds of cap_ckph)"),
    ("version = 1\ncap_mph = true\n", "CONFIG.toml:2: cap_mph", "must be a number"),
    ("version = 1\nturbo = 1\n", "CONFIG.toml:2: turbo", "unknown key"),
    ("cap_mph = 20\n", "CONFIG.toml", "missing 'version'"),
    ("version = 0\n", "CONFIG.toml:1: version", "must be an integer 1 .."),
    ("version = 1\ncap_mph = 20\nlimp_mph = 21\n", "CONFIG.toml:3: limp_mph", "limp_ckph is above the cap"),
    ("version = 1\ncap_mph = 20\ncap_kph = 30\n", "CONFIG.toml:3: cap_kph", "sets cap_ckph again"),
    ("version = 1\n[params]\nturbo = 1\n", "CONFIG.toml:3: params.turbo", "no parameter 'turbo'"),
    ("version = 1\n[params]\nkp_q10 = 1.5\n", "CONFIG.toml:3: params.kp_q10", "must be an integer"),
    ("version = 1\n[params]\novershoot = 1\n", "params.overshoot", "no parameter"),
    ("version = 1\nzones = 'missing.bin'\n", "CONFIG.toml:2: zones", "no such file"),
    ("version = 1\ncap_mph = 55\n", "CONFIG.toml:2: cap_mph", "outside the bounds provisioned for KG-TEST"),
    ("version = [\n", "CONFIG.toml", "not valid TOML"),
])
def test_errors_name_the_key_and_reason(tmp_path, text, where, reason):
    with pytest.raises(InputError) as exc:
        build_config(write(tmp_path, text), KEY)
    assert where in str(exc.value) and reason in str(exc.value)


def test_geojson_zones_are_compiled_into_the_configuration(tmp_path):
    demo = Path(__file__).resolve().parents[1] / "hil" / "zones" / "demo.geojson"
    (tmp_path / "z.geojson").write_bytes(demo.read_bytes())
    config = build_config(write(tmp_path, "version = 1\nzones = 'z.geojson'\n"), KEY)
    assert config.zones == compile_zones(demo).blob


def test_bad_geojson_zones_name_the_feature_and_the_key(tmp_path):
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"kind": "speed_limit", "limit_kph": 20, "name": "yard"},
         "geometry": {"type": "Point", "coordinates": [139.7, 35.6]}}]}       # a circle without radius_m
    (tmp_path / "z.geojson").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"features\[0\] 'yard'") as err:
        build_config(write(tmp_path, "version = 1\nzones = 'z.geojson'\n"), KEY)
    assert "CONFIG.toml:2: zones" in str(err.value)


def test_signal_map_carries_the_tables_source_the_firmware_runs(tmp_path):
    text = f"version = 1\nsignal_map = '{KEIGOV_MAP}'\nzones = 'z.bin'\n"
    (tmp_path / "z.bin").write_bytes(b"\x01\x02\x03")
    config = build_config(write(tmp_path, text), KEY)
    assert config.tables_source == literal("tables/keigov_bus.py", "SOURCE")
    assert config.zones == b"\x01\x02\x03"


def test_blob_round_trips_and_the_device_accepts_it(tmp_path):
    config = build_config(write(tmp_path, GOOD), KEY)
    config.tables_source = TABLES
    data = config.sign(KEY.key)
    again = cfgblob.parse(data, "x")
    assert (again.params, again.version, again.device_id, again.mac) == (config.params, 3, KEY.device, data[-32:])
    assert cfgblob.verify(data, KEY.key) and not cfgblob.verify(data, bytes(32))
    d = provisioned(block=128, slot_blocks=4, event_blocks=2)
    assert push(d, data)[0] == link.OK
    reboot(d)
    assert {name: getattr(d.cfg, name) for name in config.params} == config.params


@st.composite
def parameter_sets(draw):
    params = firmware_params()
    chosen = draw(st.lists(st.sampled_from(sorted(params)), unique=True, max_size=len(params)))
    return {name: draw(st.integers(params[name].minimum - 2, params[name].maximum + 2)) for name in chosen}


@given(parameter_sets())
@settings(max_examples=60, deadline=None)
def test_host_builds_exactly_what_the_device_takes(values):
    """The host's validation and the device's agree on every parameter set, either way."""
    text = "version = 1\n[params]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
    with tempfile.TemporaryDirectory() as tmp:
        try:
            build_config(write(Path(tmp), text), KEY)
            built = True
        except InputError:
            built = False
    d = provisioned(block=128, slot_blocks=8, event_blocks=2)  # room for every parameter
    accepted = push(d, cfgblob.ConfigBlob(KEY.device, 1, values, TABLES).sign(KEY.key))[0] == link.OK
    assert built == accepted
    if accepted:
        reboot(d)
        assert {k: getattr(d.cfg, k) for k in values} == values


def test_key_files(tmp_path, capsys):
    path = tmp_path / "k" / "KG-9.key"
    assert main(["keys", "new", "--device", "KG-9", "--cap-max-mph", "25", "-o", str(path)]) == 0
    key = load_key(path)
    assert key.device == "KG-9" and key.cap_max_ckph == 4023 and len(key.key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert main(["keys", "new", "--device", "KG-9", "-o", str(path)]) == 2  # never overwritten
    assert "never overwritten" in capsys.readouterr().err
    assert main(["keys", "new", "--device", "bad id!", "-o", str(tmp_path / "x.key")]) == 2
    assert main(["keys", "new", "--device", "KG-8", "--cap-max-mph", "99", "-o", str(tmp_path / "y.key")]) == 2
    bad = tmp_path / "bad.key"
    bad.write_text(json.dumps({"format": "keigov-key/1", "device": "KG-1", "key": "00", "cap_min_ckph": 0,
                               "cap_max_ckph": 1}))
    with pytest.raises(InputError, match="bad.key: 'key' must be 64 hex digits"):
        load_key(bad)


def test_provision_record_layout():
    rec = KeyFile("KG-7", bytes(range(32)), 800, 4023).provision_record()
    assert len(rec) == 66 and rec[:4] == b"KGPV" and rec[8:12] == b"KG-7" and rec[24:56] == bytes(range(32))


def test_build_and_show_commands(tmp_path, capsys):
    key = tmp_path / "dev.key"
    write_key(key, KEY)
    out = tmp_path / "out" / "CONFIG.bin"
    assert main(["config", "build", str(write(tmp_path, GOOD)), "--key", str(key), "-o", str(out)]) == 0
    assert main(["config", "show", str(out), "--json", "--key", str(key)]) == 0
    shown = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert shown["signature_valid"] is True and shown["params"]["cap_ckph"] == 4023 and shown["version"] == 3
    assert main(["config", "show", str(out)]) == 0
    assert "cap_ckph" in capsys.readouterr().out
    other = tmp_path / "other.key"
    write_key(other, KeyFile(KEY.device, bytes(32), 800, 8047))
    assert main(["config", "show", str(out), "--key", str(other)]) == 1
    assert "INVALID" in capsys.readouterr().out
    (tmp_path / "junk.bin").write_bytes(b"junk" * 30)
    assert main(["config", "show", str(tmp_path / "junk.bin")]) == 2
    assert "junk.bin: not a keigov configuration" in capsys.readouterr().err
    bad = write(tmp_path, "version = 1\ncap_mph = 200\n", "bad.toml")
    assert main(["config", "build", str(bad), "--key", str(key), "-o", str(tmp_path / "bad.bin")]) == 2
    assert not (tmp_path / "bad.bin").exists()
