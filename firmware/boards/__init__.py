"""Board backends: each builds the hardware objects the core needs and runs its loop.

A board module provides `main(argv)`. They are looked up by name and imported only when
chosen, so a board's drivers (pyb, machine.CAN, an MCP2515 over SPI) are never needed
anywhere else.
"""

BOARDS = {
    "sim": "boards.sim",
}


def load(name):
    path = BOARDS.get(name)
    if path is None:
        raise ValueError("unknown board %r; known: %s" % (name, ", ".join(sorted(BOARDS))))
    module = __import__(path)
    return getattr(module, path.split(".")[1])
