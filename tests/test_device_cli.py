"""`keigov device` and `keigov config push/pull` against the firmware's link running on
MicroPython behind a pty, as against a board on /dev/ttyACM0."""

from __future__ import annotations

import json
import os
import tty
from pathlib import Path

import pytest
from devrig import KEY, TABLES
from fwenv import needs_micropython
from ptydevice import pty_device

from keigov.cli import main
from keigov.config.blob import ConfigBlob
from keigov.config.keys import write_key
from keigov.link.client import DeviceClient, DeviceRefused



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
        assert run(["device", "clear-faults", "--port", port], capsys)[0] == 0


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
