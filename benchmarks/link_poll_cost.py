"""What the serial link costs the control loop: time of one `Link.poll(budget)` on
MicroPython's unix port while the port is flooded, per kind of traffic.

Each scenario queues its bytes on an in-memory port and polls until they are parsed;
prints the mean, 99th percentile and worst poll in microseconds for 128- and 512-byte budgets. The worst
case bounds what a period spends on the link; storage is the RAM flash model (a chip
adds its program/erase time to the config put row).

usage: python benchmarks/link_poll_cost.py
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "host"), str(ROOT / "tests")]

from fwenv import FIRMWARE, micropython_binary  # noqa: E402

from devrig import KEY  # noqa: E402
from keigov.config.blob import ConfigBlob  # noqa: E402
from keigov.link import messages  # noqa: E402
from keigov.link import protocol as P  # noqa: E402
from keigov.link.framing import encode_frame  # noqa: E402

DEVICE_SIDE = """
import gc, sys, time
from array import array
sys.path[:0] = ['.', TESTS]
from fw_driver import Device, accept_section
from core import persist
from binascii import unhexlify
d = Device(4096, 8, 2, {3: accept_section})
persist.store_provision(d.layout.prov, unhexlify(PROV))
d.boot()
for line in sys.stdin:
    name, hexdata = line.strip().split('|')
    data = unhexlify(hexdata)
    for budget in (128, 512):
        if name == 'config put':
            d.boot()
        d.port.load(data)
        times = array('i', [0] * (len(data) + 1))  # preallocated: the timing loop must not collect
        n = 0
        gc.collect()
        while d.port.at < d.port.n or d.link._c_off < d.link._c_end:
            d.port.olen = 0
            t0 = time.ticks_us()
            d.link.poll(budget)
            times[n] = time.ticks_diff(time.ticks_us(), t0)
            n += 1
        times = sorted(times[:n])
        p99 = times[min(len(times) - 1, len(times) * 99 // 100)]
        print('%-24s %5d %7d %8.1f %8d %8d' % (name, budget, len(times), sum(times) / len(times), p99, times[-1]))
t0 = time.ticks_us()
d.link.poll(128)
dt = time.ticks_diff(time.ticks_us(), t0)
print('%-24s %5d %7d %8.1f %8d %8d' % ('idle (nothing waiting)', 128, 1, dt, dt, dt))
"""


def scenarios() -> list[tuple[str, str]]:
    rng = random.Random(1)
    garbage = bytes(rng.randrange(1, 256) for _ in range(20000))
    mixed = bytes(rng.randrange(256) for _ in range(20000))
    bad = b""
    for seq in range(30):
        frame = bytearray(encode_frame(P.STATUS, seq, bytes(rng.randrange(1, 256) for _ in range(P.MAX_PAYLOAD))))
        frame[-3] ^= 0x55
        bad += bytes(frame)
    status = b"".join(encode_frame(P.STATUS, s % 256, b"") for s in range(300))
    info = b"".join(encode_frame(P.INFO, s % 256, b"") for s in range(300))
    blob = ConfigBlob(KEY.device, 1, {"cap_ckph": 4023}, None, bytes(rng.randrange(256) for _ in range(20000))).sign(
        KEY.key)
    step = P.PUT_DATA_MAX
    puts = b"".join(encode_frame(P.CONFIG_PUT, i, messages.put_request(len(blob), off, blob[off : off + step]))
                    for i, off in enumerate(range(0, len(blob), step)))
    puts += encode_frame(P.CONFIG_COMMIT, 200)
    return [("garbage, no delimiters", garbage.hex()), ("random bytes", mixed.hex()),
            ("max frames, bad CRC", bad.hex()), ("status requests", status.hex()), ("info requests", info.hex()),
            ("config put", puts.hex())]


def main() -> int:
    exe = micropython_binary()
    if exe is None:
        print("no micropython binary", file=sys.stderr)
        return 3
    program = DEVICE_SIDE.replace("TESTS", repr(str(ROOT / "tests")))
    program = program.replace("PROV", repr(KEY.provision_record().hex()))
    data = "".join(f"{name}|{hexdata}\n" for name, hexdata in scenarios())
    print(f"{'traffic':<24} {'budget':>5} {'polls':>7} {'mean us':>8} {'p99 us':>8} {'worst us':>8}")
    proc = subprocess.run([exe, "-c", program], input=data, cwd=FIRMWARE, capture_output=True, text=True,
                          timeout=300)
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        sys.stderr.write(proc.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
