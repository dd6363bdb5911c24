"""keigov host tools: compile vehicle tables, run the HIL rig, talk to the device."""

__version__ = "0.1.0"
