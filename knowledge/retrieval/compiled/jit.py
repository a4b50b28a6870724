"""One way to compile with numba, shared by the compiled search and the compiled build."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

_F = TypeVar("_F", bound=Callable[..., Any])


def jit(fn: _F) -> _F:
    """Compile lazily, caching machine code on disk where numba finds a writable place.

    A read-only install with no writable cache directory only loses the cache
    (compiling costs seconds once per process), never the function.
    """
    try:
        return cast(_F, numba.njit(nogil=True, cache=True)(fn))
    except RuntimeError:
        return cast(_F, numba.njit(nogil=True)(fn))
