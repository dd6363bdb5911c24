"""Firmware control-step cost on the device runtime: time, decode rate, heap per step.

A steady-state load as on the vehicle: wheel speeds and driver inputs at 50 Hz, the GNSS
messages at 10 Hz, the driver flooring it and a first-order vehicle held at the cap, so
the governor is LIMITING. Prints, per runtime: mean and p99 control-step time, valid
frames decoded per second, heap bytes allocated per step (gc.mem_alloc(); goal 0) and the
cost of ignoring a frame whose id is not in the table. MicroPython runs it twice: as
bytecode (as a board runs frozen modules) and with its native code emitter (-X emit=native,
the code the rig's `micropython` runtime loads from mpy-cross's native .mpy files). Not a test: it prints figures.

    python benchmarks/fw_step.py [--steps 5000] [--cpython]

Run by CPython, it starts itself under the `micropython` binary (and, with --cpython,
under CPython) with --device. The same file is parsed by MicroPython, hence no
`from __future__` import and host-only modules imported inside host_main(). The input
frames are built on the device with the firmware's own codec and checksums from the RX tables
(tests/test_fw_codec.py and test_fw_crc8.py prove those against cantools).
"""
import sys

WARMUP_STEPS = 3000            # 30 s: from 60 km/h into the cap and settled
PERIOD_MS = 10


# -- device side (MicroPython or CPython with firmware/ on sys.path) ------------------------

