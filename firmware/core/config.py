"""Governor parameters: defaults, bounds and units as data.

Every value is an integer in firmware units. The installed configuration (a signed blob,
core/cfgblob.py) is accepted only if every name is known and every value inside these
bounds; otherwise it is refused whole and the built-in defaults apply (deny by default),
with a status flag and an event saying why (`defaults_reason`).
"""
from micropython import const

REJECT_MISSING = const(1)     # defaults_reason: no configuration installed

# name, default, minimum, maximum. Speeds in 0.01 km/h, torque in 0.1 %, times in ms.
PARAMS = (
    ("cap_ckph", 6437, 800, 13000),             # 40 mph
    ("limp_ckph", 1609, 0, 4000),               # 10 mph
    ("setpoint_margin_ckph", 50, 0, 300),       # hold this far below the limit
    ("overspeed_margin_ckph", 200, 50, 1000),   # warn above limit + margin ...
    ("overspeed_ms", 500, 0, 5000),             # ... held this long
    ("fault_decel_ckph_s", 650, 100, 720),      # ramp to any lower limit (720 = 2 m/s^2) ...
    ("limit_jerk_ckph_s2", 900, 100, 5000),     # ... its rate changing at most this fast (2.5 m/s^3)
    ("torque_ramp_down_pm_s", 1000, 100, 5000),  # governor torque decrease, 0.1 %/s
    ("torque_ramp_up_pm_s", 500, 100, 5000),
    ("kp_q10", 3413, 0, 16384),                 # 0.1 % per 0.01 km/h, x1024
    ("ki_q10", 1536, 0, 8192),                  # 0.1 % per (0.01 km/h * s), x1024
    ("lookahead_ms", 600, 0, 2000),             # speed prediction horizon
    ("regen_kp_q10", 2560, 0, 16384),           # regen request: 0.1 % per 0.01 km/h over the limit, x1024
    ("regen_ki_q10", 1024, 0, 8192),            # 0.1 % per (0.01 km/h * s), x1024
    ("regen_max_pm", 1000, 0, 1000),            # the most regen the governor asks for
    ("regen_ramp_pm_s", 500, 100, 5000),        # regen request rate (bounds the jerk)
    ("plausibility_ckph", 300, 100, 2000),      # wheel spread allowed: max(this, ...
    ("plausibility_pct", 10, 1, 50),            # ... this % of speed)
    ("plausibility_ms", 500, 0, 5000),          # for longer than this (one outlier wheel is voted out)
    ("speed_rate_ckph_s", 5300, 1000, 30000),   # a speed step faster than this (1.5 g) is refused
    ("xcheck_ckph", 300, 100, 2000),            # wheels vs GNSS (good fix) allowed: max(this, ...
    ("xcheck_pct", 10, 1, 50),                  # ... this % of the lower) ...
    ("xcheck_ms", 2000, 0, 10000),              # ... disagreeing longer: limit on the higher
    ("fault_recover_ms", 1000, 0, 60000),       # inputs good this long to leave FAULT
    ("init_timeout_ms", 1000, 100, 10000),      # inputs must be valid this soon after boot (or, for a
                                                # slower source, 4 of its periods: core/safety.py)
    ("gnss_min_fix", 2, 1, 5),
    ("gnss_min_satellites", 5, 0, 63),
    ("gnss_max_hdop_d", 40, 5, 1000),           # 0.1 units
    # Geofence (core/zonestate.py; the signed configuration carries them).
    ("lockout_ckph", 1609, 0, 4000),            # limit inside a freeway-lockout zone
    ("zone_hysteresis_m", 15, 0, 200),          # a looser zone applies this far past its edge
    ("zone_dwell_ms", 2500, 0, 30000),          # ... and after this long inside it
    ("zone_fallback_ckph", 4023, 100, 13000),   # without GNSS past the hold (25 mph)
    ("zone_hold_ms", 10000, 0, 120000),         # keep the zone state this long without a fix ...
    ("zone_hold_m", 200, 0, 5000),              # ... and this far (wheel odometry)
    ("zone_jump_margin_m", 30, 5, 500),         # GNSS error allowed on top of wheel travel
    ("zone_reanchor_ms", 10000, 1000, 120000),  # rejected fixes agreeing this long re-anchor
    ("zone_heading_min_ckph", 500, 0, 3000),    # below this GNSS heading counts as unknown
)


class Config:
    def __init__(self):
        for name, default, _lo, _hi in PARAMS:
            setattr(self, name, default)
        self.defaults_reason = 0  # 0: stored configuration in force
