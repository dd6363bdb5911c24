"""ASAM MDF4 bus logs (CANedge and other loggers), read column-wise with asammdf.

python-can's MF4Reader builds a `can.Message` per record (about 26,000 a second here);
this reader takes each CAN data-frame group a chunk of records at a time as numpy
columns, keeps the rows whose ids the selection wants (the selection is asked once per
distinct id) and builds tuples only for those. Groups are chosen as python-can chooses
them (bus events, CAN bus, data / error / remote frames); the rows of several data
groups are merged by time. tests/test_replay_formats.py holds it to python-can's reader.
"""

from __future__ import annotations

import heapq
import io
from collections.abc import Iterator
from operator import itemgetter
from typing import IO, Any

from keigov.errors import EnvironmentProblem
from keigov.replay.frames import EXTENDED, Frame, LogDamage, ReadStats, Selection, register

CHUNK = 200_000          # records per asammdf call: ~20 MB of columns for 8-byte frames


def _mdf(stream: IO[bytes]) -> Any:
    try:
        from asammdf import MDF
    except ImportError:
        raise EnvironmentProblem(".mf4 logs need asammdf: pip install 'keigov[mf4]'") from None
    try:
        # In memory, as python-can does: asammdf finalizes an unfinalized file (a CANedge
        # writes them) by writing to it.
        return MDF(io.BytesIO(stream.read()))
    except Exception as exc:  # noqa: BLE001  asammdf raises many kinds on a bad file
        raise LogDamage("the header", f"not a readable MDF4 file: {type(exc).__name__}: {exc}") from None


def _can_groups(mdf: Any) -> list[tuple[int, str]]:
    """(group index, "CAN_DataFrame" | "CAN_ErrorFrame" | "CAN_RemoteFrame") with records."""
    from asammdf import Source
    from asammdf.blocks.v4_constants import FLAG_CG_BUS_EVENT

    out = []
    for index, group in enumerate(mdf.groups):
        cg = group.channel_group
        source = cg.acq_source
        if not cg.flags & FLAG_CG_BUS_EVENT or cg.cycles_nr == 0 or source is None:
            continue
        if not source.source_type & Source.SOURCE_BUS or source.bus_type != Source.BUS_TYPE_CAN:
            continue
        names = {c.name for c in group.channels}
        kind = next((k for k in ("CAN_DataFrame", "CAN_ErrorFrame", "CAN_RemoteFrame") if k in names), None)
        if kind:
            out.append((index, kind))
    return out


def _data_rows(mdf: Any, index: int, start: float, sel: Selection, stats: ReadStats) -> Iterator[Frame]:
    import numpy as np

    wanted: dict[int, bool] = {}
    total = mdf.groups[index].channel_group.cycles_nr
    for offset in range(0, total, CHUNK):
        sig = mdf.get("CAN_DataFrame", index, record_offset=offset, record_count=CHUNK, raw=False)
        rows = sig.samples
        names = rows.dtype.names
        ids = rows["CAN_DataFrame.ID"].astype(np.int64) & 0x1FFFFFFF
        if "CAN_DataFrame.IDE" in names:
            ids |= rows["CAN_DataFrame.IDE"].astype(np.int64) * EXTENDED
        for fid in np.unique(ids).tolist():
            if fid not in wanted:
                wanted[fid] = sel.keep(fid)
        keep = np.isin(ids, [fid for fid, yes in wanted.items() if yes])
        channels = rows["CAN_DataFrame.BusChannel"] if "CAN_DataFrame.BusChannel" in names else None
        if sel.channels is not None and channels is not None:
            keep &= np.isin(channels.astype(str), list(sel.channels))
        stats.frames += len(ids)
        picked = np.flatnonzero(keep)
        times = (sig.timestamps[picked] + start).tolist()
        lengths = rows["CAN_DataFrame.DataLength"][picked].tolist()
        payloads = rows["CAN_DataFrame.DataBytes"][picked]
        chans = channels[picked].tolist() if channels is not None else [None] * len(picked)
        for t, fid, n, data, ch in zip(times, ids[picked].tolist(), lengths, payloads, chans):
            stats.kept += 1
            yield t, fid, data[:n].tobytes(), ch


@register(".mf4", "ASAM MDF4 bus logging (CANedge), column-wise with asammdf, unused frames skipped in numpy")
def read_mf4(stream: IO[bytes], sel: Selection, stats: ReadStats) -> Iterator[Frame]:
    mdf = _mdf(stream)
    try:
        start = mdf.header.start_time.timestamp()
        groups = _can_groups(mdf)
        data_groups = []
        for index, kind in groups:
            master = mdf.get_master(index)
            if len(master):
                stats.saw(start + float(master.min()))
                stats.saw(start + float(master.max()))
            if kind == "CAN_DataFrame":
                data_groups.append(index)
            else:
                stats.other += mdf.groups[index].channel_group.cycles_nr
        first, last = stats.first_t, stats.last_t
        streams = [_data_rows(mdf, i, start, sel, stats) for i in data_groups]
        yield from heapq.merge(*streams, key=itemgetter(0)) if len(streams) > 1 else (streams[0] if streams else ())
        stats.first_t, stats.last_t = first, last
    except LogDamage:
        raise
    except Exception as exc:  # noqa: BLE001  a damaged record block
        raise LogDamage(f"after frame {stats.frames:,}", f"{type(exc).__name__}: {exc}") from None
    finally:
        mdf.close()
