"""A writable copy of the bundled knowledge base, for tests that change what is served."""

from __future__ import annotations

import shutil
from pathlib import Path

from knowledge.service import bundled_kb_dir


def writable_kb(parent: Path, name: str = "kb") -> Path:
    """``parent/name``: the bundled articles and manifest, to add to or break."""
    target = parent / name
    shutil.copytree(bundled_kb_dir(), target)
    return target
