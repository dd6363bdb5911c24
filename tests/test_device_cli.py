"""`keigov device` and `keigov config push/pull` against the firmware's link running on
MicroPython behind a pty, as against a board on /dev/ttyACM0."""

from __future__ import annotations

import json
import os
import tty
from pathlib import Path

import pytest

from fwenv import needs_micropython

from devrig import KEY, TABLES
from keigov.cli import main
from keigov.config.blob import ConfigBlob
from keigov.config.keys import write_key
from keigov.link.client import DeviceClient, DeviceRefused
from ptydevice import pty_device
from zones_support import collection, compile_doc, feature, ring, to_lonlat


def on_micropython(test):
    return pytest.mark.micropython(needs_micropython(test))


PROVISION = [f"provision {KEY.provision_record().hex()}", "event 1 0 0", "event 5 1200 250"]


def run(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def signed(tmp_path: Path, version: int, name: str = "c.bin", **params: int) -> Path:
    path = tmp_path / name
    path.write_bytes(ConfigBlob(KEY.device, version, params, TABLES).sign(KEY.key))
    return path


@on_micropython
def test_info_status_events_push_pull_reboot(tmp_path, capsys):
    with pty_device(PROVISION) as port:
        code, out, _ = run(["device", "info", "--port", port, "--json"], capsys)
        info = json.loads(out)
        assert code == 0 and info["device_id"] == "KG-TEST" and info["config_slot"] is None
        assert info["boot_reason"] == 1 and info["firmware"] == "0.1.0-test"
        code, out, _ = run(["device", "info", "--port", port], capsys)
        assert "KG-TEST" in out and "defaults: none stored" in out

        blob = signed(tmp_path, 4, cap_ckph=4023, limp_ckph=1200)
        code, out, err = run(["config", "push", str(blob), "--port", port], capsys)
        assert code == 0, err
        assert "installed configuration version 4" in out and "rebooting" in out
        info = json.loads(run(["device", "info", "--port", port, "--json"], capsys)[1])
        assert (info["config_version"], info["running_version"], info["boot_reason"]) == (4, 4, 0)

        pulled = tmp_path / "pulled.bin"
        assert run(["config", "pull", "--port", port, "-o", str(pulled)], capsys)[0] == 0
        assert pulled.read_bytes() == blob.read_bytes()
        code, out, _ = run(["config", "pull", "--port", port, "--json"], capsys)
        assert json.loads(out)["params"] == {"cap_ckph": 4023, "limp_ckph": 1200}

        code, out, _ = run(["device", "events", "--port", port, "--json"], capsys)
        events = json.loads(out)
        assert [(e["name"], e["time_ms"], e["value"]) for e in events] == [("boot", 0, 0), ("overspeed", 1200, 250)]
        code, out, _ = run(["device", "events", "--port", port], capsys)
        assert "overspeed" in out and "1200" in out

        code, out, _ = run(["device", "status", "--port", port, "--json"], capsys)
        status = json.loads(out)
        assert status["config_version"] == 4 and status["link_frames"] >= 1 and status["link_bad_crc"] == 0
        code, out, _ = run(["device", "status", "--port", port], capsys)
        rows = dict(line.split(None, 1) for line in out.splitlines() if line.strip())
        assert rows["state"].strip() == status["state_name"]
        assert rows["limit"].strip() == (f"{status['limit_ckph'] / 160.9344:.1f} mph "
                                         f"({status['limit_ckph'] / 100:.1f} km/h)")
        assert "ckph" not in out, "the table speaks km/h and mph; --json keeps the device's units"
        assert run(["device", "clear-faults", "--port", port], capsys)[0] == 0


YARD = compile_doc(collection(feature("Polygon", [ring([(-60, -60), (60, -60), (60, 60), (-60, 60)])],
                                     kind="speed_limit", limit_kph=10)))
SPOT = to_lonlat((23.4, -41.7))          # lon, lat: where the event happened, 7 decimals
SPOT_XY = YARD.device_xy(*SPOT)          # ... as the device's fence puts it (dm east, north of the origin)
LOCATED = ["geometry 256 8 3 1", f"provision {KEY.provision_record().hex()}", "event 1 0 0",
           f"event 15 2500 {65536 + 1000} {SPOT_XY[0]} {SPOT_XY[1]} 3"]   # under version 3's zones


def zoned(tmp_path: Path, version: int = 3) -> Path:
    path = tmp_path / f"zoned-v{version}.bin"
    path.write_bytes(ConfigBlob(KEY.device, version, {}, TABLES, YARD.table.blob).sign(KEY.key))
    return path


@on_micropython
def test_event_positions_are_given_in_degrees_of_the_installed_zones(tmp_path, capsys):
    assert YARD.proj.to_lonlat(0, 0) != tuple(SPOT)   # the origin is not the spot: the offset matters
    with pty_device(LOCATED) as port:
        code, _, err = run(["config", "push", str(zoned(tmp_path)), "--port", port], capsys)
        assert code == 0, err
        code, out, err = run(["device", "events", "--port", port, "--json"], capsys)
        assert code == 0 and err == ""
        boot, zone = (e for e in json.loads(out) if e["name"] in ("boot", "zone_tightened"))
        assert boot["position"] is None and boot["x_dm"] is None
        assert (zone["x_dm"], zone["y_dm"]) == SPOT_XY
        # Within the device's decimetre of the spot (1e-6 deg is 0.11 m north, 0.09 m east here).
        assert zone["position"]["lon"] == pytest.approx(SPOT[0], abs=1.2e-6)
        assert zone["position"]["lat"] == pytest.approx(SPOT[1], abs=1.2e-6)
        code, out, _ = run(["device", "events", "--port", port], capsys)
        assert "position (lat, lon)" in out
        assert f"{zone['position']['lat']:.7f}, {zone['position']['lon']:.7f}" in out


@on_micropython
def test_without_zones_positions_stay_decimetres_said_so_or_come_from_a_given_blob(tmp_path, capsys):
    with pty_device(LOCATED) as port:
        code, out, _ = run(["device", "events", "--port", port, "--json"], capsys)
        zone = next(e for e in json.loads(out) if e["name"] == "zone_tightened")
        assert zone["position"] is None and (zone["x_dm"], zone["y_dm"]) == SPOT_XY
        code, out, _ = run(["device", "events", "--port", port], capsys)
        assert f"x {SPOT_XY[0]} dm, y {SPOT_XY[1]} dm" in out
        assert f"positions: decimetres east (x) and north (y) of the zone origin; {port} has no zones" in out
        # A configuration built with the zones converts them without one installed.
        code, out, err = run(["device", "events", "--port", port, "--json", "--config", str(zoned(tmp_path))],
                             capsys)
        assert code == 0, err
        zone = next(e for e in json.loads(out) if e["name"] == "zone_tightened")
        assert zone["position"]["lat"] == pytest.approx(SPOT[1], abs=1.2e-6)
        code, _, err = run(["device", "events", "--port", port, "--config", str(tmp_path / "none.bin")], capsys)
        assert code == 2 and f"{tmp_path / 'none.bin'}: No such file" in err


@on_micropython
def test_positions_recorded_under_another_configuration_are_not_converted_with_this_one(tmp_path, capsys):
    # The event happened under version 2's zones; version 3 is installed now. Its origin may
    # not be version 2's (a new zones file moves it), so the position stays in decimetres.
    script = LOCATED[:-1] + [f"event 15 2500 {65536 + 1000} {SPOT_XY[0]} {SPOT_XY[1]} 2"]
    with pty_device(script) as port:
        assert run(["config", "push", str(zoned(tmp_path)), "--port", port], capsys)[0] == 0
        code, out, err = run(["device", "events", "--port", port, "--json"], capsys)
        assert code == 0
        zone = next(e for e in json.loads(out) if e["name"] == "zone_tightened")
        assert zone["position"] is None and (zone["x_dm"], zone["y_dm"]) == SPOT_XY and zone["origin_tag"] == 2
        assert "recorded under configuration version 2 (mod 128)" in err and f"{port} has version 3" in err
        # The configuration it ran with converts it.
        code, out, err = run(["device", "events", "--port", port, "--json", "--config", str(zoned(tmp_path, 2))],
                             capsys)
        assert code == 0 and err == ""
        zone = next(e for e in json.loads(out) if e["name"] == "zone_tightened")
        assert zone["position"]["lat"] == pytest.approx(SPOT[1], abs=1.2e-6)


@on_micropython
def test_refusals_are_printed_with_the_reason(tmp_path, capsys):
    with pty_device(PROVISION) as port:
        assert run(["config", "push", str(signed(tmp_path, 4, cap_ckph=4023)), "--port", port], capsys)[0] == 0
        code, _, err = run(["config", "push", str(signed(tmp_path, 4, "r.bin", cap_ckph=4023)), "--port", port], capsys)
        assert code == 1 and "version 4 installed; this is version 4 (replay)" in err  # caught before sending
        code, _, err = run(["config", "push", str(signed(tmp_path, 9, "c.bin", cap_ckph=9000)), "--port", port], capsys)
        assert code == 1 and f"{port}: config commit: cap_not_allowed" in err and "(cap_ckph)" in err
        forged = tmp_path / "f.bin"
        forged.write_bytes(ConfigBlob(KEY.device, 9, {"cap_ckph": 8000}, TABLES).sign(bytes(32)))
        code, _, err = run(["config", "push", str(forged), "--port", port], capsys)
        assert code == 1 and "bad_mac" in err
        other = tmp_path / "o.bin"
        other.write_bytes(ConfigBlob("KG-OTHER", 9, {"cap_ckph": 4000}, TABLES).sign(KEY.key))
        code, _, err = run(["config", "push", str(other), "--port", port], capsys)
        assert code == 1 and "this is device KG-TEST; the configuration is for KG-OTHER" in err
        # The device's own replay check, reached by a client that does not look first:
        with DeviceClient(port) as client:
            with pytest.raises(DeviceRefused, match="config commit: replay"):
                client.config_push(signed(tmp_path, 4, "r2.bin", cap_ckph=4023).read_bytes())
        info = json.loads(run(["device", "info", "--port", port, "--json"], capsys)[1])
        assert info["config_version"] == 4


@on_micropython
def test_build_then_push_end_to_end(tmp_path, capsys):
    key = tmp_path / "d.key"
    write_key(key, KEY)
    (tmp_path / "fleet.toml").write_text("version = 7\ncap_mph = 25\nlimp_mph = 8\n")
    out = tmp_path / "fleet.bin"
    assert run(["config", "build", str(tmp_path / "fleet.toml"), "--key", str(key), "-o", str(out)], capsys)[0] == 0
    with pty_device(PROVISION) as port:
        # Built without a signal map, the blob names no tables, so any firmware takes it.
        code, outp, err = run(["config", "push", str(out), "--port", port], capsys)
        assert code == 0, err
        info = json.loads(run(["device", "info", "--port", port, "--json"], capsys)[1])
        assert info["running_version"] == 7


def test_port_errors_name_the_port(capsys):
    code, _, err = run(["device", "info", "--port", "/dev/does-not-exist"], capsys)
    assert code == 2 and "keigov: error: /dev/does-not-exist: cannot open the port" in err
    master, slave = os.openpty()  # a port with nobody behind it
    tty.setraw(slave)
    try:
        port = os.ttyname(slave)
        code, _, err = run(["device", "status", "--port", port, "--timeout", "0.05", "--retries", "1"], capsys)
        assert code == 3 and f"{port}: no reply to status after 2 tries" in err
    finally:
        os.close(master)
        os.close(slave)


def test_socket_url(capsys):
    """socket://HOST:PORT reaches a device as well: here the firmware's link in-process
    behind a TCP listener (what a network serial server or ser2net provides)."""
    import socket
    import threading

    from devrig import provisioned

    device = provisioned()
    server = socket.create_server(("127.0.0.1", 0))
    host, tcp_port = server.getsockname()

    class SocketPort:
        def __init__(self, conn: socket.socket) -> None:
            self.conn = conn

        def readinto(self, buf, n):
            try:
                data = self.conn.recv(n, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return 0
            buf[: len(data)] = data
            return len(data)

        def write(self, buf, n):
            self.conn.sendall(bytes(buf[:n]))
            return n

    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        device.link.port = SocketPort(conn)
        while not stop.is_set():
            device.link.poll(128)
            stop.wait(0.001)
        conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        code, out, err = run(["device", "info", "--port", f"socket://{host}:{tcp_port}", "--json"], capsys)
        assert code == 0, err
        assert json.loads(out)["device_id"] == "KG-TEST"
    finally:
        stop.set()
        thread.join(5)
        server.close()


@on_micropython
def test_events_fold_a_repeated_summary_into_its_record(capsys):
    from core import events as ev

    summary = ev.OVERSPEED << 24 | ev.repeat_tag(250) << 16 | 4
    with pty_device([f"provision {KEY.provision_record().hex()}", "event 1 0 0", "event 5 1200 250",
                     f"event {ev.REPEATED} 3000 {summary}"]) as port:
        code, out, _ = run(["device", "events", "--port", port, "--json"], capsys)
        got = [(e["name"], e["time_ms"], e["count"], e["first_t_s"], e["last_t_s"]) for e in json.loads(out)]
        assert got == [("boot", 0, 1, 0.0, 0.0), ("overspeed", 1200, 5, 1.2, 3.0)]
        code, out, _ = run(["device", "events", "--port", port], capsys)
        assert "overspeed x5" in out and "repeated" not in out
