"""A one-line progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30
_EVERY_S = 0.2


class Progress:
    def __init__(self, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.label = label
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self._shown = 0.0

    def update(self, fraction: float, text: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or now - self._shown < _EVERY_S:
            return
        self._shown = now
        done = int(_WIDTH * min(max(fraction, 0.0), 1.0))
        self.stream.write(f"\r  {self.label} [{'#' * done}{'.' * (_WIDTH - done)}] {100 * fraction:5.1f} % {text}  ")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\r" + " " * (_WIDTH + len(self.label) + 40) + "\r")
            self.stream.flush()
