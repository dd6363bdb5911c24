"""Board backends: each builds the hardware objects the core needs and runs its loop.

A board module provides `main(argv)`. They are looked up by name and imported only when
chosen, so a board's drivers (pyb, machine.CAN, an MCP2515 over SPI) are never needed
anywhere else.
"""

BOARDS = {
    "sim": "boards.sim",              # the HIL rig's and the virtual dev board's (hil/keigov_hil/vboard.py)
    "pyboard": "boards.pyboard",      # STM32 pyboard, pyb.CAN
    "stm32": "boards.mcan",           # STM32 with machine.CAN (MicroPython >= 1.28)
    "mimxrt": "boards.mcan",          # MIMXRT with machine.CAN
    "rp2-mcp2515": "boards.mcp",      # RP2040 + MCP2515 on SPI
    "esp32-mcp2515": "boards.mcp",    # ESP32 + MCP2515 on SPI
}


def load(name):
    path = BOARDS.get(name)
    if path is None:
        raise ValueError("unknown board %r; known: %s" % (name, ", ".join(sorted(BOARDS))))
    module = __import__(path)
    return getattr(module, path.split(".")[1])
