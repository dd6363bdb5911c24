"""python-can buses for the rig, chosen like python-can's own tools choose them.

`-i/--interface`, `-c/--channel`, `-b/--bitrate`, `--fd`, `--data-bitrate` and
`--bus-option KEY=VALUE` pick the bus; whatever they leave open comes from python-can's
own configuration (CAN_INTERFACE / CAN_CHANNEL / CAN_BITRATE, ~/.canrc, can.rc), so a
PCAN, Kvaser or Vector user's setup applies as it does to `can.viewer`. With no interface
anywhere the bus is python-can's in-process `virtual` interface on a fresh channel.
The rig sends `FastCopyMessage`s: python-can Messages that the virtual bus copies cheaply,
and its virtual buses queue frames in C (`lighten_virtual`).
"""

from __future__ import annotations

import argparse
import queue
import time
import uuid
from typing import Any

import can

from keigov.errors import EnvironmentProblem, InputError


class FastCopyMessage(can.Message):
    """A python-can Message with a cheap deep copy.

    The virtual bus deep-copies every frame it sends once per receiver, and Message's own
    __deepcopy__ goes through its constructor and copies the payload's bytearray through
    copyreg: most of a send. This copy sets the same fields directly (every field but the
    payload is immutable); tests/test_hil_bus.py compares it with python-can's.

    copy.deepcopy then keeps the original alive in the memo's list at memo[id(memo)],
    which it creates by catching a KeyError on the first copy into a fresh memo: on
    every send. The list is made here, so deepcopy appends to it instead of raising.
    """

    __slots__ = ()

    def __deepcopy__(self, memo: dict | None) -> "FastCopyMessage":
        if memo is not None and id(memo) not in memo:
            memo[id(memo)] = []
        m = _new(FastCopyMessage)
        m.timestamp = self.timestamp
        m.arbitration_id = self.arbitration_id
        m.is_extended_id = self.is_extended_id
        m.is_remote_frame = self.is_remote_frame
        m.is_error_frame = self.is_error_frame
        m.channel = self.channel
        m.dlc = self.dlc
        m.data = bytearray(self.data)
        m.is_fd = self.is_fd
        m.is_rx = self.is_rx
        m.bitrate_switch = self.bitrate_switch
        m.error_state_indicator = self.error_state_indicator
        return m


_new = object.__new__


class Sender:
    """Puts frames on a bus through one reused message per frame id.

    send() never keeps the message it is given: the virtual bus copies it, the others
    serialize it at once, and python-can's own periodic tasks send one Message object
    again and again with its data changed in place. So the rig need not build one per
    frame (a constructor call with a dozen keywords).
    """

    def __init__(self, bus: can.BusABC) -> None:
        self.bus = bus
        self._messages: dict[int, FastCopyMessage] = {}

    def send(self, frame_id: int, data: bytes, extended: bool) -> None:
        key = frame_id | (_EXTENDED if extended else 0)
        msg = self._messages.get(key)
        if msg is None:
            msg = self._messages[key] = FastCopyMessage(arbitration_id=frame_id, is_extended_id=extended)
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
                       help="python-can interface, e.g. socketcan, pcan, kvaser, vector (default: python-can's "
                       "configuration: CAN_INTERFACE, ~/.canrc; else virtual)")
    group.add_argument("-c", "--channel", default=None,
                       help="channel, e.g. vcan0 or PCAN_USBBUS1 (default: python-can's configuration; on virtual, "
                       "a private channel)")
    group.add_argument("-b", "--bitrate", type=int, default=None, help="bitrate (bit/s) for interfaces that need one")
    group.add_argument("--fd", action="store_true", help="open the bus in CAN FD mode")
    group.add_argument("--data-bitrate", type=int, default=None, help="CAN FD data-phase bitrate (bit/s)")
    group.add_argument("--bus-option", action="append", default=[], metavar="KEY=VALUE",
                       help="an interface-specific python-can keyword (repeatable), e.g. app_name=CANalyzer; "
                       "numbers and true/false are converted")


BusOptions = tuple[tuple[str, Any], ...]


def bus_choice(args: argparse.Namespace) -> tuple[str, str | None, BusOptions]:
    """(interface, channel, other keywords) from the arguments, then python-can's own
    configuration (can.util.load_config), then the virtual interface."""
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
        config = dict(can.util.load_config(config={**given, "interface": "virtual"}))   # none anywhere
    interface = config.pop("interface", None) or "virtual"
    channel = config.pop("channel", None)
    options = tuple(sorted((k, v) for k, v in config.items() if v is not None))
    return interface, None if channel is None else str(channel), options


def open_bus(interface: str, channel: str | None, options: BusOptions = ()) -> can.BusABC:
    if channel is None:
        if interface != "virtual":
            raise EnvironmentProblem(f"interface {interface!r} needs --channel (e.g. vcan0)")
        channel = f"keigov-{uuid.uuid4().hex[:8]}"
    try:
        bus = can.Bus(interface=interface, channel=channel, **dict(options))
    except (can.CanError, OSError, ImportError, ValueError, TypeError) as exc:
        raise EnvironmentProblem(f"cannot open CAN bus {interface}:{channel}: {exc}") from exc
    lighten_virtual(bus)
    return bus


def lighten_virtual(bus: can.BusABC) -> bool:
    """Give a python-can virtual bus a C queue for its received frames; True if it took one.

    VirtualBus keeps each bus's received frames in a `queue.Queue` on its channel's list
    and only ever calls put(msg, block, timeout) and get(block, timeout) on it (Empty
    when none comes). Queue does that through pure-Python locks and conditions: more than
    half of a hop's cost (5-8 us of a 8 us send+recv on these VMs). `queue.SimpleQueue`
    keeps the same contract in C (3 us a hop). An unbounded Queue (python-can's default
    rx_queue_size) is swapped in place on the channel's list, so every bus on the channel,
    a user's own among them, still reaches this one; any other bus, or a python-can whose
    VirtualBus is built otherwise, is left as it is.
    """
    try:
        from can.interfaces.virtual import VirtualBus, channels_lock
    except ImportError:        # a python-can laid out otherwise keeps its own queues
        return False
    old = getattr(bus, "queue", None)
    if type(bus) is not VirtualBus or type(old) is not queue.Queue or old.maxsize != 0:
        return False
    with channels_lock:
        members = getattr(bus, "channel", None)
        if not isinstance(members, list):
            return False
        at = next((i for i, q in enumerate(members) if q is old), None)
        if at is None or not old.empty():
            return False
        new: queue.SimpleQueue = queue.SimpleQueue()
        members[at] = new
        bus.queue = new  # type: ignore[assignment]
    return True
