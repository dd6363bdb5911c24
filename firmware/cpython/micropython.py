"""CPython stand-in for MicroPython's built-in `micropython` module.

Only the CPython runtime puts this directory on sys.path, so the firmware core imports
`from micropython import const` unchanged on both interpreters. On MicroPython the
built-in module is always found first.
"""


def const(value):
    return value


def native(func):
    return func


viper = native


def heap_lock():
    return None


def heap_unlock():
    return 0
