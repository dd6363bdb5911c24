"""Time to push a configuration over the serial link.

A configuration with zone tables for N vertices (default 10,000 at 10 bytes a vertex:
~100 kB) is pushed in 247-byte chunks, each a request/response exchange. Prints:
  - bytes on the wire incl. COBS, headers, CRCs and replies, and the time that takes at
    115200 baud (8N1: 10 bits a byte), stop-and-wait;
  - the measured push over a pty to the firmware's link on MicroPython, polled as soon as
    bytes arrive (device processing cost) and once every 10 ms with a 128-byte budget
    (a control loop's pacing);
  - the estimate at 115200 baud with that pacing: wire time + one period a chunk;
  - how long a reboot takes to check the installed configuration before answering.
Storage is the RAM flash model (no flash program/erase time: add the chip's).

usage: python benchmarks/link_config_push.py [--vertices N] [--bytes-per-vertex B]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "host"), str(ROOT / "tests")]

from devrig import KEY  # noqa: E402
from keigov.config.blob import ConfigBlob  # noqa: E402
from keigov.link import messages  # noqa: E402
from keigov.link import protocol as P  # noqa: E402
from keigov.link.client import DeviceClient  # noqa: E402
from keigov.link.framing import encode_frame  # noqa: E402
from ptydevice import pty_device  # noqa: E402

BAUD = 115200
PERIOD_MS = 10


def wire_bytes(blob: bytes) -> tuple[int, int]:
    """(bytes on the wire both ways, exchanges) for a push and its commit."""
    total = exchanges = 0
    for off in range(0, len(blob), P.PUT_DATA_MAX):
        req = encode_frame(P.CONFIG_PUT, 1, messages.put_request(len(blob), off, blob[off : off + P.PUT_DATA_MAX]))
        total += len(req) + len(encode_frame(P.CONFIG_PUT | P.REPLY, 1, bytes(4)))
        exchanges += 1
    total += len(encode_frame(P.CONFIG_COMMIT, 1)) + len(encode_frame(P.CONFIG_COMMIT | P.REPLY, 1, bytes(5)))
    return total, exchanges + 1


def measure(blob: bytes, period_ms: int, block: int, slot_blocks: int) -> tuple[float, float]:
    """(push seconds, reboot-to-answering seconds with the configuration installed)."""
    setup = [f"geometry {block} {slot_blocks} 2 1", f"provision {KEY.provision_record().hex()}"]
    with pty_device(setup, period_ms=period_ms) as port:
        with DeviceClient(port, timeout=5.0) as client:
            client.info()
            t0 = time.perf_counter()
            version, _slot = client.config_push(blob)
            elapsed = time.perf_counter() - t0
            client.reboot()
            t0 = time.perf_counter()
            info = client.info()  # answered once boot has checked the slot's CRC and MAC
            boot = time.perf_counter() - t0
            assert version == 1 and info.running_version == 1
    return elapsed, boot


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vertices", type=int, default=10_000)
    ap.add_argument("--bytes-per-vertex", type=int, default=10)
    args = ap.parse_args()
    zones = os.urandom(args.vertices * args.bytes_per_vertex)
    blob = ConfigBlob(KEY.device, 1, {"cap_ckph": 4023}, None, zones).sign(KEY.key)
    block = 4096
    slot_blocks = (len(blob) + 16) // block + 1
    on_wire, exchanges = wire_bytes(blob)
    wire_s = on_wire * 10 / BAUD
    print(f"configuration: {args.vertices} vertices x {args.bytes_per_vertex} B = {len(zones)} B of zones, "
          f"blob {len(blob)} B, {exchanges} exchanges")
    print(f"on the wire: {on_wire} B both ways ({100 * (on_wire / len(blob) - 1):.1f} % framing, headers "
          f"and replies) = {wire_s:.2f} s at {BAUD} baud")
    fast, boot = measure(blob, 0, block, slot_blocks)
    print(f"pty, MicroPython device polled at once: {fast:.2f} s ({len(blob) / fast / 1000:.0f} kB/s, "
          f"{1000 * fast / exchanges:.2f} ms an exchange: the device's processing)")
    print(f"reboot until the device answers, {len(blob)} B configuration checked (CRC, MAC, values): "
          f"{1000 * boot:.0f} ms")
    paced, _boot = measure(blob, PERIOD_MS, block, slot_blocks)
    print(f"pty, device polled every {PERIOD_MS} ms, 128 B budget: {paced:.2f} s "
          f"({1000 * paced / exchanges:.1f} ms an exchange)")
    estimate = wire_s + exchanges * PERIOD_MS / 1000
    print(f"estimate at {BAUD} baud with {PERIOD_MS} ms polling: {estimate:.1f} s "
          f"(wire time + one period an exchange)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