def timers():
    """(microseconds now, microseconds from a to b) for this runtime; both allocation-free
    on MicroPython (its built-ins, not closures)."""
    import time

    if hasattr(time, "ticks_us"):
        return time.ticks_us, time.ticks_diff          # ticks_diff(b, a) = b - a
    return (lambda: time.perf_counter_ns() // 1000), (lambda b, a: b - a)


class Inputs:
    """The vehicle's frames, encoded from the firmware's RX tables into fixed buffers."""

    def __init__(self, table):
        from array import array

        from core import codec
        from core.checksums import Checksums

        self.put = codec.put
        self.checksums = Checksums(table)
        self.t = table
        n = len(table.RX_ID)
        self.bufs = [bytearray(8) for _ in range(n)]
        self.counter = bytearray(n)
        self.units = array("i", [0] * 16)      # value per role, firmware units

    def frame(self, i):
        """Encode message i from `units` with its next counter and CRC; returns the buffer."""
        t = self.t
        buf = self.bufs[i]
        for s in range(t.RX_SIG_FIRST[i], t.RX_SIG_END[i]):
            role = t.RX_SIG_ROLE[s]
            if s == t.RX_COUNTER[i]:
                raw = self.counter[i]
            elif role >= 0:
                raw = (self.units[role] * t.RX_SIG_DIV[s] - t.RX_SIG_ADD[s]) // t.RX_SIG_MUL[s]
                raw = t.RX_SIG_MIN[s] if raw < t.RX_SIG_MIN[s] else raw
                raw = t.RX_SIG_MAX[s] if raw > t.RX_SIG_MAX[s] else raw
            else:
                raw = 0
            self.put(buf, t.RX_SIG_START[s], t.RX_SIG_LEN[s], t.RX_SIG_FLAGS[s], raw)
        cnt = t.RX_COUNTER[i]
        if cnt >= 0:
            self.counter[i] = (self.counter[i] + 1) & ((1 << t.RX_SIG_LEN[cnt]) - 1)
        cs = t.RX_CHECKSUM[i]
        if cs >= 0:
            skip = t.RX_SIG_START[cs] >> 3
            buf[skip] = self.checksums.compute(t.RX_CHECKSUM_KIND[i], t.RX_ID[i], buf, t.RX_LEN[i], skip)
        return buf


def device_main(firmware, steps):
    sys.path.insert(0, firmware)
    if sys.implementation.name != "micropython":
        sys.path.insert(0, firmware + "/cpython")
    import gc
    from array import array

    from boards.ramcan import RamCan
    from boards.sim import SimWatchdog
    from core import config, roles
    from core.app import Governor
    from core.safety import LIMITING
    from tables import keigov_bus as T

    cfg = config.Config()
    can = RamCan()
    app = Governor(can, SimWatchdog(), T, cfg)
    inputs = Inputs(T)
    u = inputs.units
    u[roles.IN_PEDAL] = 1000
    u[roles.IN_FIX_TYPE] = 3
    u[roles.IN_SATELLITES] = 12
    u[roles.IN_HDOP] = 8
    us, since = timers()
    durations = array("i", [0] * steps)
    kinds = [T.RX_KIND.index(k) for k in (roles.MSG_WHEEL_SPEED, roles.MSG_DRIVER, roles.MSG_GNSS_LAT,
                                          roles.MSG_GNSS_LON, roles.MSG_GNSS_VELOCITY)]
    wheels = (roles.IN_WHEEL_FL, roles.IN_WHEEL_FR, roles.IN_WHEEL_RL, roles.IN_WHEEL_RR)
    v_milli = 6000 * 1000          # vehicle speed, 0.001 ckph; 600 ckph/s at full torque, tau 25 s
    mem_alloc = getattr(gc, "mem_alloc", None)   # MicroPython only
    allocated = 0 if mem_alloc else -1
    limiting = 0
    now = 0
    for k in range(WARMUP_STEPS + steps):
        speed = v_milli // 1000
        for w in wheels:
            u[w] = speed
        u[roles.IN_GNSS_SPEED] = speed
        for i in kinds:
            if now % (T.RX_PERIOD_MS[i]) == 0:
                can.deliver(T.RX_ID[i], inputs.frame(i), T.RX_LEN[i])
        if k == WARMUP_STEPS:
            gc.collect()
            gc.disable()
        measured = k >= WARMUP_STEPS
        before = mem_alloc() if measured and mem_alloc else 0
        t0 = us()
        app.step(now)
        t1 = us()
        if measured:
            if mem_alloc:
                allocated += mem_alloc() - before
            durations[k - WARMUP_STEPS] = since(t1, t0)
            limiting += app.safety.state == LIMITING
        can.take_sent()
        torque = app.safety.torque
        v_milli += 600 * torque // 100 - v_milli // 2500
        now += PERIOD_MS
    gc.enable()

    # Decode rate: valid wheel-speed frames straight into the receiver.
    rx = app.rx
    w = kinds[0]
    frames = [bytes(inputs.frame(w)) for _ in range(16)]   # one counter cycle
    fid = T.RX_ID[w]
    reps = 200
    t0 = us()
    for _ in range(reps):
        for f in frames:
            rx.feed(fid, f, 8, now)
    decode_us = since(us(), t0)
    assert rx.refused[w] == 0, "benchmark frames were refused"
    # Ignoring an unknown id: the whole cost of Receiver.feed for it.
    unknown = 10000
    f = frames[0]
    t0 = us()
    for _ in range(unknown):
        rx.feed(0x555, f, 8, now)
    ignore_us = since(us(), t0)

    ordered = sorted(durations)
    print("runtime", sys.implementation.name, ".".join(str(x) for x in sys.implementation.version[:3]))
    print("steps", steps)
    print("limiting_share", limiting * 1000 // steps)
    print("speed_ckph", v_milli // 1000)
    print("step_mean_us", sum(durations) * 10 // steps)
    print("step_p99_us", ordered[steps * 99 // 100] * 10)
    print("frames_per_s", reps * len(frames) * 1000000 // max(decode_us, 1))
    print("heap_bytes_per_step_x1000", allocated * 1000 // steps if allocated >= 0 else -1)
    print("ignore_ns", ignore_us * 1000 // unknown)


# -- host side -------------------------------------------------------------------------------

COLUMNS = (  # heading, width, figure from a device's output
    ("runtime", 25, lambda r: r["runtime"]),
    ("LIMITING", 9, lambda r: f"{int(r['limiting_share']) / 10:.1f}%"),
    ("km/h", 6, lambda r: f"{int(r['speed_ckph']) / 100:.1f}"),
    ("step mean us", 13, lambda r: f"{int(r['step_mean_us']) / 10:.1f}"),
    ("step p99 us", 12, lambda r: f"{int(r['step_p99_us']) / 10:.1f}"),
    ("frames decoded/s", 17, lambda r: f"{int(r['frames_per_s']):,}"),
    ("heap B/step", 12, lambda r: "n/a" if int(r["heap_bytes_per_step_x1000"]) < 0
     else f"{int(r['heap_bytes_per_step_x1000']) / 1000:.3f}"),
    ("unknown id ns", 14, lambda r: f"{int(r['ignore_ns']):,}"),
)


def host_main():
    import argparse
    import os
    import subprocess

    from keigov.paths import FIRMWARE
    from keigov.simboard.runtimes import get_runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000, help="measured control steps (after warm-up)")
    parser.add_argument("--cpython", action="store_true", help="also run the same load under CPython")
    parser.add_argument("--repeat", type=int, default=3, help="runs per runtime; the fastest is shown")
    args = parser.parse_args()
    device_args = [__file__, "--device", str(FIRMWARE), str(args.steps)]
    micropython = get_runtime("micropython").executable()
    commands = [("", [micropython, "-X", "heapsize=2M", "-X", "emit=bytecode"] + device_args),
                (" native", [micropython, "-X", "heapsize=2M", "-X", "emit=native"] + device_args)]
    if args.cpython:
        commands.append(("", [sys.executable] + device_args))
    rows = []
    for label, cmd in commands:
        runs = []
        for _ in range(args.repeat):
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=FIRMWARE, env=dict(os.environ))
            if proc.returncode != 0:
                sys.exit(f"fw_step: {os.path.basename(cmd[0])} failed:\n{proc.stderr}{proc.stdout}")
            runs.append(dict(line.split(" ", 1) for line in proc.stdout.splitlines()))
        best = min(runs, key=lambda r: int(r["step_mean_us"]))
        best["runtime"] += label
        rows.append(best)
    print(f"fw_step: {args.steps} control steps of 10 ms at the cap after {WARMUP_STEPS} warm-up steps; "
          f"wheels + driver 50 Hz, GNSS 10 Hz; fastest of {args.repeat} runs")
    print(" ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w, _) in enumerate(COLUMNS)))
    for r in rows:
        print(" ".join(f"{f(r):<{w}}" if i == 0 else f"{f(r):>{w}}" for i, (_, w, f) in enumerate(COLUMNS)))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--device":
        device_main(sys.argv[2], int(sys.argv[3]))
    else:
        host_main()
