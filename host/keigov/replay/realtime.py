"""`keigov replay --realtime`: a log played onto a CAN bus at recorded timing for a real
board under test, and what the board sends back recorded.

Like `python -m can.player` (can.MessageSync paces the frames), with what a gateway
would add: the inputs the host supplies (GNSS from a track or the map's [gateway], a
pedal the bus lacks) go out too, in place of any recorded frames of those messages.
Every frame the board sends is written to DIR/received.log (candump -L) and decoded
into the same timeline as the open loop's: the board's command and status, period by
period, against the recorded inputs. A board's events do not travel on CAN, so
events.json holds the state changes its frames showed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import can

from keigov.bus import IN_PROCESS, bus_choice, open_bus
from keigov.errors import InputError
from keigov.firmware_params import event_names
from keigov.replay.drive import Drive
from keigov.replay.fleet import exit_status, format_fleet, print_errors, write_fleet
from keigov.replay.frames import Selection
from keigov.replay.gnss import FixTimeline
from keigov.replay.outputs import finish_drive
from keigov.replay.rules import Rules
from keigov.replay.runner import OpenedDrive, ReplayRun, drive_fixes, open_drive
from keigov.replay.sides import PERIOD_MS, InputSide, OutputSide, period_of
from keigov.replay.vehicle import HostView, Vehicle
from keigov.report.junit import write_junit
from keigov.report.table import format_table
from keigov.simboard.process import DeviceEvent

_SKIP_GAPS_S = 60.0          # as can.player: a longer pause in the log is not waited out


class _Recorder(can.Listener):
    """The board's frames with the wall-clock time they arrived."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, int, bytes]] = []

    def on_message_received(self, msg: can.Message) -> None:
        if not msg.is_error_frame and not msg.is_remote_frame:
            fid = msg.arbitration_id | (0x20000000 if msg.is_extended_id else 0)
            self.frames.append((time.perf_counter(), fid, bytes(msg.data)))


def _messages(opened: OpenedDrive, inputs: InputSide) -> Iterator[can.Message]:
    """The drive's frames in time order with the supplied ones among them, as Messages."""
    start = opened.start
    k = 0

    def supplied(k: int) -> Iterator[can.Message]:
        t = start + k * PERIOD_MS / 1000
        for fid, data in inputs.close(k, t):
            yield _message(t, fid, data)

    for t, fid, data, _channel in opened.reader.frames():
        while k < period_of(t, start):
            yield from supplied(k)
            k += 1
        inputs.frame(t, fid, data)
        yield _message(t, fid, data)
    while k <= period_of(opened.reader.end or start, start):
        yield from supplied(k)
        k += 1


def _message(t: float, fid: int, data: bytes) -> can.Message:
    return can.Message(timestamp=t, arbitration_id=fid & 0x1FFFFFFF, is_extended_id=bool(fid & 0x20000000),
                       data=data)


def play_drive(drive: Drive, vehicle: Vehicle, view: HostView, bus: can.BusABC, out_dir: Path,
               track: FixTimeline | None, channels: frozenset[str] | None, label: str) -> ReplayRun:
    """Play one drive onto the bus at recorded timing; the board's answers by period."""
    # A real board reads the whole bus: every recorded frame goes out but those the host supplies.
    opened = open_drive(drive, vehicle, view, Selection(lambda fid: not view.supplied(fid), channels), track, channels)
    inputs = InputSide(view, vehicle, opened.supplier)
    recorder = _Recorder()
    out_dir.mkdir(parents=True, exist_ok=True)
    logger = can.Logger(str(out_dir / "received.log"))
    notifier = can.Notifier(bus, [recorder, logger])
    wall0 = time.perf_counter()
    try:
        for msg in can.MessageSync(_messages(opened, inputs), timestamps=True, skip=_SKIP_GAPS_S):
            bus.send(msg)
        time.sleep(0.05)       # the board's answer to the last frames
    finally:
        notifier.stop()
        logger.stop()
    periods = len(inputs.rows.speed_kph)
    outputs = _board_periods(view, recorder.frames, wall0, periods)
    if not inputs.used and not opened.reader.damages():
        raise InputError(f"no frame the map needs (its inputs: {', '.join(view.recorded_inputs())})",
                         where=", ".join(str(p) for p in drive.files))
    reader = opened.reader
    return ReplayRun(drive, opened.start, periods, inputs.rows, outputs.out,
                     drive_fixes(vehicle, opened, inputs.rows, inputs.native), reader.files, reader.frames_read,
                     inputs.used, opened.supplier.sent, 0, time.perf_counter() - wall0, label)


def _board_periods(view: HostView, frames: list[tuple[float, int, bytes]], wall0: float, periods: int
                   ) -> OutputSide:
    """The board's frames by the period of recorded time they arrived in; its state
    changes as events."""
    side = OutputSide(view)
    state_change = {name: code for code, name in event_names().items()}["state_change"]
    frames.sort(key=lambda f: f[0])
    at = 0
    state = side.state
    for k in range(periods):
        end = wall0 + k * PERIOD_MS / 1000
        while at < len(frames) and frames[at][0] <= end:
            side.frame(frames[at][1], frames[at][2])
            at += 1
        if side.state != state:
            state = side.state
            side.out.events.append(DeviceEvent(k * PERIOD_MS, state_change, state))
        side.period_done(None)
    return side


def play_realtime(drives: list[Drive], vehicle: Vehicle, rules: Rules, args: argparse.Namespace,
                  channels: frozenset[str] | None, track: FixTimeline | None) -> int:
    """`keigov replay --realtime`: each drive in turn onto the bus, then the usual outputs."""
    interface, channel, options = bus_choice(args)
    if interface in IN_PROCESS and not channel:
        raise InputError("--realtime plays onto a board's bus: give --interface and --channel (e.g. socketcan can0)")
    view = HostView(vehicle)
    label = f"board on {interface}:{channel}"
    bus = open_bus(interface, channel, options)
    results = []
    try:
        for drive in drives:
            out = args.out if len(drives) == 1 else args.out / drive.name
            run = play_drive(drive, vehicle, view, bus, out, track, channels, label)
            results.append(finish_drive(run, vehicle, rules, out, plot=not args.no_plot))
    finally:
        bus.shutdown()
    print(format_table(results, color=sys.stdout.isatty()))
    print(format_fleet(results, sys.stdout.isatty()))
    write_fleet(results, args.out)
    print_errors(results)
    if args.junit:
        write_junit(results, args.junit, "keigov replay")
    return exit_status(results)
