"""`keigov replay`: recorded drives through the firmware, open loop, and checked.

    formats    log formats by suffix (python-can's readers, a fast candump reader)
    drive      the files of one drive merged in time order, with what was read and damaged
    track      GNSS tracks (GPX, NMEA 0183) as time-stamped fixes
    vehicle    the device's tables for a vehicle's map, and the host's view of them
    gnss       fixes from the log's own frames or a track, resampled into the governor's frames
    runner     the open loop: frames to the device in virtual time, its outputs recorded
    realtime   the log played onto a real bus at recorded timing, the board's answers recorded
    rules      the rules file and its checks (a registry like keigov.checks.kinds)
    outputs    timeline.csv, events.json, track.csv, summary.json, report.png
    fleet      many drives in parallel and the fleet table

Usage and file formats: docs/replay.md.
"""
