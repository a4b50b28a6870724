"""A knowledge-base load's stages on the terminal: a bar updated in place.

Only on a terminal (stderr a TTY), and only for a load long enough to report a running
stage: a warm start of a few hundred milliseconds prints nothing. Logs get the stage
lines whatever the terminal (``kb.stage`` events, from ``knowledge.service``).
"""

from __future__ import annotations

import sys
from typing import TextIO

from knowledge.service import ReloadStage

_WIDTH = 28
_DONE = {"validate": "validated", "index": "index built", "swap": "swapped in"}


class TerminalProgress:
    """A ``ReloadProgress`` callback drawing the stages on ``stream``."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _is_tty(self.stream)
        self._drawn = False  # a bar is on the current line
        self._shown = False  # a running stage was shown: finished ones are worth a line

    def __call__(self, stage: ReloadStage) -> None:
        if not self.enabled:
            return
        if not stage.finished:
            self._shown = True
            self._draw(_bar(stage))
        elif self._shown:
            self._draw(f"✓ {_DONE[stage.name]}: {stage.detail} ({stage.seconds:.1f} s)")
            self.stream.write("\n")
            self._drawn = False
        self.stream.flush()

    def close(self) -> None:
        """Leave the terminal on a clean line."""
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False

    def _draw(self, line: str) -> None:
        self.stream.write("\r\x1b[K" + line)
        self._drawn = True


def _bar(stage: ReloadStage) -> str:
    total, done = stage.total or 0, stage.done or 0
    if total > 0:
        filled = min(_WIDTH, _WIDTH * done // total)
        bar = "█" * filled + "░" * (_WIDTH - filled)
        return f"{bar} {100 * done // total:3d}% {stage.detail} ({stage.seconds:.1f} s)"
    return f"… {stage.detail} ({stage.seconds:.1f} s)"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
