"""How fast generated tables decode, against cantools, and the firmware's fast path.

    python benchmarks/dbc_decode.py [--frames N] [--repeat R]

1. CPython, same frames, same run: `decode()` of a generated module against cantools'
   `Database.decode_message(..., decode_choices=False)`, per frame, on synthetic frames of
   the shipped DBCs and on frames of the real CSS recordings (if present).
2. The cost of a frame whose id the table does not know (a real bus carries hundreds).
3. MicroPython: the governor's fast path (core.rx Receiver.feed: checks, CRC, counter,
   conversion into integer slots) per frame and per unknown id. decode() is a host API
   (keigov.dbc.decode) and is not measured there.
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cantools

from keigov.dbc.compile import compile_map, compile_messages
from keigov.dbc.e2e import FramePacker
from keigov.dbc.generated import load_source
from keigov.paths import DBC_DIR, FIRMWARE, KEIGOV_MAP, SHARED_DATA

EXT = 0x20000000


def firmware_modules():
    """The firmware's core under CPython, for the Receiver measured beside decode(): this
    script, not the keigov library, puts firmware/ on its own sys.path."""
    for p in (str(FIRMWARE / "cpython"), str(FIRMWARE)):
        if p not in sys.path:
            sys.path.insert(0, p)


def best_per_frame(fns, frames, repeat: int) -> list[float]:
    """Best of `repeat` passes of each function over the frames, in microseconds per frame.

    The functions take turns within each pass, so a busy machine slows them alike."""
    best = [float("inf")] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn(frames)
            best[k] = min(best[k], time.perf_counter() - t0)
    return [b / len(frames) * 1e6 for b in best]


def run_cantools(db):
    dm = db.decode_message

    def run(frames):
        for fid, ext, data in frames:
            if ext and fid <= 0x7FF:           # the one case cantools needs told
                dm(fid, data, decode_choices=False, force_extended_id=True)
            else:
                dm(fid, data, decode_choices=False)
    return run


def run_generated(mod):
    mod.decode(0, b"")                     # builds the database; decode is then its bound method
    dec = mod.decode

    def run(frames):
        for fid, _ext, data in frames:
            dec(fid, data)
    return run


def synthetic(dbc: Path, n: int, rng: random.Random):
    """(cantools db, generated module, frames cantools decodes) with random payloads."""
    db = cantools.database.load_file(str(dbc))
    frames = []
    while len(frames) < n:
        msg = rng.choice(db.messages)
        data = rng.randbytes(msg.length)
        try:
            db.decode_message(msg.frame_id, data, force_extended_id=msg.is_extended_frame)
        except cantools.database.DecodeError:
            continue                       # e.g. a multiplexer value nothing is defined for
        frames.append((msg.frame_id, msg.is_extended_frame, data))
    return db, load_source(compile_messages([dbc], None), dbc.stem), frames


def recorded(dbc: Path, log: Path, n: int, any_source: bool):
    """Frames of a real log that the DBC names (J1939: matched by PGN, given the DBC's id)."""
    import can

    db = cantools.database.load_file(str(dbc), frame_id_mask=0x03FFFF00 if any_source else None)
    frames = []
    for m in itertools.islice(can.LogReader(str(log)), n * 20):
        try:
            msg = db.get_message_by_frame_id(m.arbitration_id, force_extended_id=m.is_extended_id)
        except KeyError:
            continue
        frames.append((msg.frame_id, msg.is_extended_frame, bytes(m.data)))
        if len(frames) == n:
            break
    return cantools.database.load_file(str(dbc)), load_source(compile_messages([dbc], None), dbc.stem), frames


def cpython_table(args) -> list[tuple]:
    rng = random.Random(1)
    sets = [(f"{p.name} (random payloads)", *synthetic(p, args.frames, rng))
            for p in (DBC_DIR / "keigov.dbc", DBC_DIR / "vehicles" / "ev_mcu.dbc",
                      DBC_DIR / "vehicles" / "j1939_truck.dbc")]
    gps, truck = SHARED_DATA / "css-canedge-gps-drive", SHARED_DATA / "css-j1939-truck"
    if gps.exists() and truck.exists():
        sets.append(("CSS GPS drive (recorded)", *recorded(gps / "canmod-gps.dbc", gps / "00000002-60FE415D.MF4",
                                                          args.frames, False)))
        sets.append(("CSS J1939 truck (recorded)", *recorded(truck / "CSS-Electronics-SAE-J1939-DEMO.dbc",
                                                            truck / "00000001.MF4", args.frames, True)))
    rows = []
    for name, db, mod, frames in sets:
        ours, theirs = best_per_frame([run_generated(mod), run_cantools(db)], frames, args.repeat)
        rows.append((name, len(frames), theirs, ours, theirs / ours))
    return rows


def unknown_ids(args) -> tuple[float, float, float]:
    """(cantools lookup failure, generated decode -> None, Receiver.feed ignoring), us/frame."""
    db = cantools.database.load_file(str(DBC_DIR / "keigov.dbc"))
    mod = load_source(compile_map(KEIGOV_MAP), "keigov_bus")
    known = {m.frame_id for m in db.messages}
    frames = [(fid, False, bytes(8)) for fid in range(0x100, 0x7FF) if fid not in known][:1000]

    def cantools_miss(frames):
        dm = db.decode_message
        for fid, _ext, data in frames:
            try:
                dm(fid, data)
            except KeyError:
                pass

    firmware_modules()
    from core.events import EventLog
    from core.rx import Receiver

    rx = Receiver(mod, EventLog())
    buf = bytearray(8)

    def feed(frames):
        f = rx.feed
        for fid, _ext, _data in frames:
            f(fid, buf, 8, 0)
    miss_c, miss_g, miss_rx = best_per_frame([cantools_miss, run_generated(mod), feed], frames, args.repeat)
    return miss_c, miss_g, miss_rx


_MICROPYTHON_SCRIPT = """
import sys, time
sys.path.insert(0, '.')
sys.path.append(sys.argv[1])
import keigov_bus as table
from core.events import EventLog
from core.rx import Receiver
FRAMES = %r
N = %d

def per_frame(fn):
    t0 = time.ticks_us()
    fn()
    return time.ticks_diff(time.ticks_us(), t0) / N

rx = Receiver(table, EventLog())
bufs = [(fid, bytearray(data)) for fid, data in FRAMES]
def known():
    feed = rx.feed
    k = 0
    now = 0
    for _ in range(N // len(bufs)):
        for fid, buf in bufs:
            feed(fid, buf, 8, now)
        now += 10
def unknown():
    feed = rx.feed
    buf = bufs[0][1]
    for k in range(N):
        feed(0x555, buf, 8, 0)
def empty():
    for _ in range(N // len(bufs)):
        for fid, buf in bufs:
            pass
known()
print(per_frame(known), per_frame(unknown), per_frame(empty), sum(rx.refused))
"""


def micropython_figures(args) -> tuple[float, float, float] | None:
    binary = shutil.which("micropython") or str(Path(sys.executable).with_name("micropython"))
    if not Path(binary).exists() and not shutil.which(binary):
        return None
    packer = FramePacker.from_map(KEIGOV_MAP)
    values = {
        "WHEEL_SPEEDS": {"WHEEL_SPEED_FL": 40.1, "WHEEL_SPEED_FR": 40.2,
                         "WHEEL_SPEED_RL": 40.0, "WHEEL_SPEED_RR": 40.3},
        "DRIVER_INPUTS": {"ACCEL_PEDAL_POS": 30.0, "BRAKE_SWITCH": 0},
        "GNSS_VELOCITY": {"GNSS_SPEED": 40.0, "GNSS_HEADING": 90.0},
    }
    frames = []
    for _ in range(16):                    # one counter cycle: every frame passes every check
        for name, v in values.items():
            fid, data = packer.pack(name, v)
            frames.append((fid, data))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "keigov_bus.py").write_text(compile_map(KEIGOV_MAP))
        script = Path(tmp) / "bench.py"
        script.write_text(_MICROPYTHON_SCRIPT % (frames, args.mp_frames))
        out = subprocess.run([binary, str(script), tmp], cwd=FIRMWARE, capture_output=True, text=True, timeout=300)
    if out.returncode:
        raise SystemExit(out.stdout + out.stderr)
    known, unknown, empty, refused = out.stdout.split()
    assert int(refused) == 0, "the benchmark frames must pass every check"
    return float(known), float(unknown), float(empty)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=5000, help="frames per CPython data set")
    parser.add_argument("--repeat", type=int, default=9, help="passes; the best counts")
    parser.add_argument("--mp-frames", type=int, default=48000, help="frames per MicroPython measurement")
    args = parser.parse_args()

    print("CPython %s: decode per frame, generated tables vs cantools decode_message (same frames)" %
          sys.version.split()[0])
    print(f"  {'frames':<34} {'n':>6} {'cantools us':>12} {'keigov us':>10} {'speed-up':>9}")
    for name, n, theirs, ours, ratio in cpython_table(args):
        print(f"  {name:<34} {n:>6} {theirs:>12.2f} {ours:>10.2f} {ratio:>8.1f}x")
    miss_c, miss_g, miss_rx = unknown_ids(args)
    print("\nUnknown id (not in the table), per frame:")
    print(f"  cantools decode_message (KeyError)   {miss_c:6.2f} us")
    print(f"  generated decode() -> None           {miss_g:6.2f} us  ({miss_c / miss_g:.1f}x less)")
    print(f"  firmware Receiver.feed, CPython      {miss_rx:6.2f} us")
    mp = micropython_figures(args)
    if mp is None:
        print("\nMicroPython: no micropython binary found")
        return
    known, unknown, empty = mp
    print(f"\nMicroPython unix port ({args.mp_frames} frames; loop overhead {empty:.2f} us/frame included):")
    print(f"  fast path Receiver.feed, keigov frame (range, CRC-8, counter, conversion) {known:7.2f} us")
    print(f"  fast path Receiver.feed, unknown id                                        {unknown:7.2f} us"
          f"  ({unknown / known:.0%} of a known frame)")


if __name__ == "__main__":
    main()
