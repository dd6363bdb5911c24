"""python-can buses for the rig, chosen like python-can's own tools choose them.

`--interface`/`--channel` (or CAN_INTERFACE / CAN_CHANNEL, as python-can honours) pick
the bus; the default is python-can's in-process `virtual` interface on a fresh channel.
"""

from __future__ import annotations

import argparse
import os
import uuid

import can

from keigov.errors import EnvironmentProblem


def add_bus_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("CAN bus")
    group.add_argument("-i", "--interface", default=os.environ.get("CAN_INTERFACE", "virtual"),
                       help="python-can interface (default: virtual; e.g. socketcan with a vcan)")
    group.add_argument("-c", "--channel", default=os.environ.get("CAN_CHANNEL"),
                       help="channel, e.g. vcan0 (default: a private virtual channel)")
    group.add_argument("--bitrate", type=int, default=None, help="bitrate for interfaces that need one")


def open_bus(interface: str, channel: str | None, bitrate: int | None = None) -> can.BusABC:
    if channel is None:
        if interface != "virtual":
            raise EnvironmentProblem(f"interface {interface!r} needs --channel (e.g. vcan0)")
        channel = f"keigov-{uuid.uuid4().hex[:8]}"
    kwargs = {"bitrate": bitrate} if bitrate else {}
    try:
        return can.Bus(interface=interface, channel=channel, **kwargs)
    except (can.CanError, OSError, ImportError, ValueError) as exc:
        raise EnvironmentProblem(f"cannot open CAN bus {interface}:{channel}: {exc}") from exc
