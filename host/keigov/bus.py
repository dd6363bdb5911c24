"""python-can buses for the rig, chosen like python-can's own tools choose them.

`-i/--interface`, `-c/--channel`, `-b/--bitrate`, `--fd`, `--data-bitrate` and
`--bus-option KEY=VALUE` pick the bus; whatever they leave open comes from python-can's
own configuration (CAN_INTERFACE / CAN_CHANNEL / CAN_BITRATE, ~/.canrc, can.rc), so a
PCAN, Kvaser or Vector user's setup applies as it does to `can.viewer`. With no interface
anywhere the bus is keigov's in-process `keigov_virtual` interface (keigov.virtualbus:
python-can's `virtual`, made cheap enough for a rig at 100x real time) on a fresh channel.
"""

from __future__ import annotations

import argparse
import time
import uuid
from typing import Any

import can

from keigov.errors import EnvironmentProblem, InputError
from keigov.virtualbus import INTERFACE

IN_PROCESS = (INTERFACE, "virtual")     # buses that live in this process: a private channel by default


class Sender:
    """Puts frames on a bus through one reused message per frame id.

    send() never keeps the message it is given: the virtual bus copies it, the others
    serialize it at once, and python-can's own periodic tasks send one Message object
    again and again with its data changed in place. So the rig need not build one per
    frame (a constructor call with a dozen keywords).
    """

    def __init__(self, bus: can.BusABC) -> None:
        self.bus = bus
        self._messages: dict[int, can.Message] = {}

    def send(self, frame_id: int, data: bytes, extended: bool) -> None:
        key = frame_id | (_EXTENDED if extended else 0)
        msg = self._messages.get(key)
        if msg is None:
            msg = self._messages[key] = can.Message(arbitration_id=frame_id, is_extended_id=extended)
        msg.data[:] = data
        msg.dlc = len(data)
        self.bus.send(msg)


_EXTENDED = 1 << 29


def receive(bus: can.BusABC, at_least: int, *, settle: bool, what: str, wait_s: float = 2.0) -> list[can.Message]:
    """Data frames from `bus`: at least `at_least`, waiting up to `wait_s` for them; then,
    with `settle`, every frame already queued as well.

    Without `settle` the caller knows nothing else is on the bus (the rig's private
    virtual channel), which saves an empty poll per call, and a call for no frames costs
    nothing. Error and remote frames are skipped: no node of the rig uses them.
    """
    frames: list[can.Message] = []
    recv = bus.recv
    deadline = None
    while len(frames) < at_least:
        msg = recv(0.01)
        if msg is None:
            now = time.monotonic()
            if deadline is None:
                deadline = now + wait_s
            elif now > deadline:
                raise EnvironmentProblem(f"{what}: {len(frames)} of {at_least} frames arrived within {wait_s} s; "
                                         "is the channel shared with a busy bus?")
        elif not (msg.is_error_frame or msg.is_remote_frame):
            frames.append(msg)
    while settle and (msg := recv(0)) is not None:
        if not (msg.is_error_frame or msg.is_remote_frame):
            frames.append(msg)
    return frames


def add_bus_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("CAN bus (what is not given comes from python-can's configuration)")
    group.add_argument("-i", "--interface", default=None,
                       help="python-can interface, e.g. socketcan, pcan, kvaser, vector, virtual "
                       f"(default: python-can's configuration: CAN_INTERFACE, ~/.canrc; else {INTERFACE}, "
                       "keigov's in-process bus)")
    group.add_argument("-c", "--channel", default=None,
                       help="channel, e.g. vcan0 or PCAN_USBBUS1 (default: python-can's configuration; on an "
                       "in-process bus, a private channel)")
    group.add_argument("-b", "--bitrate", type=int, default=None, help="bitrate (bit/s) for interfaces that need one")
    group.add_argument("--fd", action="store_true", help="open the bus in CAN FD mode")
    group.add_argument("--data-bitrate", type=int, default=None, help="CAN FD data-phase bitrate (bit/s)")
    group.add_argument("--bus-option", action="append", default=[], metavar="KEY=VALUE",
                       help="an interface-specific python-can keyword (repeatable), e.g. app_name=CANalyzer; "
                       "numbers and true/false are converted")


BusOptions = tuple[tuple[str, Any], ...]


def bus_choice(args: argparse.Namespace) -> tuple[str, str | None, BusOptions]:
    """(interface, channel, other keywords) from the arguments, then python-can's own
    configuration (can.util.load_config), then keigov's in-process interface."""
    given: dict[str, Any] = {}
    for key in ("interface", "channel", "bitrate", "data_bitrate"):
        if getattr(args, key, None) is not None:
            given[key] = getattr(args, key)
    if getattr(args, "fd", False):
        given["fd"] = True
    for item in getattr(args, "bus_option", []):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--bus-option {item!r}: expected KEY=VALUE")
        given[key.strip()] = can.util.cast_from_string(value.strip())
    try:
        config = dict(can.util.load_config(config=given))
    except can.CanInterfaceNotImplementedError as exc:
        if "interface" in given or '"None"' not in str(exc):
            raise InputError(f"--interface (or python-can's configuration): {exc}") from None
        config = dict(can.util.load_config(config={**given, "interface": INTERFACE}))   # none anywhere
    interface = config.pop("interface", None) or INTERFACE
    channel = config.pop("channel", None)
    options = tuple(sorted((k, v) for k, v in config.items() if v is not None))
    return interface, None if channel is None else str(channel), options


def open_bus(interface: str, channel: str | None, options: BusOptions = ()) -> can.BusABC:
    if channel is None:
        if interface not in IN_PROCESS:
            raise EnvironmentProblem(f"interface {interface!r} needs --channel (e.g. vcan0)")
        channel = f"keigov-{uuid.uuid4().hex[:8]}"
    try:
        bus = can.Bus(interface=interface, channel=channel, **dict(options))
    except (can.CanError, OSError, ImportError, ValueError, TypeError) as exc:
        raise EnvironmentProblem(f"cannot open CAN bus {interface}:{channel}: {exc}") from exc
    return bus

