"""The link protocol's numbers as the host names them, mirroring firmware/core/link.py,
core/service.py and core/cfgblob.py (a test checks that both sides agree).

Every byte is documented in docs/link-protocol.md.
"""

from __future__ import annotations

VERSION = 1
MAX_PAYLOAD = 255

INFO = 0x01
STATUS = 0x02
EVENTS = 0x03
CONFIG_GET = 0x04
CONFIG_PUT = 0x05
CONFIG_COMMIT = 0x06
CLEAR_FAULTS = 0x07
REBOOT = 0x08
REPLY = 0x80

PUT_DATA_MAX = 247
GET_DATA_MAX = 251
EVENTS_MAX = 11

# Reply status codes: (name, what the operator is told).
STATUSES: dict[int, tuple[str, str]] = {
    0: ("ok", "done"),
    1: ("version", "the device speaks another protocol version"),
    2: ("unknown_command", "the device does not know this command"),
    3: ("length", "the request had the wrong length for its command"),
    4: ("argument", "a request field was out of range"),
    5: ("busy", "the device is busy; try again"),
    6: ("offset", "configuration chunk out of sequence"),
    7: ("rejected", "the device refused the configuration"),
    8: ("storage", "the device's storage failed to write or read back"),
    9: ("no_transfer", "no complete configuration transfer to commit"),
    10: ("not_provisioned", "the device has no key; provision it first"),
    11: ("not_found", "nothing to read (no configuration installed, or no event log)"),
    15: ("internal", "the device's command handler failed"),
}
OK = 0
E_BUSY = 5
E_REJECTED = 7
E_NOT_PROVISIONED = 10

# Why a configuration was refused (firmware core/cfgblob.py R_*): (name, explanation).
REASONS: dict[int, tuple[str, str]] = {
    1: ("truncated", "shorter than its header says, or the transfer stopped early"),
    2: ("too_large", "larger than a configuration slot on the device"),
    3: ("bad_magic", "not a keigov configuration"),
    4: ("bad_format", "a format version this firmware does not know"),
    5: ("wrong_device", "built for another device"),
    6: ("bad_mac", "not signed with this device's key, or altered after signing"),
    7: ("replay", "this version is already installed; raise `version`"),
    8: ("rollback", "older than the installed version; raise `version`"),
    9: ("bad_version", "version must be 1 .. 2**30-1"),
    10: ("malformed", "sections or parameter entries are malformed"),
    11: ("unknown_section", "a section type this firmware does not accept"),
    12: ("unknown_param", "a parameter this firmware does not have"),
    13: ("duplicate_param", "a parameter is given twice"),
    14: ("out_of_range", "a parameter is outside the firmware's bounds"),
    15: ("cap_not_allowed", "the cap is outside the bounds provisioned for this device"),
    16: ("inconsistent", "a limit is above the cap"),
    17: ("tables_mismatch", "built for other signal tables than the firmware runs"),
    18: ("section_rejected", "a section's own checker refused it"),
    19: ("not_provisioned", "the device has no key"),
}
NO_DETAIL = 0xFF

# STATUS reply fields, in order.
STATUS_FIELDS = (
    "state", "speed_ckph", "limit_ckph", "zone", "flags", "torque_pm", "odometer_m", "loop_us_max",
    "config_version", "events_next", "link_frames", "link_bad_crc", "link_bad_frame", "link_oversized",
    "kept", "last_fault_ms", "last_fault_flags", "last_lockout_ms", "last_lockout_zone",
)


def status_name(code: int) -> str:
    return STATUSES.get(code, (f"status_{code}", ""))[0]


def reason_name(code: int) -> str:
    return REASONS.get(code, (f"reason_{code}", ""))[0]


BOOT_REASONS = {0: "stored configuration", 1: "defaults: none stored"}


def boot_reason(code: int) -> str:
    if code in BOOT_REASONS:
        return BOOT_REASONS[code]
    if code >= 0x100:
        return f"defaults: stored configuration refused ({reason_name(code - 0x100)})"
    return f"defaults (reason {code})"
