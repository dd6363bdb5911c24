"""The vehicle's nodes on the bus: the motor controller trusts only governor commands
whose checksum (the map's scheme, as the governor computed it) is right."""

from __future__ import annotations

from keigov_hil.ecus import VehicleNodes
from keigov_hil.gnss import GnssReceiver, Route
from keigov_hil.vehicle import MotorController, Road, Vehicle, VehicleParams


def test_a_command_with_a_bad_checksum_is_dropped_and_counted() -> None:
    mcu = MotorController()
    route = Route.straight(35.68, 139.76, 90.0, 1000.0)
    nodes = VehicleNodes(Vehicle(VehicleParams(), Road([(0.0, 0.0)])), GnssReceiver(route), mcu, [])
    command = {"TORQUE_LIMIT": 42.0, "SPEED_LIMIT": 64.4, "COMMAND_STATE": 2}
    fid, good = nodes.packer.pack("GOVERNOR_COMMAND", command)
    nodes.on_frame(0.01, fid, good)
    assert (nodes.view.commands, nodes.view.bad_commands, nodes.view.torque_limit_pct) == (1, 0, 42.0)
    _fid, other = nodes.packer.pack("GOVERNOR_COMMAND", command | {"TORQUE_LIMIT": 90.0})
    corrupted = other[:7] + bytes([other[7] ^ 0x01])      # the checksum byte, one bit flipped
    nodes.on_frame(0.02, fid, corrupted)
    assert (nodes.view.commands, nodes.view.bad_commands, nodes.view.torque_limit_pct) == (1, 1, 42.0)
    assert mcu.torque_fraction(0.03, 100.0) == 0.42, "the motor controller still obeys the last good command"
    nodes.on_frame(0.03, fid, other)
    assert nodes.view.torque_limit_pct == 90.0
