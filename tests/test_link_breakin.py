"""REPL break-in on a development device's link (core/link.py): mpremote's CR, Ctrl-C at a
frame start hands the port to the REPL with the bytes after it still unread, while no
request, whatever its payload and CRC, is ever taken for a break-in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import fwenv  # noqa: F401  (puts firmware/ on sys.path)

from core import link
from keigov.link import framing
from keigov.link.protocol import MAX_PAYLOAD
from test_link_parser import Echo, Port, drain

MPREMOTE_BREAK = b"\r\x03\r\x01"  # what mpremote sends to reach the raw REPL


def dev_link(data: bytes = b"") -> tuple[link.Link, Port, Echo]:
    port = Port(data)
    echo = Echo()
    return link.Link(port, echo, break_in=True), port, echo


@given(cmd=st.integers(1, 0x7E), seq=st.integers(1, 255), payload=st.binary(max_size=MAX_PAYLOAD),
       budget=st.integers(1, 300))
@settings(max_examples=300)
def test_every_request_is_answered_and_none_breaks_in(cmd, seq, payload, budget):
    lk, port, echo = dev_link(framing.encode_frame(cmd, seq, payload) * 2)
    frames = drain(lk, port, budget)
    assert not lk.break_requested
    assert frames[0] == framing.Frame(1, cmd | 0x80, seq, 0, payload) and lk.frames + lk.retries == 2


def test_mpremote_break_after_a_request_leaves_its_ctrl_a_in_the_port():
    request = framing.encode_frame(1, 7, b"")
    lk, port, echo = dev_link(request + MPREMOTE_BREAK)
    polls = 0
    while not lk.break_requested and polls < 10:
        lk.poll(128)
        polls += 1
    assert lk.break_requested and echo.calls == 1
    assert bytes(port.inp) == b"\r\x01"  # for the REPL: nothing past the Ctrl-C was read
    lk.poll(128)
    assert bytes(port.inp) == b"\r\x01"  # a link that broke in reads no more


def test_break_on_an_idle_link_and_cr_lf_noise_is_skipped():
    lk, port, _ = dev_link(b"\n\r\n\r" + b"\x03" + b"\x01")
    lk.poll(128)
    assert lk.break_requested and bytes(port.inp) == b"\x01"
    assert lk.bad_frame == 0


def test_ctrl_c_inside_a_frame_is_data():
    lk, port, echo = dev_link(framing.encode_frame(1, 3, b"\x03\r\x03\x03"))
    frames = drain(lk, port)
    assert not lk.break_requested and frames[0].payload == b"\x03\r\x03\x03"


def test_production_link_takes_no_break_and_answers_sequence_zero():
    port = Port(MPREMOTE_BREAK + framing.encode_frame(1, 0, b"x"))
    lk = link.Link(port, Echo())
    while port.inp or lk._c_off < lk._c_end:
        lk.poll(128)
    frames = framing.FrameReader().feed(bytes(port.out))
    assert not lk.break_requested and frames[0].seq == 0 and frames[0].payload == b"x"


@given(st.binary(max_size=2000), st.integers(1, 300))
@settings(max_examples=200)
def test_garbage_never_raises_and_polls_stay_bounded(garbage, budget):
    lk, port, _ = dev_link(garbage)
    for _ in range(len(garbage) + 2):
        before = len(port.reads)
        used = lk.poll(budget)
        assert used <= budget and len(port.reads) - before <= 16
        if lk.break_requested or not (port.inp or lk._c_off < lk._c_end):
            break
    if lk.break_requested:
        assert b"\x03" in garbage


def test_a_stream_of_delimiters_costs_at_most_sixteen_reads_per_poll():
    lk, port, _ = dev_link(b"\x00" * 1000)
    lk.poll(128)
    assert port.reads == [1] * 16
