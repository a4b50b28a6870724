"""``/kb status|sources|reload|add|help`` through signed requests against the real app."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import USER, Bot, BotFactory

import knowledge.ingest.jobs
import knowledge.service
import knowledge.store.versions
from bot.reloaders import poller_for
from knowledge.service import KnowledgeBase, bundled_kb_dir

ADMIN = "U0ADMIN01"
REMOVED = "004_85910a5829b53819"
CHANGED = "003_d70c0c6fd59800df"
ADDED = "ericsson-xiaomi"
ERICSSON = b"""Ericsson and Xiaomi sign global patent license agreement

Ericsson announced on Tuesday that it has signed a multi-year global patent license \
agreement with Xiaomi covering 2G, 3G, 4G and 5G cellular standards.

The agreement resolves a long-running dispute between the Swedish telecom equipment maker \
and the Chinese smartphone company, Ericsson said in a statement.
"""
FEE_SENTENCE = (
    "Huawei said the licensing fee would be set at 42 million euros for each partner "
    "that signs the exclusive agreement.\n"
)
Q_ADDED = "What patent agreement did Ericsson sign with Xiaomi?"
Q_REMOVED = "What did Jerry Kaplan and Peter Cochrane discuss with Ren?"
Q_CHANGED = "How much would the licensing fee for each partner be in euros?"
Q_ALWAYS = "Which US companies is Huawei talking to about licensing its 5G technology?"


def copy_kb(target: Path) -> Path:
    shutil.copytree(bundled_kb_dir(), target)
    return target


def drop_manifest_entry(kb_dir: Path, doc_id: str) -> None:
    manifest = kb_dir / "manifest.toml"
    text = manifest.read_text(encoding="utf-8")
    pattern = rf"\n\[articles\.{re.escape(doc_id)}\]\n(?:[^\[].*\n|\n)*"
    new, n = re.subn(pattern, "\n", text)
    assert n == 1
    manifest.write_text(new, encoding="utf-8")


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    return copy_kb(tmp_path / "kb")


@pytest.fixture
def admin_bot(make_bot: BotFactory, kb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("LICENSEBOT_ADMINS", f"{ADMIN},U0OTHER01")
    return make_bot(knowledge=KnowledgeBase.load(kb_dir))


def kb_command(bot: Bot, text: str, *, user: str = USER, key: str = "kb") -> dict[str, Any]:
    reply = bot.command(text, command="/kb", user=user, response_key=key)
    assert reply.status == 200
    body: dict[str, Any] = reply.json()
    assert body["response_type"] == "ephemeral"
    return body


def text_of(body: dict[str, Any]) -> str:
    texts = [str(body.get("text") or "")]
    for block in body.get("blocks") or []:
        node = block.get("text")
        if isinstance(node, dict):
            texts.append(str(node.get("text")))
        for element in block.get("elements") or []:
            if isinstance(element, dict) and "text" in element:
                texts.append(str(element["text"]))
    return "\n".join(texts)


def ask(bot: Bot, question: str) -> dict[str, Any]:
    reply = bot.command(question, command="/ask", response_key="ask")
    assert reply.status == 200
    body: dict[str, Any] = reply.json()
    return body


def quoted_docs(body: dict[str, Any]) -> set[str]:
    """doc ids of the quotes in an /ask reply (from the Full article buttons)."""
    found = set()
    for block in body.get("blocks") or []:
        accessory = block.get("accessory") or {}
        if accessory.get("action_id") == "full_article":
            found.add(re.search(r'"d":"([^"]+)"', accessory["value"]).group(1))  # type: ignore[union-attr]
    return found


def quote_text(body: dict[str, Any]) -> str:
    """The quotes shown in an /ask reply."""
    blocks = body.get("blocks") or []
    return "\n".join(
        b["text"]["text"] for b in blocks if str(b.get("block_id", "")).startswith("quote_")
    )


def _finals(bot: Bot, key: str) -> list[str]:
    texts = [c.all_text() for c in bot.fake.calls("response_url") if c.path.endswith("/" + key)]
    return [t for t in texts if "Reloading the knowledge base" not in t]


def reload_as_admin(bot: Bot, *, key: str = "reload") -> str:
    """Run /kb reload; the text of its final response_url message."""
    return reload_text(bot, "reload", key=key)


def reload_text(bot: Bot, words: str, *, key: str) -> str:
    """Run ``/kb <words>`` as the admin; the text of its final response_url message."""
    seen = len(_finals(bot, key))
    ack = kb_command(bot, words, user=ADMIN, key=key)
    assert "Reloading" in text_of(ack)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        finals = _finals(bot, key)
        if len(finals) > seen:
            return finals[-1]
        time.sleep(0.02)
    raise AssertionError("no final reload message")


# -- open to everyone ------------------------------------------------------------------------


def test_status_shows_the_served_version_counts_and_directory_state(
    admin_bot: Bot, kb_dir: Path
) -> None:
    kb = admin_bot.kb
    text = text_of(kb_command(admin_bot, "status", user=ADMIN))
    assert kb.kb_version in text
    assert "5 articles" in text and f"{len(kb.snapshot.passages)} passages" in text
    assert "by startup" in text and "in sync" in text
    assert "No reload since startup" in text
    assert "Adding articles: enabled" in text

    (kb_dir / "new.txt").write_bytes(ERICSSON)
    text = text_of(kb_command(admin_bot, "status"))  # anyone may ask
    assert "not yet served" in text and "/kb reload" in text


def test_sources_lists_every_article_with_estimated_dates_marked(admin_bot: Bot) -> None:
    text = text_of(kb_command(admin_bot, "sources"))
    snap = admin_bot.kb.snapshot
    for doc_id, article in snap.articles.items():
        assert doc_id in text
        if article.meta.published is not None:
            mark = "≈ " if article.meta.date_estimated else ""
            assert f"{mark}{article.meta.published.isoformat()}" in text
    assert "TechRadar Pro" in text and "passages" in text


@pytest.mark.parametrize("text", ["", "help", "frobnicate"])
def test_help_and_unknown_subcommands_get_the_usage(admin_bot: Bot, text: str) -> None:
    body = text_of(kb_command(admin_bot, text))
    assert "/kb status" in body and "/kb reload" in body and "/kb add" in body
    if text == "frobnicate":
        assert "I don't know `/kb frobnicate`" in body


# -- admins only ------------------------------------------------------------------------------


@pytest.mark.parametrize("sub", ["reload", "add"])
def test_non_admins_are_refused_politely_and_audited(
    admin_bot: Bot, kb_dir: Path, sub: str
) -> None:
    (kb_dir / "new.txt").write_bytes(ERICSSON)
    version = admin_bot.kb.kb_version
    text = text_of(kb_command(admin_bot, sub, user=USER))
    assert text.startswith("Sorry") and "only knowledge-base admins" in text
    assert admin_bot.kb.kb_version == version
    assert admin_bot.kb.last_reload is None
    (denied,) = admin_bot.audit_records("admin.denied")
    assert denied["user"] == USER and denied["action"] == f"/kb {sub}"
    assert admin_bot.audit_records("kb.reloaded") == []
    assert admin_bot.fake.calls("response_url") == []


def test_nobody_is_admin_when_the_list_is_empty(make_bot: BotFactory, kb_dir: Path) -> None:
    bot = make_bot(knowledge=KnowledgeBase.load(kb_dir))
    assert "only knowledge-base admins" in text_of(kb_command(bot, "reload", user=ADMIN))
    assert [r["user"] for r in bot.audit_records("admin.denied")] == [ADMIN]


def test_add_tells_admins_how_to_send_a_file(admin_bot: Bot) -> None:
    text = text_of(kb_command(admin_bot, "add", user=ADMIN))
    assert "title=" in text and "date=" in text and ".txt" in text


def test_reload_adds_changes_and_removes_articles_and_answers_follow(
    admin_bot: Bot, kb_dir: Path
) -> None:
    bot = admin_bot
    old_version = bot.kb.kb_version
    assert ADDED not in quoted_docs(ask(bot, Q_ADDED))
    assert REMOVED in quoted_docs(ask(bot, Q_REMOVED))
    assert "42 million" not in quote_text(ask(bot, Q_CHANGED))

    (kb_dir / f"{ADDED}.txt").write_bytes(ERICSSON)
    (kb_dir / f"{REMOVED}.txt").unlink()
    drop_manifest_entry(kb_dir, REMOVED)
    changed = kb_dir / f"{CHANGED}.txt"
    # Into the body: the cleaner drops page furniture at the end of an article.
    head, sep, tail = changed.read_text(encoding="utf-8").partition("\n\n")
    changed.write_text(head + sep + FEE_SENTENCE + "\n" + tail, encoding="utf-8")

    final = reload_as_admin(bot)

    new_version = bot.kb.kb_version
    assert new_version != old_version
    assert "Knowledge base reloaded" in final
    assert f"`{old_version}` → `{new_version}`" in final
    assert f"*Added (1):* `{ADDED}`" in final
    assert f"*Removed (1):* `{REMOVED}`" in final
    assert f"*Changed (1):* `{CHANGED}`" in final
    assert "Articles 5 → 5" in final
    assert re.search(r"in \d+\.\d\d s", final)

    assert ADDED in quoted_docs(ask(bot, Q_ADDED))
    assert REMOVED not in quoted_docs(ask(bot, Q_REMOVED))
    changed_answer = ask(bot, Q_CHANGED)
    assert "42 million" in quote_text(changed_answer)
    assert CHANGED in quoted_docs(changed_answer)

    (record,) = bot.audit_records("kb.reloaded")
    assert record["user"] == ADMIN and record["surface"] == "kb_command"
    assert (record["old_version"], record["new_version"]) == (old_version, new_version)
    assert (record["added"], record["removed"], record["changed"]) == (
        [ADDED],
        [REMOVED],
        [CHANGED],
    )
    served = bot.audit_records("answer.served")
    assert {r["kb_version"] for r in served} == {old_version, new_version}
    log_line = bot.logs.wait_for("kb.reloaded")[0]
    assert log_line["new_version"] == new_version

    status = text_of(kb_command(bot, "status"))
    assert f"by <@{ADMIN}>" in status and "Last reload: OK" in status and "in sync" in status


def test_reload_without_changes_says_so(admin_bot: Bot) -> None:
    final = reload_as_admin(admin_bot)
    assert "no changes" in final


BROKEN: dict[str, tuple[str, bytes, str]] = {
    "manifest": ("manifest.toml", b'[articles.x\ntitle = "unterminated\n', "invalid TOML"),
    "non_utf8": ("latin1.txt", "Huawei’s licence".encode("cp1252") + b"\n\xe9t\xe9\n", "not UTF-8"),
    "empty": ("empty.txt", b"", "empty file"),
    "binary": ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_directory_is_refused_with_the_reason_and_old_answers_stay(
    admin_bot: Bot, kb_dir: Path, case: str
) -> None:
    bot = admin_bot
    name, data, reason = BROKEN[case]
    before = ask(bot, Q_ALWAYS)
    version = bot.kb.kb_version
    (kb_dir / f"{ADDED}.txt").write_bytes(ERICSSON)  # a valid change, refused with the rest
    (kb_dir / name).write_bytes(data)

    final = reload_as_admin(bot)

    assert "Reload refused" in final and "nothing changed" in final
    assert name in final and reason in final
    assert f"still serving kb_version `{version}`" in final
    assert bot.kb.kb_version == version
    after = ask(bot, Q_ALWAYS)
    assert quoted_docs(after) == quoted_docs(before)
    assert ADDED not in quoted_docs(ask(bot, Q_ADDED))
    (record,) = bot.audit_records("kb.reload_refused")
    assert record["reason"] == "invalid" and record["serving"] == version
    assert any(p["file"] == name and reason in p["reason"] for p in record["problems"])
    if case == "manifest":
        assert any(p["line"] is not None for p in record["problems"])
    status = text_of(kb_command(bot, "status", user=ADMIN))
    assert "*refused*" in status and name in status


@pytest.fixture
def slow_index(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Index building waits for the event (at most 5 s): a long reload on demand."""
    release = threading.Event()
    real = knowledge.service.build_snapshot

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(knowledge.service, "build_snapshot", slow)
    yield release
    release.set()


