"""`keigov dbc compile | check`: outputs, exit statuses and errors that name file and line."""

from __future__ import annotations

import pytest

from dbc_support import CORPUS_DIR
from keigov.cli import main
from keigov.dbc.generated import load_path
from keigov.paths import DBC_DIR, KEIGOV_MAP, KEIGOV_TABLES

HEADER = 'VERSION ""\n\nBS_:\n\nBU_: ECU\n\n'


def _dbc(tmp_path, body: str, name: str = "bad.dbc"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_committed_keigov_tables_are_what_the_compiler_writes(tmp_path):
    out = tmp_path / "keigov_bus.py"
    assert main(["dbc", "compile", "--map", str(KEIGOV_MAP), "-o", str(out)]) == 0
    assert out.read_text() == KEIGOV_TABLES.read_text()


def test_compile_messages_and_all(tmp_path):
    dbc = DBC_DIR / "vehicles" / "ev_mcu.dbc"
    out = tmp_path / "ev.py"
    assert main(["dbc", "compile", str(dbc), "--messages", "MCU_DIAG,MCU_STATUS", "-o", str(out)]) == 0
    mod = load_path(out)
    assert mod._DB_MSG_NAME == ("MCU_DIAG", "MCU_STATUS")
    assert mod.decode(0x7A0, bytes([1, 60, 70, 80, 0, 0, 0, 0])) == \
        {"DIAG_PAGE": 1, "INVERTER_TEMP": 20, "MOTOR_TEMP": 30, "COOLANT_TEMP": 40}
    assert "RX_ID" not in out.read_text()
    assert main(["dbc", "compile", str(dbc), str(DBC_DIR / "keigov.dbc"), "--all", "-o", str(out)]) == 0
    assert len(load_path(out)._DB_MSG_ID) == 7 + 8


def test_compile_unknown_message_and_missing_file(tmp_path, capsys):
    out = tmp_path / "x.py"
    assert main(["dbc", "compile", str(DBC_DIR / "keigov.dbc"), "--messages", "NOPE", "-o", str(out)]) == 2
    assert "'NOPE' is not in keigov.dbc" in capsys.readouterr().err
    assert main(["dbc", "compile", "--map", str(tmp_path / "none.toml"), "-o", str(out)]) == 2
    assert "none.toml: no such file" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("body,line,text", [
    ("BO_ 100 M: 8 ECU\n SG_ S : 0|8@1+ (1,0) [0|255 \"\" ECU\n", 8, "Invalid syntax"),
    ("BO_ 100 M: 8 ECU\n SG_ A : 0|8@1+ (1,0) [0|0] \"\" ECU\n SG_ B : 4|8@1+ (1,0) [0|0] \"\" ECU\n", 9,
     "overlapping"),
    ("BO_ 100 M: 2 ECU\n SG_ A : 0|8@1+ (1,0) [0|0] \"\" ECU\n SG_ WIDE : 8|16@1+ (1,0) [0|0] \"\" ECU\n", 9,
     "does not fit"),
])
def test_malformed_dbc_names_file_and_line(tmp_path, capsys, body, line, text):
    path = _dbc(tmp_path, body)
    out = tmp_path / "out.py"
    for argv in (["dbc", "check", str(path)], ["dbc", "compile", str(path), "--all", "-o", str(out)]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"{path}:{line}:" in err and text in err, err
    assert not out.exists()


UNSUPPORTED = """BO_ 100 M: 8 ECU
 SG_ HALF : 0|16@1- (1,0) [0|0] "" ECU
 SG_ ZERO : 16|8@1+ (0,0) [0|0] "" ECU

BO_ 101 HUGE: 128 ECU
 SG_ X : 0|8@1+ (1,0) [0|0] "" ECU

SGTYPE_ Speed : 16@1+ (0.1,0) [0|100] "km/h" 0 ;
SIG_VALTYPE_ 100 HALF : 1;
"""


def test_check_names_every_unsupported_feature_with_its_line(tmp_path, capsys):
    path = _dbc(tmp_path, UNSUPPORTED)
    assert main(["dbc", "check", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:8: unsupported: signal M.HALF: IEEE float of 16 bits" in out
    assert f"{path}:9: unsupported: signal M.ZERO: scale 0" in out
    assert f"{path}:11: unsupported: message HUGE: payload of 128 bytes" in out
    assert f"{path}:14: unsupported: signal type definitions (SGTYPE_): cantools and this compiler" in out
    assert "4 unsupported feature(s)" in out
    assert main(["dbc", "compile", str(path), "--all", "-o", str(tmp_path / "x.py")]) == 2
    assert f"{path}:14: unsupported: signal type definitions (SGTYPE_)" in capsys.readouterr().err


def test_compile_refuses_unsupported_never_skips(tmp_path, capsys):
    path = _dbc(tmp_path, UNSUPPORTED.replace('SGTYPE_ Speed : 16@1+ (0.1,0) [0|100] "km/h" 0 ;', ""))
    out = tmp_path / "out.py"
    assert main(["dbc", "compile", str(path), "--messages", "M", "-o", str(out)]) == 2
    assert f"{path}:8: M.HALF: IEEE float of 16 bits" in capsys.readouterr().err
    assert not out.exists()


def test_check_accepts_the_corpus_and_vehicles(capsys):
    paths = [str(p) for p in sorted(CORPUS_DIR.glob("*.dbc")) + sorted((DBC_DIR / "vehicles").glob("*.dbc"))]
    assert main(["dbc", "check", *paths, str(DBC_DIR / "keigov.dbc")]) == 0
    assert "every feature supported" in capsys.readouterr().out
