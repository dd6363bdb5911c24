"""The firmware's link parser (core/link.py) under CPython, against the host's framing
(keigov.link.framing: an independent COBS codec and binascii's CRC as the oracle)."""

from __future__ import annotations

import binascii

from hypothesis import given, settings
from hypothesis import strategies as st

import fwenv  # noqa: F401  (puts firmware/ on sys.path)

from core import link
from core.crc16 import crc16
from keigov.link import framing
from keigov.link.protocol import MAX_PAYLOAD


class Echo:
    """Answers every command with its own payload; command 0x7F raises."""

    def __init__(self) -> None:
        self.calls = 0

    def handle(self, cmd, req, n, resp):
        self.calls += 1
        if cmd == 0x7F:
            raise RuntimeError("handler bug")
        resp[link.PAYLOAD : link.PAYLOAD + n] = req[link.PAYLOAD : link.PAYLOAD + n]
        return n


class Port:
    def __init__(self, data: bytes = b"") -> None:
        self.inp = bytearray(data)
        self.out = bytearray()
        self.reads: list[int] = []

    def readinto(self, buf, n):
        k = min(n, len(self.inp))
        buf[:k] = self.inp[:k]
        del self.inp[:k]
        self.reads.append(k)
        return k

    def write(self, buf, n):
        self.out += bytes(buf[:n])
        return n


def make(data: bytes = b"") -> tuple[link.Link, Port, Echo]:
    port = Port(data)
    echo = Echo()
    return link.Link(port, echo), port, echo


def drain(lk: link.Link, port: Port, budget: int = 64) -> list[framing.Frame]:
    while port.inp or lk._c_off < lk._c_end:
        lk.poll(budget)
    return framing.FrameReader().feed(bytes(port.out))


def test_crc_check_value_and_oracle():
    assert crc16(b"123456789") == 0x29B1
    data = bytes(range(256)) * 3
    assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


@given(st.binary(max_size=600))
def test_crc_matches_binascii(data):
    assert crc16(data) == binascii.crc_hqx(data, 0xFFFF)


@given(cmd=st.integers(0, 0x7E), seq=st.integers(0, 255), payload=st.binary(max_size=MAX_PAYLOAD),
       budget=st.integers(1, 300))
@settings(max_examples=200)
def test_echo_round_trip_at_any_budget(cmd, seq, payload, budget):
    lk, port, echo = make(framing.encode_frame(cmd, seq, payload))
    frames = drain(lk, port, budget)
    assert frames == [framing.Frame(1, cmd | 0x80, seq, 0, payload)]
    assert echo.calls == 1 and lk.frames == 1


def test_payloads_around_the_cobs_run_limit():
    for n in (248, 249, 250, 251, 252, 253, 254, 255):
        payload = bytes([0x11]) * n
        lk, port, _ = make(framing.encode_frame(1, 2, payload))
        assert drain(lk, port)[0].payload == payload


def test_oversized_frame_dropped_then_next_answered():
    body = bytes([1, 1, 9, 0, 0]) + bytes([0x22]) * (MAX_PAYLOAD + 1)
    crc = framing.crc16(body)
    big = b"\x00" + framing.cobs_encode(body + bytes([crc >> 8, crc & 0xFF])) + b"\x00"
    lk, port, echo = make(big + framing.encode_frame(2, 3, b"ok"))
    frames = drain(lk, port)
    assert [f.payload for f in frames] == [b"ok"]
    assert lk.oversized == 1 and echo.calls == 1


def test_bad_crc_dropped():
    wire = bytearray(framing.encode_frame(1, 1, b"abc"))
    wire[-3] ^= 0x01  # a CRC byte (never zero after COBS)
    lk, port, echo = make(bytes(wire))
    assert drain(lk, port) == [] and lk.bad_crc == 1 and echo.calls == 0


def test_truncated_frame_then_valid_one():
    good = framing.encode_frame(1, 1, b"hello world")
    lk, port, echo = make(good[:7] + b"\x00" + framing.encode_frame(1, 2, b"x"))
    frames = drain(lk, port)
    assert [f.seq for f in frames] == [2]
    assert lk.bad_frame + lk.bad_crc == 1


def test_short_body_counted():
    lk, port, _ = make(b"\x00" + framing.cobs_encode(b"\x01\x02\x03") + b"\x00")
    assert drain(lk, port) == [] and lk.bad_frame == 1


