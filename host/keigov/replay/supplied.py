"""Inputs the host supplies on the governor's own messages (dbc/keigov.dbc), packed with
counters and checksums as their senders would (keigov.dbc.e2e.FramePacker).

GNSS: GNSS_FIX_LAT, GNSS_FIX_LON (the same counter: the device pairs them by it) and
GNSS_VELOCITY every 100 ms, their cycle time, from the fix timeline at that moment
(keigov_hil.ecus.gnss_messages encodes a fix, as the HIL rig's receiver does). Pedal:
DRIVER_INPUTS every 20 ms with a constant demand and the brake released.
"""

from __future__ import annotations

from keigov import paths
from keigov.dbc.e2e import FramePacker
from keigov.gnss import PAIRED_WITH_LAT, gnss_messages
from keigov.replay.gnss import FixTimeline

GNSS_PERIODS = 10        # control periods (10 ms) per GNSS message cycle
PEDAL_PERIODS = 2


class Supplier:
    """The supplied frames for each control period of a drive."""

    def __init__(self, fixes: FixTimeline | None, pedal_pct: float | None) -> None:
        self.packer = FramePacker.from_map(paths.KEIGOV_MAP)
        self.fixes = fixes
        self._pedal: list[tuple[int, bytes]] = []
        if pedal_pct is not None:
            # The demand never changes: one frame per counter value, packed once.
            width = self.packer.message("DRIVER_INPUTS").get_signal_by_name("DRIVER_INPUTS_COUNTER").length
            self._pedal = [self.packer.pack("DRIVER_INPUTS", {"ACCEL_PEDAL_POS": pedal_pct, "BRAKE_SWITCH": 0})
                           for _ in range(1 << width)]
        self._pedal_at = 0
        self.sent = 0

    def frames(self, period: int, t_abs: float) -> list[tuple[int, bytes]]:
        out: list[tuple[int, bytes]] = []
        if self._pedal and period % PEDAL_PERIODS == 0:
            out.append(self._pedal[self._pedal_at])
            self._pedal_at = (self._pedal_at + 1) % len(self._pedal)
        if self.fixes is not None and period % GNSS_PERIODS == 0:
            fix = self.fixes.at(t_abs)
            if fix is not None:
                seq = self.packer.counters.get("GNSS_FIX_LAT", -1) + 1
                for name, values in gnss_messages(fix):
                    out.append(self.packer.pack(name, values, counter=seq if name in PAIRED_WITH_LAT else None))
        self.sent += len(out)
        return out
