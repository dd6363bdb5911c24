"""Log formats for keigov replay: every format python-can writes reads back the same
frames, the fast candump reader agrees with python-can's, and damage is located."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import can
import pytest

from keigov.errors import InputError
from keigov.replay.drive import Drive, DriveReader, drives_from_arguments
from keigov.replay.formats import format_of, open_log, read_candump
from keigov.replay.frames import EXTENDED, ReadStats, Selection
from keigov_hil.drivelog import DriveProfile, drive_frames, write_log

SUFFIXES = [".log", ".blf", ".csv", ".asc", ".trc", ".mf4", ".log.gz", ".asc.gz", ".csv.gz", ".trc.gz", ".blf.gz"]
if importlib.util.find_spec("asammdf") is None:
    SUFFIXES.remove(".mf4")
EVERYTHING = Selection(lambda fid: True)


def _short_drive() -> DriveProfile:
    return DriveProfile([(0, 20), (3, 40)], other_ids=(0x123, 0x7FF), other_rate_hz=10)


@pytest.fixture(scope="module")
def logs(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("logs")
    frames = list(drive_frames(_short_drive()))
    paths = {}
    for suffix in SUFFIXES:
        path = out / f"drive{suffix}"
        if suffix.endswith(".gz"):
            plain = out / f"plain{suffix[:-3]}"
            write_log(plain, iter(frames))
            path.write_bytes(gzip.compress(plain.read_bytes()))
        else:
            write_log(path, iter(frames))
        paths[suffix] = path
    return paths


def _read(path: Path, sel: Selection = EVERYTHING) -> tuple[list[tuple], ReadStats]:
    """Frames with times from the file's first frame (ASC keeps absolute time only to the
    millisecond of its header, and python-can's writer rounds that oddly)."""
    reader = DriveReader(Drive("d", (path,)), sel)
    start = reader.start()
    frames = [(round(t - start, 6), fid, data) for t, fid, data, _ch in reader.frames()]
    assert not reader.damages(), reader.damages()
    return frames, reader.files[0].stats


def test_every_format_reads_the_same_frames(logs):
    reference, ref_stats = _read(logs[".log"])
    assert len(reference) == ref_stats.frames > 400
    for suffix, path in logs.items():
        frames, stats = _read(path)
        assert stats.frames == ref_stats.frames, suffix
        assert frames == reference, suffix
        assert abs((stats.last_t - stats.first_t) - (ref_stats.last_t - ref_stats.first_t)) < 1e-5, suffix
        if suffix not in (".asc", ".asc.gz"):
            assert abs(stats.first_t - ref_stats.first_t) < 1e-5, suffix


def test_a_selection_keeps_only_the_ids_it_wants_and_counts_the_rest(logs):
    wanted = Selection(lambda fid: fid in (0x0B0, 0x0C0))
    for suffix in (".log", ".blf"):
        frames, stats = _read(logs[suffix], wanted)
        assert {fid for _t, fid, _d in frames} == {0x0B0, 0x0C0}
        assert stats.kept == len(frames) and stats.frames > stats.kept


def _candump_lines() -> str:
    return "\n".join([
        "(1700000000.000100) can0 0B0#0102030405060708",
        "",
        "(1700000000.000200) can1 18FEF100#1122334455667788",          # extended
        "(1700000000.000300) can0 123#R",                                # remote
        "(1700000000.000400) can0 20000080#0000000000000000",            # error frame
        "(1700000000.000500) vcan0 0C0##1AABBCCDD",                      # CAN FD
        "(1700000000.000600) 2 0C0#00FF R",                              # numeric channel, rx marker
        "(1700000000.000700) can0 00000123#01 T",                        # 8-digit id: extended
        "(1700000000.000800) can0 7ff#",                                 # lower case, no data
    ]) + "\n"


def test_fast_candump_reader_agrees_with_python_can(tmp_path):
    path = tmp_path / "edge.log"
    path.write_text(_candump_lines())
    expected = []
    for msg in can.LogReader(str(path)):
        if msg.is_error_frame or msg.is_remote_frame:
            continue
        fid = msg.arbitration_id | (EXTENDED if msg.is_extended_id else 0)
        expected.append((msg.timestamp, fid, bytes(msg.data), msg.channel))
    stats = ReadStats()
    stream, _raw = open_log(path, False)
    got = list(read_candump(stream, EVERYTHING, stats))
    assert got == expected
    assert (stats.frames, stats.other) == (6, 2)
    assert stats.first_t == 1700000000.0001 and stats.last_t == 1700000000.0008