def test_a_long_reload_shows_progress_then_the_diff(
    admin_bot: Bot, kb_dir: Path, slow_index: threading.Event
) -> None:
    bot = admin_bot
    (kb_dir / f"{ADDED}.txt").write_bytes(ERICSSON)
    done = threading.Thread(target=lambda: reload_as_admin(bot, key="slow"))
    done.start()
    progress = bot.fake.wait_for("response_url", 1)[0]
    assert progress.body["replace_original"] is True
    text = progress.all_text()
    assert "✓ Validated: 6 articles" in text and "Building the index" in text
    # Questions keep being answered from the old version meanwhile.
    assert ADDED not in quoted_docs(ask(bot, Q_ADDED))
    slow_index.set()
    done.join(10)
    calls = [c for c in bot.fake.calls("response_url") if c.path.endswith("/slow")]
    assert "Knowledge base reloaded" in calls[-1].all_text()
    assert all(c.body["replace_original"] is True for c in calls)
    assert ADDED in quoted_docs(ask(bot, Q_ADDED))


def test_a_second_reload_is_told_one_is_running(
    admin_bot: Bot, kb_dir: Path, slow_index: threading.Event
) -> None:
    bot = admin_bot
    first = threading.Thread(target=lambda: reload_as_admin(bot, key="first"))
    first.start()
    bot.fake.wait_for("response_url", 1)
    final = reload_as_admin(bot, key="second")
    assert "Another reload is running" in final
    slow_index.set()
    first.join(10)
    refused = bot.audit_records("kb.reload_refused")
    assert [r["reason"] for r in refused] == ["in_progress"]
    assert len(bot.audit_records("kb.reloaded")) == 1


