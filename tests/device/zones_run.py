"""Geofence lookups and the zone state, for tests/test_zones_micropython.py.

Runs unchanged under MicroPython (firmware/ as working directory) and CPython (with
firmware/ and firmware/cpython/ on the path), so the two outputs can be compared line
for line. Every call into the firmware runs with the heap locked: on MicroPython any
allocation raises MemoryError and fails the run.

    zones_run.py TABLE look INPUT   INPUT lines: lat_hi lat_lo lon_hi lon_lo heading
    zones_run.py TABLE drive INPUT  INPUT lines: S now speed
                                                 F now fix sats hdop lat_hi lat_lo lon_hi lon_lo heading speed
"""
import sys

import micropython

from core import config, geofence
from core.events import EventLog
from core.zonestate import ZoneState


def ints(line):
    return [int(v) for v in line.split()[1 if line[0] in "SF" else 0:]]


def look(fence, lines):
    for line in lines:
        a, b, c, d, h = ints(line)
        micropython.heap_lock()
        try:
            inside = fence.to_local(a, b, c, d)
            fence.lookup(fence.x, fence.y, h)
        finally:
            micropython.heap_unlock()
        print(fence.x, fence.y, int(inside), fence.limit, fence.lockout, fence.zone, fence.clear_dm)


def drive(fence, lines):
    log = EventLog(256)
    zs = ZoneState(fence, config.Config(), log)
    for line in lines:
        v = ints(line)
        micropython.heap_lock()
        try:
            if line[0] == "S":
                zs.step(v[0], v[1])
            else:
                zs.on_fix(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9])
        finally:
            micropython.heap_unlock()
        print(zs.limit_ckph, zs.zone_id, zs.lockout, zs.warnings, zs.jumps, zs.poor_fixes, zs.clear_dm)
    for i in range(log.oldest(), log.count):
        k = i % log.capacity
        print("E", log.code[k], log.time[k], log.value[k])


def main():
    table, mode, path = sys.argv[1], sys.argv[2], sys.argv[3]
    fence = geofence.Fence()
    with open(table, "rb") as f:
        print("check", geofence.check(f))
    with open(table, "rb") as f:
        print("table", fence.read(f), fence.n)
    with open(path) as f:
        lines = (line for line in f if line.strip())   # one at a time: the heap stays small
        look(fence, lines) if mode == "look" else drive(fence, lines)


main()
