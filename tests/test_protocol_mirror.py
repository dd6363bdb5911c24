"""The host's protocol numbers (keigov.link.protocol, keigov.config) are the firmware's."""

from __future__ import annotations

import fwenv  # noqa: F401

from core import cfgblob, evstore, link, persist, service
from keigov.config import blob, keys
from keigov.firmware_params import consts
from keigov.link import messages
from keigov.link import protocol as P


def test_status_codes():
    fw = {v: k[2:].lower() for k, v in consts("core/link.py").items() if k.startswith("E_")}
    fw[link.OK] = "ok"
    assert fw == {code: name for code, (name, _text) in P.STATUSES.items()}


def test_reason_codes():
    fw = {v: k[2:].lower() for k, v in consts("core/cfgblob.py").items() if k.startswith("R_")}
    assert fw == {code: name for code, (name, _text) in P.REASONS.items()}


def test_commands_and_sizes():
    fw = {k[4:]: v for k, v in consts("core/service.py").items() if k.startswith("CMD_")}
    assert fw == {name: getattr(P, name) for name in fw}
    assert (P.VERSION, P.MAX_PAYLOAD, P.REPLY) == (link.VERSION, link.MAX_PAYLOAD, link.REPLY)
    assert (P.PUT_DATA_MAX, P.GET_DATA_MAX, P.EVENTS_MAX) == (service.PUT_DATA_MAX, service.GET_DATA_MAX,
                                                             service.EVENTS_MAX)
    assert len(P.STATUS_FIELDS) == service.STATUS_FIELDS
    assert messages.EVENT_RECORD.size == evstore.WIRE_RECORD
    assert 13 + P.EVENTS_MAX * evstore.WIRE_RECORD <= P.MAX_PAYLOAD < 13 + (P.EVENTS_MAX + 1) * evstore.WIRE_RECORD


def test_blob_and_provisioning_layouts():
    assert (blob.MAGIC, blob.FORMAT, blob.HEADER, blob.MAC_SIZE) == (cfgblob.MAGIC, cfgblob.FORMAT, cfgblob.HEADER,
                                                                    cfgblob.MAC_SIZE)
    assert (blob.SEC_PARAMS, blob.SEC_TABLES, blob.SEC_ZONES) == (cfgblob.SEC_PARAMS, cfgblob.SEC_TABLES,
                                                                  cfgblob.SEC_ZONES)
    assert keys.PROV_SIZE == persist.PROV_SIZE and keys.KEY_SIZE == persist.KEY_SIZE
    assert keys.PROV_PRODUCTION == persist.PROV_PRODUCTION
