"""The sim board: the firmware running in a host process (MicroPython's unix port, or CPython
for debugging), stepped in lockstep by the rig and the replay over its record protocol."""
