"""Talking to a device over any pyserial URL: /dev/ttyACM0, a pty path, socket://host:port,
rfc2217://host:port. One request at a time; a reply that does not come is asked for again
with the same sequence number (the device answers a retry from its kept reply, so nothing
is done twice). Every error names the port."""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable, Iterator

import serial

from keigov.errors import EnvironmentProblem, InputError, KeigovError
from keigov.link import messages
from keigov.link import protocol as P
from keigov.link.framing import Frame, FrameReader, encode_frame

COMMAND_NAMES = {P.INFO: "info", P.STATUS: "status", P.EVENTS: "events", P.CONFIG_GET: "config get",
                 P.CONFIG_PUT: "config put", P.CONFIG_COMMIT: "config commit", P.CLEAR_FAULTS: "clear faults",
                 P.REBOOT: "reboot"}


class DeviceRefused(KeigovError):
    """The device answered with an error status (exit 1: the check it made failed)."""

    exit_code = 1

    def __init__(self, message: str, *, where: str, status: int) -> None:
        super().__init__(message, where=where)
        self.status = status


class DeviceClient:
    def __init__(self, port: str, *, timeout: float = 1.0, retries: int = 3, baudrate: int = 115200) -> None:
        self.port = port
        self.timeout = timeout
        self.retries = retries
        try:
            self.ser = serial.serial_for_url(port, baudrate=baudrate, timeout=0.02, write_timeout=timeout)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise InputError(f"cannot open the port: {exc}", where=port) from exc
        self.reader = FrameReader()
        self.seq = random.randrange(1, 256)
        self.bytes_sent = 0
        self.bytes_received = 0

    def close(self) -> None:
        self.ser.close()

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, command: int, payload: bytes = b"", *, timeout: float | None = None) -> Frame:
        """The device's reply to one request (any status), retried on silence."""
        self.seq = self.seq % 255 + 1  # 1..255: a request with sequence 0 would start like the REPL's Ctrl-C
        wire = encode_frame(command, self.seq, payload)
        wait = timeout or self.timeout
        name = COMMAND_NAMES.get(command, f"command 0x{command:02x}")
        for _attempt in range(self.retries + 1):
            try:
                self.ser.write(wire)
                self.bytes_sent += len(wire)
            except (serial.SerialException, OSError) as exc:
                raise EnvironmentProblem(f"writing {name}: {exc}", where=self.port) from exc
            reply = self._await(command, wait)
            if reply is not None:
                return reply
        raise EnvironmentProblem(f"no reply to {name} after {self.retries + 1} tries of {wait:g} s "
                                 "(is a keigov device on this port?)", where=self.port)

    def _await(self, command: int, wait: float) -> Frame | None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                data = self.ser.read(max(1, self.ser.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise EnvironmentProblem(f"reading: {exc}", where=self.port) from exc
            self.bytes_received += len(data)
            for frame in self.reader.feed(data):
                if frame.seq == self.seq and frame.command == command | P.REPLY:
                    return frame
        return None

    def call(self, command: int, payload: bytes = b"", *, timeout: float | None = None,
             param_names: list[str] | None = None) -> bytes:
        """The reply payload; DeviceRefused (with the device's reason) on an error status."""
        while True:
            reply = self.request(command, payload, timeout=timeout)
            if reply.status != P.E_BUSY:
                break
            time.sleep(0.05)
        if reply.status == P.OK:
            return reply.payload
        name = COMMAND_NAMES.get(command, f"command 0x{command:02x}")
        if reply.status in (P.E_REJECTED, P.E_NOT_PROVISIONED) and reply.payload:
            why = messages.rejection(reply.payload, param_names or [])
        else:
            why = P.STATUSES.get(reply.status, (f"status {reply.status}", "unknown status"))[1]
        raise DeviceRefused(f"{name}: {why}", where=self.port, status=reply.status)

    # -- commands ----------------------------------------------------------------------

    def info(self) -> messages.Info:
        return messages.decode_info(self.call(P.INFO))

    def status(self) -> dict[str, int]:
        return messages.decode_status(self.call(P.STATUS))

    def events(self, start: int = 0) -> Iterator[messages.Event]:
        while True:
            page = messages.decode_events(self.call(P.EVENTS, messages.events_request(start)))
            yield from page.events
            if page.resume >= page.next or page.resume <= start:
                return
            start = page.resume

    def clear_faults(self) -> None:
        self.call(P.CLEAR_FAULTS)

    def reboot(self) -> None:
        self.call(P.REBOOT)

    def config_push(self, blob: bytes, *, param_names: list[str] | None = None,
                    progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Send and commit a signed configuration; (installed version, slot)."""
        for off in range(0, len(blob), P.PUT_DATA_MAX):
            chunk = blob[off : off + P.PUT_DATA_MAX]
            self.call(P.CONFIG_PUT, messages.put_request(len(blob), off, chunk), param_names=param_names)
            if progress:
                progress(off + len(chunk), len(blob))
        reply = self.call(P.CONFIG_COMMIT, timeout=max(self.timeout, 5.0), param_names=param_names)
        return int.from_bytes(reply[:4], "little"), reply[4]

    def config_pull(self) -> bytes:
        out = bytearray()
        total = None
        while total is None or len(out) < total:
            reply = self.call(P.CONFIG_GET, messages.get_request(len(out)))
            total = int.from_bytes(reply[:4], "little")
            if len(reply) == 4 and len(out) < total:
                raise DeviceRefused(f"config get: no data at offset {len(out)} of {total}", where=self.port,
                                    status=P.OK)
            out += reply[4:]
        return bytes(out)


def add_port_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", required=True,
                        help="the device's serial port: /dev/ttyACM0, a pty, socket://HOST:PORT, rfc2217://HOST:PORT")
    parser.add_argument("--timeout", type=float, default=1.0, help="seconds to wait for each reply (default 1)")
    parser.add_argument("--retries", type=int, default=3, help="times a request is repeated on silence (default 3)")


def open_client(args: argparse.Namespace) -> DeviceClient:
    return DeviceClient(args.port, timeout=args.timeout, retries=args.retries)
