"""Errors the CLI turns into one clean line and an exit status."""

from __future__ import annotations


class KeigovError(Exception):
    """A user-facing failure: bad input file, missing runtime, rig failure."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        super().__init__(f"{where}: {message}" if where else message)


class InputError(KeigovError):
    """A file or argument the user gave is wrong (exit 2)."""


class EnvironmentProblem(KeigovError):
    """Something the machine lacks, such as the MicroPython runtime (exit 3)."""

    exit_code = 3
