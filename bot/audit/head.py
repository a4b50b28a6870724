"""What both trails (the file, the table) keep about themselves: the chain's head, their
health and the last error, and closing when used as a context manager."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from bot.audit.chain import GENESIS_HASH
from bot.audit.records import AnswerRecords


class ChainedTrail(AnswerRecords):
    """A trail's own state; ``record`` and ``close`` are each trail's."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._head = GENESIS_HASH
        self._healthy = False
        self._last_error: str | None = None

    @property
    def healthy(self) -> bool:
        """False from a failed write, open or probe until a later one succeeds (/readyz)."""
        return self._healthy

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record this trail wrote or found."""
        with self._lock:
            return self._seq, self._head

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