def test_replicas_on_one_directory_converge_and_status_says_which_version(
    make_bot: BotFactory, kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LICENSEBOT_ADMINS", ADMIN)
    replica_a = make_bot(knowledge=KnowledgeBase.load(kb_dir))
    replica_b = make_bot(knowledge=KnowledgeBase.load(kb_dir))
    poller = poller_for(replica_b.kb, 0.05, None)
    poller.start()
    try:
        (kb_dir / f"{ADDED}.txt").write_bytes(ERICSSON)
        reload_as_admin(replica_a)
        deadline = time.monotonic() + 10
        while replica_b.kb.kb_version != replica_a.kb.kb_version:
            assert time.monotonic() < deadline, "replica B did not converge"
            time.sleep(0.02)
    finally:
        poller.stop()
    version = replica_a.kb.kb_version
    assert f"serving kb_version `{version}`" in text_of(kb_command(replica_b, "status"))
    assert "by poll" in text_of(kb_command(replica_b, "status"))
    assert ADDED in quoted_docs(ask(replica_b, Q_ADDED))


def test_reload_skip_invalid_serves_the_valid_articles_and_lists_the_rest(
    admin_bot: Bot, kb_dir: Path
) -> None:
    bot = admin_bot
    (kb_dir / f"{ADDED}.txt").write_bytes(ERICSSON)
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    refused = reload_as_admin(bot, key="plain")
    assert "Reload refused" in refused and "broken.md" in refused
    assert ADDED not in quoted_docs(ask(bot, Q_ADDED))
    final = reload_text(bot, "reload skip-invalid", key="skip")
    assert "Knowledge base reloaded" in final and "Skipped 1 invalid article problem" in final
    assert "broken.md" in final and "binary file, not text" in final
    assert ADDED in quoted_docs(ask(bot, Q_ADDED))
    (record,) = bot.audit_records("kb.reloaded")
    assert record["added"] == [ADDED]
    assert record["skipped"] == [
        {"file": "broken.md", "line": None, "reason": "binary file, not text"}
    ]
    status = text_of(kb_command(bot, "status"))
    assert "Invalid articles left out: 1 problem(s)" in status


def test_reload_with_an_unknown_option_changes_nothing(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    version = bot.kb.kb_version
    (kb_dir / f"{ADDED}.txt").write_bytes(ERICSSON)
    body = kb_command(bot, "reload everything", user=ADMIN)
    assert "I don't know `/kb reload everything`" in text_of(body)
    assert "skip-invalid" in text_of(body)
    assert bot.kb.kb_version == version and bot.audit_records("kb.reloaded") == []


def test_a_long_reload_updates_its_message_with_counts(
    admin_bot: Bot, kb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = admin_bot
    # Every running stage is reported at once (a real reload waits a second first), and
    # the analysis pauses after its first article until the test has seen the message.
    monkeypatch.setattr(knowledge.service, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(knowledge.service, "PROGRESS_EVERY_S", 0.0)
    seen = threading.Event()
    real = knowledge.store.versions.run_jobs

    def paused(jobs: Any, analyzer: Any, *, on_done: Any = None, **kw: Any) -> Any:
        def done(n: int) -> None:
            on_done(n)
            seen.wait(5)

        return real(jobs, analyzer, on_done=done, workers=1, **kw)

    monkeypatch.setattr(knowledge.store.versions, "run_jobs", paused)
    monkeypatch.setattr(knowledge.ingest.jobs, "_CHUNK", 1)
    for i in range(3):
        (kb_dir / f"note-{i}.txt").write_bytes(ERICSSON.replace(b"Tuesday", f"day {i}".encode()))
    done = threading.Thread(target=lambda: reload_text(bot, "reload", key="counts"))
    done.start()
    deadline = time.monotonic() + 10
    running = ""
    while time.monotonic() < deadline and not running:
        running = next(
            (
                c.all_text()
                for c in bot.fake.calls("response_url")
                if c.path.endswith("/counts") and "analysing changed articles" in c.all_text()
            ),
            "",
        )
        time.sleep(0.02)
    seen.set()
    done.join(10)
    assert "of 3" in running and "%" in running
    assert all(c.body["replace_original"] is True for c in bot.fake.calls("response_url"))
    assert "note-0" in quoted_docs(ask(bot, "What did Ericsson sign with Xiaomi on day 0?"))


def test_status_names_host_pid_and_path_to_admins_only(admin_bot: Bot, kb_dir: Path) -> None:
    replica = f"{socket.gethostname()}:{os.getpid()}"
    anyone = text_of(kb_command(admin_bot, "status"))
    assert admin_bot.kb.kb_version in anyone and "5 articles" in anyone  # still useful
    assert "in sync" in anyone
    assert replica not in anyone and str(kb_dir) not in anyone

    admin = text_of(kb_command(admin_bot, "status", user=ADMIN, key="admin"))
    assert f"on replica `{replica}`" in admin
    assert str(kb_dir) in admin