def test_a_trailing_zero_does_not_make_another_valid_frame():
    """With no final XOR, CRC(body + CRC) = 0, so body + CRC + 0x00 reads as a valid CRC
    over body + its CRC's first byte (found by hypothesis: a delimiter flipped to 0x01
    makes the decoder append a 0x00). The length byte refuses it."""
    wire = bytearray(framing.encode_frame(0, 9, bytes(7)))
    wire[-1] = 0x01
    lk, port, echo = make(bytes(wire) + framing.encode_frame(1, 10, b""))
    assert [f.seq for f in drain(lk, port)] == [10] and lk.bad_frame == 1


def test_length_byte_must_match():
    body = bytes([1, 1, 3, 0, 2]) + b"abc"
    crc = framing.crc16(body)
    lk, port, echo = make(b"\x00" + framing.cobs_encode(body + bytes([crc >> 8, crc & 0xFF])) + b"\x00")
    assert drain(lk, port) == [] and lk.bad_frame == 1 and echo.calls == 0


def test_wrong_version_gets_error_reply_in_our_version():
    lk, port, echo = make(framing.encode_frame(1, 7, b"", version=2))
    (f,) = drain(lk, port)
    assert (f.version, f.command, f.seq, f.status) == (1, 0x81, 7, link.E_VERSION)
    assert echo.calls == 0


def test_replies_are_not_answered():
    lk, port, echo = make(framing.encode_frame(0x81, 1, b""))
    assert drain(lk, port) == [] and lk.dropped == 1


def test_retry_gets_the_same_reply_without_acting_twice():
    req = framing.encode_frame(5, 42, b"data")
    lk, port, echo = make(req + req)
    frames = drain(lk, port)
    assert len(frames) == 2 and frames[0] == frames[1]
    assert echo.calls == 1 and lk.retries == 1
    port.inp += framing.encode_frame(5, 43, b"data")
    assert len(drain(lk, port)) == 3 and echo.calls == 2


def test_handler_exception_answered_as_internal_error():
    lk, port, _ = make(framing.encode_frame(0x7F, 1, b"") + framing.encode_frame(1, 2, b"z"))
    frames = drain(lk, port)
    assert [(f.seq, f.status) for f in frames] == [(1, link.E_INTERNAL), (2, 0)]
    assert lk.internal == 1


def test_poll_respects_budget_and_answers_one_request_per_call():
    wire = b"".join(framing.encode_frame(1, s, b"p" * 40) for s in range(5))
    lk, port, echo = make(wire)
    total = 0
    while port.inp or lk._c_off < lk._c_end:
        before = echo.calls
        used = lk.poll(32)
        assert used <= 32 and echo.calls - before <= 1
        total += used
    assert total == len(wire) and echo.calls == 5
    assert max(port.reads) <= 32


def test_io_error_on_write_is_counted_not_raised():
    class Broken(Port):
        def write(self, buf, n):
            raise OSError(5, "EIO")

    port = Broken(framing.encode_frame(1, 1, b""))
    lk = link.Link(port, Echo())
    lk.poll(100)
    assert lk.io_errors == 1


@given(st.binary(max_size=2000), st.integers(1, 400))
@settings(max_examples=300)
def test_random_bytes_never_raise_and_the_link_recovers(garbage, budget):
    lk, port, echo = make(garbage + framing.encode_frame(3, 200, b"after"))
    frames = drain(lk, port, budget)
    assert frames and frames[-1].seq == 200 and frames[-1].payload == b"after"
    # Whatever else was answered had a valid CRC, so it was a real (if accidental) request.
    assert len(frames) == echo.calls + lk.retries + sum(f.status == link.E_VERSION for f in frames)


_mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.just(0)),
)


@given(cmd=st.integers(0, 0x7E), payload=st.binary(max_size=MAX_PAYLOAD), mutations=st.lists(_mutation, max_size=4))
@settings(max_examples=300)
def test_mutated_frames_never_raise_and_never_pass_corrupted(cmd, payload, mutations):
    wire = bytearray(framing.encode_frame(cmd, 9, payload))
    for kind, at, value in mutations:
        at %= len(wire) + (kind == "insert")
        if kind == "flip":
            wire[at] ^= value
        elif kind == "insert":
            wire.insert(at, value)
        elif len(wire) > 1:
            del wire[at]
    lk, port, echo = make(bytes(wire) + framing.encode_frame(1, 77, b"tail"))
    frames = drain(lk, port)
    assert frames[-1].seq == 77
    for f in frames[:-1]:  # a request answered under seq 9 must be the one sent, intact
        if f.status == 0 and f.seq == 9:
            assert f.command == cmd | 0x80 and f.payload == payload