def test_channels_select_frames(tmp_path):
    path = tmp_path / "edge.log"
    path.write_text(_candump_lines())
    stream, _raw = open_log(path, False)
    got = list(read_candump(stream, Selection(lambda fid: True, frozenset({"can0"})), ReadStats()))
    assert [fid for _t, fid, _d, _c in got] == [0x0B0, 0x123 | EXTENDED, 0x7FF]


def test_damage_is_located_and_the_frames_before_it_are_kept(tmp_path, logs):
    text = logs[".log"].read_text().splitlines()
    path = tmp_path / "cut.log"
    path.write_text("\n".join(text[:40]) + "\n" + text[40][:22] + "\n")     # the last line cut mid-id
    reader = DriveReader(Drive("d", (path,)), EVERYTHING)
    reader.start()
    frames = list(reader.frames())
    assert len(frames) == 40
    assert reader.damages() == [f"{path}: line 41: not a candump -L line: {text[40][:22]!r}"]
    cut = tmp_path / "cut.blf"
    data = logs[".blf"].read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    reader = DriveReader(Drive("d", (cut,)), EVERYTHING)
    reader.start()
    frames = list(reader.frames())
    assert frames or reader.damages()


@pytest.mark.parametrize("bad", ["(1700000000.000300) can0 0B0", "(1700000000.000300) ca#n0 0B0#0102",
                                 "(1700000000.000300) can0 0B0 0102", "1700000000.000300 can0 0B0#0102"])
def test_a_damaged_line_with_an_id_seen_before_is_still_damage(tmp_path, bad):
    """The fast path skips lines by their id field alone: a line whose id field reads as
    one already seen must not pass when the rest of it is not a candump -L line."""
    path = tmp_path / "bad.log"
    path.write_text("(1700000000.000100) can0 0B0#0102\n(1700000000.000200) can0 0B0#0304\n" + bad + "\n"
                    "(1700000000.000400) can0 0B0#0506\n")
    reader = DriveReader(Drive("d", (path,)), EVERYTHING)
    reader.start()
    assert len(list(reader.frames())) == 2
    assert reader.damages() == [f"{path}: line 3: not a candump -L line: {bad!r}"]


def test_truncated_gzip_is_damage_after_its_last_frame(tmp_path, logs):
    data = logs[".log.gz"].read_bytes()
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    reader = DriveReader(Drive("d", (path,)), EVERYTHING)
    reader.start()
    frames = list(reader.frames())
    assert frames
    [damage] = reader.damages()
    assert damage.startswith(f"{path}: ") and ("EOFError" in damage or "line" in damage)


def test_unknown_format_names_the_file(tmp_path):
    path = tmp_path / "drive.xyz"
    path.write_text("x")
    with pytest.raises(InputError, match=r"drive\.xyz: unknown log format '\.xyz'; known: .*\.blf"):
        format_of(path)
    with pytest.raises(InputError, match="no such file"):
        drives_from_arguments([tmp_path / "missing.log"], merge=False)


def test_drives_from_files_directories_and_merge(tmp_path, logs):
    day = tmp_path / "day1"
    day.mkdir()
    for name in ("00000001.log", "00000002.log"):
        (day / name).write_bytes(logs[".log"].read_bytes())
    (day / "notes.txt.bak").write_text("not a log")
    drives = drives_from_arguments([day, logs[".blf"], logs[".log"]], merge=False)
    assert [(d.name, len(d.files)) for d in drives] == [("day1", 2), ("drive-2", 1), ("drive-3", 1)]
    [merged] = drives_from_arguments([logs[".blf"], logs[".log"]], merge=True)
    assert merged.name == "drive-merged" and len(merged.files) == 2


def test_merged_files_come_in_time_order(tmp_path):
    frames = list(drive_frames(_short_drive()))
    write_log(tmp_path / "a.log", iter(frames[0::2]), channel="can0")
    write_log(tmp_path / "b.blf", iter(frames[1::2]), channel=1)
    reader = DriveReader(Drive("d", (tmp_path / "a.log", tmp_path / "b.blf")), EVERYTHING)
    reader.start()
    got = list(reader.frames())
    assert [round(t, 6) for t, *_ in got] == [round(f[0], 6) for f in frames]
    assert {ch for *_, ch in got} == {"can0", 1}
