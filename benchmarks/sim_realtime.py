"""Real-time factor of `keigov sim` with the MicroPython device (goal: >= 100x).

Runs the bundled full-throttle scenario on each runtime and prints simulated seconds per
wall second, with the device's own step time and the host's share of each period. The
CPython runtime is the reference in the same run. Not a test: it prints figures.

    python benchmarks/sim_realtime.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from keigov import paths
from keigov_hil.rig import RigOptions
from keigov_hil.runtimes import get_runtime
from keigov_hil.session import run_scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scenario", type=Path, default=paths.SCENARIOS / "full_throttle.toml")
    args = parser.parse_args()
    print(f"scenario: {args.scenario.name}, best of {args.repeat}")
    print(f"{'runtime':<12} {'sim s':>6} {'wall s':>7} {'x real time':>12} {'device step us':>15} {'host+link us':>13}")
    for runtime in ("micropython", "cpython"):
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.repeat):
                runs.append(run_scenario(args.scenario, Path(tmp), RigOptions(get_runtime(runtime)), plot=False))
        best = min(runs, key=lambda r: r.wall_seconds)
        periods = best.sim_seconds * 100 + 1
        step = best.extra["device_step_us"]["mean"]
        host = best.wall_seconds * 1e6 / periods - step
        print(f"{runtime:<12} {best.sim_seconds:>6.1f} {best.wall_seconds:>7.2f} {best.sim_seconds / best.wall_seconds:>11.1f}x"
              f" {step:>15.1f} {host:>13.1f}")
        print(f"{'':<12} spread of x real time over runs: "
              f"{statistics.pstdev([r.sim_seconds / r.wall_seconds for r in runs]):.1f}")


if __name__ == "__main__":
    main()
