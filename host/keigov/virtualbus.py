"""keigov's in-process CAN bus: python-can interface `keigov_virtual`.

The bus the rig runs on when nothing names another. It behaves as python-can's `virtual`
interface does: every bus opened on a channel sees the frames the others send, in order,
each receiver its own copy stamped with the send time, and a bus never sees its own
frames unless asked to. It differs in cost only: each bus's received frames wait in a
C queue (queue.SimpleQueue) rather than in queue.Queue's pure-Python locks, and a frame is
copied field by field rather than through copy.deepcopy, which is most of a virtual send.

Registered as a python-can interface by keigov's package metadata (entry point group
`can.interface`), so `can.Bus(interface="keigov_virtual", channel="x")`, `-i keigov_virtual`
and python-can's configuration files name it like any other interface.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import can

INTERFACE = "keigov_virtual"

_channels: dict[Any, list[VirtualBus]] = {}
_channels_lock = threading.Lock()
_new = object.__new__


def copy_message(msg: can.Message, timestamp: float, channel: Any, is_rx: bool) -> can.Message:
    """A received copy of `msg` (every field but the payload is immutable)."""
    m = _new(can.Message)
    m.timestamp = timestamp
    m.arbitration_id = msg.arbitration_id
    m.is_extended_id = msg.is_extended_id
    m.is_remote_frame = msg.is_remote_frame
    m.is_error_frame = msg.is_error_frame
    m.channel = channel
    m.dlc = msg.dlc
    m.data = bytearray(msg.data)
    m.is_fd = msg.is_fd
    m.is_rx = is_rx
    m.bitrate_switch = msg.bitrate_switch
    m.error_state_indicator = msg.error_state_indicator
    return m


class VirtualBus(can.BusABC):
    """An in-process bus on a named channel (any hashable value)."""

    def __init__(self, channel: Any = "channel-0", receive_own_messages: bool = False,
                 preserve_timestamps: bool = False, **kwargs: Any) -> None:
        kwargs.pop("bitrate", None)          # a configured bitrate means nothing here
        kwargs.pop("data_bitrate", None)
        fd = bool(kwargs.pop("fd", False))
        super().__init__(channel=channel, **kwargs)
        self.channel_id = channel
        self.channel_info = f"keigov virtual bus channel {channel}"
        self._can_protocol = can.CanProtocol.CAN_FD if fd else can.CanProtocol.CAN_20
        self.receive_own_messages = receive_own_messages
        self.preserve_timestamps = preserve_timestamps
        self._queue: queue.SimpleQueue[can.Message] = queue.SimpleQueue()
        self._open = True
        with _channels_lock:
            self._members = _channels.setdefault(channel, [])
            self._members.append(self)

    def send(self, msg: can.Message, timeout: float | None = None) -> None:
        if not self._open:
            raise can.CanOperationError("Cannot operate on a closed bus")
        timestamp = msg.timestamp if self.preserve_timestamps else time.time()
        for bus in self._members:
            if bus is not self:
                bus._queue.put(copy_message(msg, timestamp, self.channel_id, True))
            elif self.receive_own_messages:
                self._queue.put(copy_message(msg, timestamp, self.channel_id, False))

    def _recv_internal(self, timeout: float | None) -> tuple[can.Message | None, bool]:
        if not self._open:
            raise can.CanOperationError("Cannot operate on a closed bus")
        try:
            return self._queue.get(timeout=timeout), False
        except queue.Empty:
            return None, False

    def shutdown(self) -> None:
        super().shutdown()
        if self._open:
            self._open = False
            with _channels_lock:
                self._members.remove(self)
                if not self._members:
                    del _channels[self.channel_id]

    @staticmethod
    def _detect_available_configs() -> list[can.typechecking.AutoDetectedConfig]:
        with _channels_lock:
            return [{"interface": INTERFACE, "channel": channel} for channel in _channels]
