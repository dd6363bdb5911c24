"""The fuzz campaign of tests/fuzz_support.py on the device runtime (MicroPython unix port).

  micropython run_fuzz.py SECONDS SEED MODE [MODE ...]     (working directory: firmware/)

prints one JSON line of metrics per mode. The real firmware (core.app.Governor on a RAM
CAN) is driven closed-loop; frames are packed here by a small packer of our own (bit
packing from the DBC's layout, CRC-8 SAE J1850 over the id's low byte), never by the
firmware's codec, and tests/test_fw_fuzz.py proves it byte for byte against the host's
FramePacker. Runs under CPython too, where it must give the same figures.
"""
import sys

# name: (frame id, ((signal, start bit, length, motorola, scale), ...), counter, checksum), from dbc/keigov.dbc
LAYOUT = {
    "WHEEL_SPEEDS": (0x0B0, (("WHEEL_SPEED_FL", 7, 13, 1, 0.025), ("WHEEL_SPEED_FR", 10, 13, 1, 0.025),
                             ("WHEEL_SPEED_RL", 29, 13, 1, 0.025), ("WHEEL_SPEED_RR", 32, 13, 1, 0.025)),
                     (51, 4, 1), (63, 8, 1)),
    "DRIVER_INPUTS": (0x0C0, (("ACCEL_PEDAL_POS", 0, 10, 0, 0.1), ("BRAKE_SWITCH", 10, 1, 0, 1)),
                      (48, 4, 0), (56, 8, 0)),
    "GNSS_FIX_LAT": (0x3A0, (("LATITUDE", 0, 32, 0, 1e-7), ("FIX_TYPE", 32, 3, 0, 1), ("NUM_SATELLITES", 35, 6, 0, 1)),
                     (48, 4, 0), (56, 8, 0)),
    "GNSS_FIX_LON": (0x3A1, (("LONGITUDE", 0, 32, 0, 1e-7), ("HDOP", 32, 10, 0, 0.1)), (48, 4, 0), (56, 8, 0)),
    "GNSS_VELOCITY": (0x3A2, (("GNSS_SPEED", 0, 16, 0, 0.01), ("GNSS_HEADING", 16, 16, 0, 0.01)),
                      (48, 4, 0), (56, 8, 0)),
}


def _crc_table():
    t = bytearray(256)
    for i in range(256):
        c = i
        for _ in range(8):
            c = ((c << 1) ^ 0x1D) & 0xFF if c & 0x80 else (c << 1) & 0xFF
        t[i] = c
    return t


CRC_TABLE = _crc_table()


def crc8_j1850(frame_id, data, skip):
    """CRC-8 SAE J1850 (init and final xor 0xFF) over the id's low byte, then the data without byte `skip`."""
    c = CRC_TABLE[0xFF ^ (frame_id & 0xFF)]
    for k in range(len(data)):
        if k != skip:
            c = CRC_TABLE[c ^ data[k]]
    return c ^ 0xFF


def put(buf, start, length, motorola, raw):
    """DBC bit packing: Intel from the LSB at `start` up; Motorola from the MSB at `start`
    in sawtooth numbering (bit 0 of a byte continues at bit 7 of the next)."""
    raw &= (1 << length) - 1
    pos = start
    for k in range(length):
        bit = (raw >> (length - 1 - k)) & 1 if motorola else (raw >> k) & 1
        if bit:
            buf[pos >> 3] |= 1 << (pos & 7)
        if motorola:
            pos = pos + 15 if pos & 7 == 0 else pos - 1
        else:
            pos += 1


def get(buf, start, length, motorola):
    v = 0
    pos = start
    for k in range(length):
        bit = (buf[pos >> 3] >> (pos & 7)) & 1
        if motorola:
            v = (v << 1) | bit
            pos = pos + 15 if pos & 7 == 0 else pos - 1
        else:
            v |= bit << k
            pos += 1
    return v


def to_raw(value, scale):
    r = value / scale
    return int(r + 0.5) if r >= 0 else -int(-r + 0.5)


class LocalPacker:
    def pack(self, name, values, counter):
        fid, signals, cnt, cs = LAYOUT[name]
        buf = bytearray(8)
        for sig, start, length, motorola, scale in signals:
            put(buf, start, length, motorola, to_raw(values[sig], scale))
        put(buf, cnt[0], cnt[1], cnt[2], counter)
        put(buf, cs[0], cs[1], cs[2], crc8_j1850(fid, buf, 7))
        return fid, bytes(buf)


class LocalDecoder:
    """GOVERNOR_COMMAND.TORQUE_LIMIT (0|10@1+) and COMMAND_STATE (32|3@1+), GOVERNOR_STATUS.GOVERNOR_STATE (0|3@1+)."""

    def command(self, data):
        return get(data, 0, 10, 0), get(data, 32, 3, 0)

    def status(self, data):
        return get(data, 0, 3, 0)


def main(argv):
    import json

    here = argv[0].rsplit("/", 1)[0] if "/" in argv[0] else "."
    sys.path.insert(0, here + "/..")     # tests/: fuzz_support
    from boards.ramcan import RamCan
    from boards.sim import SimWatchdog
    from core import config
    from core.app import Governor
    from fuzz_support import Campaign
    from tables import keigov_bus

    seconds = float(argv[1])
    seed = int(argv[2])
    for mode in argv[3:]:
        gov = Governor(RamCan(), SimWatchdog(), keigov_bus, config.Config())
        print(json.dumps(Campaign(mode, seed, seconds, gov, LocalPacker(), LocalDecoder()).run()))


if __name__ == "__main__":
    # Run from firmware/, as the device's layout is (CPython also needs the micropython shim).
    sys.path[:0] = ["."] if sys.implementation.name == "micropython" else [".", "cpython"]
    main(sys.argv)
