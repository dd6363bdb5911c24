"""Shared helpers of the DBC compiler tests: compile with keigov, compare with cantools."""

from __future__ import annotations

import math
import random
import shutil
import sys
from pathlib import Path

import cantools
from cantools.database.can import Database, Message
from hypothesis import strategies as st

from keigov.dbc.compile import compile_messages
from keigov.dbc.generated import load_source

_BESIDE_PYTHON = Path(sys.executable).with_name("micropython")
MICROPYTHON = shutil.which("micropython") or (str(_BESIDE_PYTHON) if _BESIDE_PYTHON.exists() else None)
CORPUS_DIR = Path(__file__).parent / "dbc_corpus"
CORPUS = sorted(CORPUS_DIR.glob("*.dbc"))


def compiled(dbc: Path, *, any_source: bool = False):
    """(cantools database, generated module) for every message of a DBC."""
    return cantools.database.load_file(str(dbc), strict=True), \
        load_source(compile_messages([dbc], None, any_source=any_source), dbc.stem)


def same_value(a: object, b: object) -> bool:
    """Same type, and equal ints or floats equal within 1e-9 relative (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=1e-9, abs_tol=0.0)
    return a == b


def same_values(expected: dict | None, got: dict | None) -> bool:
    if expected is None or got is None:
        return expected is got
    return expected.keys() == got.keys() and all(same_value(expected[k], got[k]) for k in expected)


def device_id(msg: Message) -> int:
    """The id as the boards deliver it: bit 29 marks an extended id."""
    return msg.frame_id | (0x20000000 if msg.is_extended_frame else 0)


def cantools_decode(db: Database, frame_id: int, data: bytes, *, extended: bool = False) -> dict | None:
    """cantools' values, or None where it refuses the frame (unknown id, short, bad mux)."""
    try:
        return dict(db.decode_message(frame_id, data, decode_choices=False, force_extended_id=extended))
    except (KeyError, cantools.database.DecodeError):
        return None


def cantools_encode(msg: Message, values: dict) -> bytes | None:
    """cantools' payload, or None where it refuses the values."""
    try:
        return msg.encode(values, scaling=True, strict=True)
    except (cantools.database.EncodeError, OverflowError, ValueError, KeyError, TypeError):
        return None


def selected_raw(msg: Message, pick_int, pick_float, pick_choice) -> dict[str, int | float]:
    """Raw values along one path of the multiplexer tree (random bytes rarely select one)."""
    raw: dict[str, int | float] = {}

    def fill(tree: list) -> None:
        for node in tree:
            if isinstance(node, str):
                sig = msg.get_signal_by_name(node)
                lo = -(1 << (sig.length - 1)) if sig.is_signed else 0
                raw[node] = pick_float(sig.length) if sig.is_float else pick_int(lo, lo + (1 << sig.length) - 1)
            else:
                for mux, children in node.items():
                    raw[mux] = pick_choice(sorted(children))
                    fill(children[raw[mux]])

    fill(msg.signal_tree)
    return raw


@st.composite
def muxed_payload(draw, msg: Message) -> bytes:
    raw = selected_raw(msg, lambda lo, hi: draw(st.integers(lo, hi)),
                       lambda width: draw(st.floats(width=width, allow_nan=False)),
                       lambda options: draw(st.sampled_from(options)))
    return msg.encode(raw, scaling=False, strict=False)


def sample_payloads(msg: Message, rng: random.Random, n: int) -> list[bytes]:
    """Deterministic frames for runs outside hypothesis: random bytes and selected paths."""
    out = [rng.randbytes(msg.length) for _ in range(n)]
    if msg.is_multiplexed():
        for _ in range(n):
            raw = selected_raw(msg, rng.randint, lambda width: rng.uniform(-1e6, 1e6), rng.choice)
            out.append(msg.encode(raw, scaling=False, strict=False))
    return out


def payloads(msg: Message) -> st.SearchStrategy[bytes]:
    """Random bytes of the message's length, or a payload with valid multiplexer values."""
    random_bytes = st.binary(min_size=msg.length, max_size=msg.length)
    return st.one_of(random_bytes, muxed_payload(msg)) if msg.is_multiplexed() else random_bytes
