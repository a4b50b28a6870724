"""The /kb reply builders: content, escaping and Slack's limits."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from handlers.blocks.kb import (
    kb_add_refused_message,
    kb_progress_message,
    kb_refused_message,
    kb_reload_message,
    kb_sources_message,
    kb_status_message,
)
from handlers.blocks.kit import MAX_MESSAGE_BLOCKS, MAX_SECTION_TEXT
from knowledge.models import Article, ArticleMeta, Problem
from knowledge.service import KBStatus, ReloadRefusal, ReloadResult, ReloadStage

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def result(**overrides: object) -> ReloadResult:
    values: dict[str, object] = {
        "old_version": "a" * 16,
        "new_version": "b" * 16,
        "added": ("new-one",),
        "removed": (),
        "changed": ("003",),
        "passages_before": 58,
        "passages_after": 61,
        "articles_after": 6,
        "seconds": 0.25,
        "by": "U0ADMIN01",
        "articles_before": 5,
        "finished_at": NOW,
    }
    values.update(overrides)
    return ReloadResult(**values)  # type: ignore[arg-type]


def status(**overrides: object) -> KBStatus:
    values: dict[str, object] = {
        "kb_dir": Path("/srv/kb"),
        "kb_version": "b" * 16,
        "articles": 6,
        "passages": 61,
        "loaded_at": NOW,
        "loaded_by": "U0ADMIN01",
        "load_seconds": 0.05,
        "last_reload": None,
        "last_refusal": None,
        "reloading": False,
        "bundled": False,
    }
    values.update(overrides)
    return KBStatus(**values)  # type: ignore[arg-type]


def all_text(blocks: list[dict[str, object]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def within_limits(blocks: list[dict[str, object]]) -> None:
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            assert len(str(text["text"])) <= MAX_SECTION_TEXT


def test_reload_message_lists_the_diff() -> None:
    message = kb_reload_message(result())
    text = message.blocks[0]["text"]["text"]
    assert f"`{'a' * 16}` → `{'b' * 16}` in 0.25 s" in text
    assert "Articles 5 → 6 · passages 58 → 61" in text
    assert "*Added (1):* `new-one`" in text and "*Changed (1):* `003`" in text
    assert "Removed" not in text
    assert "+1 −0 ~1" in message.text


def test_reload_message_without_changes() -> None:
    same = result(new_version="a" * 16, added=(), changed=())
    assert "no changes" in kb_reload_message(same).text


def test_long_id_lists_are_cut() -> None:
    many = tuple(f"doc-{i:04d}" for i in range(500))
    message = kb_reload_message(result(added=many))
    assert "…and 480 more" in message.blocks[0]["text"]["text"]
    within_limits(message.blocks)


def test_refusal_lists_every_problem_escaped_with_line_numbers() -> None:
    problems = [
        Problem(file="manifest.toml", line=7, reason="invalid TOML: <b> & more"),
        Problem(file="x.txt", reason="empty file"),
    ]
    message = kb_refused_message(problems, serving="c" * 16)
    text = all_text(message.blocks)
    assert "`manifest.toml:7` invalid TOML: &lt;b&gt; &amp; more" in text
    assert "`x.txt` empty file" in text
    assert "still serving kb_version `cccccccccccccccc`" in text
    assert "<b>" not in text


def test_thousands_of_problems_stay_within_slack_limits() -> None:
    problems = [Problem(file=f"f{i}.txt", reason="binary file, not text " * 5) for i in range(5000)]
    message = kb_refused_message(problems, serving="c" * 16)
    within_limits(message.blocks)
    assert "more problems; `licensebot kb check` lists them all" in all_text(message.blocks)
    assert len(message.text) <= 4000


def test_status_reports_a_refusal_after_the_last_success() -> None:
    refusal = ReloadRefusal(
        at=NOW + dt.timedelta(minutes=1),
        by="poll",
        problems=(Problem(file="bad.txt", reason="empty file"),),
    )
    message = kb_status_message(
        status(last_reload=result(), last_refusal=refusal),
        replica="host-1:42",
        directory_version="d" * 16,
        poll_seconds=30,
        add_blocked=None,
    )
    text = message.blocks[0]["text"]["text"]
    assert "serving kb_version `bbbbbbbbbbbbbbbb` on replica `host-1:42`" in text
    assert "*refused*" in text and "by poll" in text and "bad.txt: empty file" in text
    assert "now holds kb_version `dddddddddddddddd`" in text and "within 30 s" in text
    assert "Loaded 2026-01-02 03:04:05 UTC by <@U0ADMIN01>" in text


def test_status_for_the_bundled_kb_explains_why_adding_is_off() -> None:
    message = kb_status_message(
        status(bundled=True, last_reload=result()),
        replica="r",
        directory_version="b" * 16,
        poll_seconds=None,
        add_blocked="bundled & read-only",
    )
    text = message.blocks[0]["text"]["text"]
    assert "Last reload: OK" in text and "in sync (polling is off)" in text
    assert "bundled with licensebot" in text and "bundled &amp; read-only" in text


def article(doc_id: str, title: str | None, published: dt.date | None, estimated: bool) -> Article:
    meta = ArticleMeta(
        doc_id=doc_id,
        title=title,
        publisher="Pub <x>",
        published=published,
        date_estimated=estimated,
        derived=frozenset({"title"}) if title else frozenset(),
    )
    return Article(meta=meta, text="text", content_hash="0" * 64)


def test_sources_are_dated_oldest_first_with_estimates_marked() -> None:
    articles = [
        article("b", "Later", dt.date(2019, 10, 1), True),
        article("a", "Earlier", dt.date(2019, 9, 1), False),
        article("c", None, None, False),
    ]
    message = kb_sources_message(articles, {"a": 2, "b": 1}, kb_version="e" * 16)
    body = message.blocks[1]["text"]["text"]
    lines = body.splitlines()
    assert lines[0].startswith("• *Earlier* · Pub &lt;x&gt; · 2019-09-01 · 2 passages")
    assert "≈ 2019-10-01 · 1 passage `b`" in lines[1]
    assert lines[2].startswith("• _untitled_") and "undated · 0 passages" in lines[2]
    assert "_(derived: title)_" in lines[0]


def test_many_sources_are_cut_with_a_pointer_to_the_cli() -> None:
    articles = [article(f"doc-{i}", "T" * 120, dt.date(2019, 1, 1), False) for i in range(2000)]
    message = kb_sources_message(articles, {}, kb_version="e" * 16)
    within_limits(message.blocks)
    assert "`licensebot kb sources` lists them all" in all_text(message.blocks)


def test_progress_ticks_off_finished_stages_and_names_the_next() -> None:
    assert (
        "Validating every file" in kb_progress_message("Reloading…", ()).blocks[0]["text"]["text"]
    )
    stages = (
        ReloadStage("validate", 0.1, "6 articles, kb_version x"),
        ReloadStage("index", 0.3, "61 passages indexed"),
    )
    text = kb_progress_message("Reloading…", stages).blocks[0]["text"]["text"]
    assert "✓ Validated: 6 articles, kb_version x (0.10 s)" in text
    assert "✓ Index built: 61 passages indexed (0.30 s)" in text
    assert text.endswith("… Swapping in…")


def test_add_refusal_escapes_the_file_name() -> None:
    message = kb_add_refused_message(
        "<!channel>.txt", "bad", [Problem(file="x", reason="empty file")], serving="f" * 16
    )
    text = all_text(message.blocks)
    assert "<!channel>" not in text and "&lt;!channel&gt;.txt" in text
    assert "<!channel>" not in message.text
