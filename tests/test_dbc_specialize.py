"""The host decoder's two paths agree: keigov.dbc.decode's table loop and the straight-line
functions keigov.dbc.specialize builds per message (with value lookups, and without once
the lookup budget is spent). Both are compared with cantools in test_dbc_corpus.py."""

from __future__ import annotations

import random

from dbc_support import CORPUS, compiled, device_id, same_values, sample_payloads
from keigov.dbc.compile import compile_messages
from keigov.dbc.generated import load_source


def test_table_loop_equals_specialized_functions():
    rng = random.Random(5)
    specialized = 0
    for dbc in CORPUS:
        db, mod = compiled(dbc)
        source = compile_messages([dbc], None)
        loop, plain = load_source(source, "loop"), load_source(source, "plain")
        loop._database().specialize = False
        plain._database()._budget = 0
        for msg in db.messages:
            for payload in sample_payloads(msg, rng, 20):
                fid = device_id(msg)
                expected = loop.decode(fid, payload)
                assert same_values(expected, mod.decode(fid, payload))
                assert same_values(expected, plain.decode(fid, payload))
                assert loop.last_error() == mod.last_error() == plain.last_error()
        assert not loop._database()._fast
        specialized += len(mod._database()._fast)
    assert specialized == sum(len(compiled(dbc)[0].messages) for dbc in CORPUS)


def test_a_message_is_specialized_once_whatever_its_frames():
    """A frame the function declines (a multiplexer value selecting nothing) goes to the
    table loop without building the function again."""
    for dbc in CORPUS:
        db, mod = compiled(dbc)
        database = mod._database()
        for msg in db.messages:
            fid = device_id(msg)
            mod.decode(fid, bytes(msg.length))
            before = (database._fast.get(fid), database._budget)
            for payload in sample_payloads(msg, random.Random(7), 10):
                mod.decode(fid, payload)
            assert (database._fast.get(fid), database._budget) == before, msg.name
