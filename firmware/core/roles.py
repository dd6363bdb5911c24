"""What the governor reads and writes, independent of any vehicle's DBC.

A compiled signal table (`tables/`) maps DBC signals to these roles with a conversion
into the firmware's fixed-point units, so the control logic never sees a DBC name.

Units: speeds in 0.01 km/h (ckph), pedal and torque in 0.1 % (permille), HDOP in 0.1,
heading in 0.01 deg, coordinates in 1e-7 deg split into 16-bit halves (no big ints).
"""
from micropython import const

# Inputs: index into the decoded-input array.
IN_WHEEL_FL = const(0)
IN_WHEEL_FR = const(1)
IN_WHEEL_RL = const(2)
IN_WHEEL_RR = const(3)
IN_PEDAL = const(4)
IN_BRAKE = const(5)
IN_FIX_TYPE = const(6)
IN_SATELLITES = const(7)
IN_HDOP = const(8)
IN_LAT_HI = const(9)
IN_LAT_LO = const(10)
IN_LON_HI = const(11)
IN_LON_LO = const(12)
IN_GNSS_SPEED = const(13)
IN_GNSS_HEADING = const(14)
IN_VEHICLE_SPEED = const(15)   # one speed signal (e.g. J1939 CCVS1) for vehicles without wheel speeds
N_INPUTS = const(16)

# Outputs: index into the output-value array the encoder reads.
OUT_TORQUE_LIMIT = const(0)
OUT_SPEED_LIMIT = const(1)
OUT_STATE = const(2)
OUT_ZONE = const(3)
OUT_VEHICLE_SPEED = const(4)
OUT_ODOMETER_DAM = const(5)
OUT_EVENT_COUNT = const(6)
OUT_LOOP_TIME_MAX = const(7)
OUT_REGEN_REQUEST = const(8)   # permille of the drivetrain's regen torque (0 while torque > 0)
OUT_ACTIVE_LIMIT = const(9)    # the limit in force now; OUT_SPEED_LIMIT ramps to it
OUT_FLAGS = const(10)          # last: an output's role below FLAG_BASE is an index here
N_OUTPUTS = const(11)
# An output signal whose role is FLAG_BASE + n carries bit n of OUT_FLAGS.
FLAG_BASE = const(32)

# Status flag bits (OUT_FLAGS).
FLAG_OVERSPEED = const(0)
FLAG_SPEED_TIMEOUT = const(1)
FLAG_SPEED_CHECK = const(2)
FLAG_SPEED_IMPLAUSIBLE = const(3)   # wheels and GNSS disagree: limiting on the higher
FLAG_PEDAL_FAULT = const(4)
FLAG_GNSS_INVALID = const(5)
FLAG_SPEED_FROM_GNSS = const(6)
FLAG_CONFIG_DEFAULTS = const(7)
FLAG_LOCKOUT = const(8)          # a freeway lockout is latched (state LOCKOUT unless FAULT)
FLAG_ZONE_HOLD = const(9)        # GNSS lost: the last zone state is held
FLAG_ZONE_FALLBACK = const(10)   # the conservative fallback limit is in force (no usable GNSS)
FLAG_WHEEL_OUTLIER = const(11)   # one wheel voted out; the other three give the speed
FLAG_WHEELS_DISAGREE = const(12)  # fewer than three wheels agree (FAULT)
FLAG_SPEED_STALE = const(13)     # the speed message is late: no torque increase
FLAG_DRIVER_ALERT = const(14)    # over the limit with no braking authority left
# Flags the zone state sets (core/safety.py).
ZONE_FLAGS = const((1 << FLAG_LOCKOUT) | (1 << FLAG_ZONE_HOLD) | (1 << FLAG_ZONE_FALLBACK))
# Flags that put the governor in FAULT.
FAULT_FLAGS = const(
    (1 << FLAG_SPEED_TIMEOUT) | (1 << FLAG_SPEED_CHECK) | (1 << FLAG_WHEELS_DISAGREE) | (1 << FLAG_PEDAL_FAULT)
)

# Message kinds the safety logic needs to tell apart (RX_KIND in a table).
MSG_WHEEL_SPEED = const(1)
MSG_DRIVER = const(2)
MSG_GNSS_LAT = const(3)
MSG_GNSS_LON = const(4)
MSG_GNSS_VELOCITY = const(5)
MSG_VEHICLE_SPEED = const(6)
MSG_COMMAND = const(11)
MSG_STATUS = const(12)
MSG_TELEMETRY = const(13)

# Checksum schemes (RX_CHECKSUM_KIND / TX_CHECKSUM_KIND) index the table's CHECKSUM_*
# columns (core.checksums); these two always have these indices.
CHECKSUM_NONE = const(0)
CHECKSUM_CRC8_J1850_ID = const(1)
