"""The governor application: one control period at a time.

`Governor(can, watchdog, table, cfg, fence=...)` takes its hardware from the board, its
signal table from `tables/` and its zones (core.geofence) from the installed
configuration (core/node.py assembles all of it); `step(now)` is the whole control period: drain and
check every received frame, expire stale inputs, decide, transmit what is due, feed the
watchdog. It allocates nothing after construction; boards call it on their own schedule.
"""
from core import events, roles
from core.events import EventLog
from core.rx import Receiver
from core.safety import Supervisor
from core.tx import Transmitter

PERIOD_MS = 10


class Governor:
    def __init__(self, can, watchdog, table, cfg, log=None, fence=None):
        self.can = can
        self.watchdog = watchdog
        self.cfg = cfg
        self.log = log if log is not None else EventLog()
        self.rx = Receiver(table, self.log)
        self.tx = Transmitter(table, can)
        # Regen is asked for only where the map gives the request a signal.
        regen = roles.OUT_REGEN_REQUEST in table.TX_SIG_ROLE
        self.safety = Supervisor(cfg, table, self.rx, self.log, PERIOD_MS, fence, regen)
        self._frame = bytearray(64)
        self.loop_us_max = 0       # longest step in the current telemetry window
        self._loop_us_window = 0
        self.steps = 0
        self._booted = False

    def step(self, now):
        if not self._booted:
            self._booted = True
            self.log.record(events.BOOT, now, self.cfg.defaults_reason)
            if self.cfg.defaults_reason:
                self.log.record(events.CONFIG_DEFAULTS, now, self.cfg.defaults_reason)
        can = self.can
        rx = self.rx
        buf = self._frame
        rx.clear_fresh()
        n = can.recv(buf)
        while n >= 0:
            rx.feed(can.rx_id, buf, n, now)
            n = can.recv(buf)
        rx.expire(now)
        s = self.safety
        torque = s.step(now)
        out = self.tx.values
        out[roles.OUT_TORQUE_LIMIT] = torque
        out[roles.OUT_SPEED_LIMIT] = s.ref  # the ramped limit: an MCU enforcing it never brakes hard
        out[roles.OUT_ACTIVE_LIMIT] = s.limit
        out[roles.OUT_REGEN_REQUEST] = s.regen
        out[roles.OUT_STATE] = s.state
        out[roles.OUT_ZONE] = s.zone_id
        out[roles.OUT_VEHICLE_SPEED] = s.speed
        out[roles.OUT_ODOMETER_DAM] = s.odometer_m // 10
        out[roles.OUT_EVENT_COUNT] = self.log.count & 0xFF
        out[roles.OUT_LOOP_TIME_MAX] = self._loop_us_window
        out[roles.OUT_FLAGS] = s.flags
        self.tx.send_due(now)
        self.log.flush(now)     # ends bursts of repeated events (core/events.py)
        self.watchdog.feed()
        self.steps += 1

    def note_loop_time(self, us):
        """Boards report how long each step took; telemetry carries the worst per second."""
        if us > self.loop_us_max:
            self.loop_us_max = us
        if self.steps % 100 == 0:
            self._loop_us_window = self.loop_us_max
            self.loop_us_max = 0
