"""The dependency rule of docs/architecture.md: bot → handlers → knowledge, never back.

Read from the source (every ``import``, at any depth, including imports inside
functions), so a lazy import cannot slip past the way a runtime check of
``sys.modules`` would let it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Top-level modules each package must never import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "knowledge": frozenset({"bot", "handlers", "slack_bolt", "slack_sdk", "slack"}),
    "handlers": frozenset({"bot"}),
}


def imported_modules(source: str) -> Iterator[tuple[int, str]]:
    """(line, dotted module) of every absolute import in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            yield node.lineno, node.module


def violations(package: str) -> list[str]:
    forbidden = FORBIDDEN[package]
    found: list[str] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in imported_modules(path.read_text(encoding="utf-8")):
            if module.split(".")[0] in forbidden:
                found.append(f"{path.relative_to(ROOT)}:{line}: imports {module}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_point_one_way(package: str) -> None:
    assert violations(package) == []


def test_the_check_sees_imports_at_any_depth() -> None:
    source = "import os\ndef f():\n    from slack_sdk import WebClient\n    import bot.cli\n"
    assert list(imported_modules(source)) == [(1, "os"), (3, "slack_sdk"), (4, "bot.cli")]


def test_every_package_is_checked() -> None:
    assert {p for p in FORBIDDEN if (ROOT / p / "__init__.py").is_file()} == set(FORBIDDEN)
    assert all(any((ROOT / p).rglob("*.py")) for p in FORBIDDEN)
