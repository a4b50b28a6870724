"""README's configuration table names every setting the bot reads."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_variables() -> set[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def setting_variables() -> set[str]:
    names = set()
    for field in Settings.model_fields.values():
        assert isinstance(field.validation_alias, str)
        names.add(field.validation_alias)
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    assert setting_variables() - documented_variables() == set()


def test_the_table_names_no_setting_that_does_not_exist() -> None:
    assert documented_variables() - setting_variables() == set()
