"""Load stages on the terminal: a bar drawn in place, only for loads long enough to show one."""

from __future__ import annotations

import io

from bot.commands.progress import TerminalProgress
from knowledge.service import ReloadStage


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_long_load_draws_a_bar_in_place_then_a_line_per_stage() -> None:
    out = Tty()
    bar = TerminalProgress(out)
    bar(ReloadStage("validate", 1.0, "analysing changed articles: 500 of 2,000", 500, 2000, False))
    bar(
        ReloadStage(
            "validate", 2.0, "analysing changed articles: 1,000 of 2,000", 1000, 2000, False
        )
    )
    bar(ReloadStage("validate", 3.5, "2,000 articles, kb_version abc"))
    bar(ReloadStage("index", 3.9, "12,000 passages indexed"))
    bar.close()
    text = out.getvalue()
    assert " 25% analysing changed articles: 500 of 2,000 (1.0 s)" in text
    assert " 50% analysing changed articles: 1,000 of 2,000" in text
    assert "\r\x1b[K✓ validated: 2,000 articles, kb_version abc (3.5 s)\n" in text
    assert text.endswith("✓ index built: 12,000 passages indexed (3.9 s)\n")


def test_a_quick_load_prints_nothing_and_nothing_goes_to_a_pipe() -> None:
    quick = Tty()
    bar = TerminalProgress(quick)
    bar(ReloadStage("validate", 0.1, "5 articles"))
    bar(ReloadStage("index", 0.2, "58 passages indexed"))
    bar.close()
    assert quick.getvalue() == ""
    piped = io.StringIO()
    bar = TerminalProgress(piped)
    bar(ReloadStage("validate", 1.0, "analysing", 1, 2, False))
    bar.close()
    assert piped.getvalue() == ""
