"""keigov firmware core: the governor's control and safety logic.

Nothing in this package imports a board module or touches hardware: the board layer
(`boards/`) builds the CAN, clock, storage and watchdog objects and passes them in.
The same files run under MicroPython on a board, on the unix port, and under CPython.
"""
