"""Firmware entry point: pick the board, build it, run the governor on it.

On a microcontroller this is the file MicroPython runs at boot; the board is the one
`keigov flash` wrote into board.txt beside it. On a host it runs as
`micropython main.py --board sim --storage DIR` (or under CPython, with firmware/cpython
on the path for the `micropython` module stand-in).
"""
import sys

_DEFAULT_BOARD = {"linux": "sim", "darwin": "sim", "win32": "sim"}


def main():
    argv = sys.argv[1:]
    name = _DEFAULT_BOARD.get(sys.platform, sys.platform)
    try:
        with open("board.txt") as f:
            name = f.read().strip()
    except OSError:
        pass
    if "--board" in argv:
        i = argv.index("--board")
        name = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    import boards

    boards.load(name).main(argv)


main()
