"""A compiled table's header gives back the projection it was built with: what the host
needs to turn the device's decimetre positions (events) back into degrees."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import firmware_harness  # noqa: F401  (firmware on sys.path)

from core import geofence
from keigov.errors import InputError
from keigov.zones.projection import E7, Projection, split16
from keigov.zones.table import build_table, read_projection


@settings(max_examples=60, deadline=None)
@given(st.floats(-80, 80), st.floats(-180, 180), st.integers(-30_000, 30_000), st.integers(-30_000, 30_000))
def test_the_header_holds_the_projection_the_device_uses(lat0, lon0, dlat_e7, dlon_e7):
    proj = Projection.about(lat0, lon0)
    blob = build_table([], proj, 300).blob
    assert read_projection(blob, "t") == proj
    # The device's own to_local on the same table agrees with the projection read back,
    # and to_lonlat undoes it to within the rounding of a decimetre.
    fence = geofence.Fence()
    assert fence.read(io.BytesIO(blob)) == geofence.OK
    lat_e7, lon_e7 = proj.lat0_e7 + dlat_e7, proj.lon0_e7 + dlon_e7
    assert fence.to_local(*split16(lat_e7), *split16(lon_e7))
    back = read_projection(blob, "t")
    assert back.to_local(lon_e7 / E7, lat_e7 / E7) == (fence.x, fence.y)
    lon, lat = back.to_lonlat(fence.x, fence.y)
    kx, ky = back.dm_per_e7()
    assert abs(lon * E7 - lon_e7) <= 1 / kx + 1e-6 and abs(lat * E7 - lat_e7) <= 1 / ky + 1e-6


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b[:40], "40 bytes is too short for a zones table"),
    (lambda b: b"XXXX" + b[4:], "not a compiled zones table (bad magic)"),
    (lambda b: b[:4] + (9).to_bytes(4, "little") + b[8:], "zones table version 9; this keigov reads 1"),
])
def test_a_damaged_header_is_refused_naming_the_place(damage, reason):
    blob = build_table([], Projection.about(35.68, 139.77), 300).blob
    with pytest.raises(InputError, match="^" + re.escape(f"dev: zones: {reason}")):
        read_projection(damage(blob), "dev: zones")
