"""``/kb add``: an admin sends a file to the bot in a DM; it is fetched through the (fake)
Web API, validated, written with a manifest entry and loaded, or refused whole."""

from __future__ import annotations

import shutil
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from conftest import DM_CHANNEL, USER, Bot, BotFactory, dm_message
from fake_slack import BOT_TOKEN, BOT_USER_ID

from knowledge.service import KnowledgeBase, bundled_kb_dir
from knowledge.store.admin import LOCK_NAME

ADMIN = "U0ADMIN01"
ERICSSON = b"""Ericsson and Xiaomi sign global patent license agreement

Ericsson announced on Tuesday that it has signed a multi-year global patent license \
agreement with Xiaomi covering 2G, 3G, 4G and 5G cellular standards.

The agreement resolves a long-running dispute between the Swedish telecom equipment maker \
and the Chinese smartphone company, Ericsson said in a statement.
"""
MARKDOWN = b"""---
title: Nokia renews its patent licence
---
# Nokia renews its patent licence

Nokia said on Monday it had **renewed** its patent licence agreement with a Chinese handset \
maker covering 5G technology, ending litigation in several countries.
"""
Q_ERICSSON = "What patent agreement did Ericsson sign with Xiaomi?"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    return target


@pytest.fixture
def admin_bot(make_bot: BotFactory, kb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("LICENSEBOT_ADMINS", ADMIN)
    return make_bot(knowledge=KnowledgeBase.load(kb_dir))


def listing(kb_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in kb_dir.iterdir() if p.name != LOCK_NAME}


def file_share(
    text: str, *files: tuple[str, str], user: str = ADMIN, subtype: str | None = "file_share"
) -> dict[str, Any]:
    """A DM ``message`` event carrying files, as Slack sends it (partial file objects)."""
    extra: dict[str, Any] = {
        "files": [
            {"id": file_id, "name": name, "mode": "hosted", "file_access": "check_file_info"}
            for file_id, name in files
        ],
        "upload": True,
    }
    if subtype is not None:
        extra["subtype"] = subtype
    return dm_message(text, user=user, **extra)


def final_dm_text(bot: Bot, *, count: int = 1, timeout: float = 10.0) -> str:
    """The DM progress message's last state (its chat.update, or the post itself)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        updates = bot.fake.calls("chat.update")
        finals = [c for c in updates if "Added" in c.all_text() or "Not added" in c.all_text()]
        if len(finals) >= count:
            return finals[-1].all_text()
        time.sleep(0.02)
    raise AssertionError(f"no final DM message; calls: {[c.method for c in bot.fake.calls()]}")


def test_an_admin_adds_a_file_with_metadata_and_it_is_served(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    old_version = bot.kb.kb_version
    bot.fake.add_file("F0ERIC001", "Ericsson Xiaomi deal.txt", ERICSSON)
    text = (
        "title=Ericsson and Xiaomi settle publisher=Reuters date=~2019-10-22 "
        "url=<https://example.com/ericsson-xiaomi>"
    )
    assert bot.event(file_share(text, ("F0ERIC001", "Ericsson Xiaomi deal.txt"))).status == 200

    final = final_dm_text(bot)
    assert "Added" in final and "Ericsson-Xiaomi-deal" in final
    assert "Ericsson and Xiaomi settle · Reuters · ≈ 2019-10-22" in final
    (info,) = bot.fake.calls("files.info")
    assert info.body["file"] == "F0ERIC001"
    (download,) = bot.fake.calls("file")
    assert download.headers["authorization"] == f"Bearer {BOT_TOKEN}"
    (post,) = bot.fake.calls("chat.postMessage")
    assert post.body["channel"] == DM_CHANNEL and "Adding" in post.all_text()
    updates = bot.fake.calls("chat.update")
    assert len({c.body["ts"] for c in updates}) == 1  # one message, updated in place
    assert {c.body["channel"] for c in updates} == {DM_CHANNEL}

    assert (kb_dir / "Ericsson-Xiaomi-deal.txt").read_bytes() == ERICSSON
    manifest = tomllib.loads((kb_dir / "manifest.toml").read_text(encoding="utf-8"))
    entry = manifest["articles"]["Ericsson-Xiaomi-deal"]
    assert entry["title"] == "Ericsson and Xiaomi settle"
    assert entry["publisher"] == "Reuters"
    assert entry["url"] == "https://example.com/ericsson-xiaomi"
    assert entry["date"] == "estimated" and str(entry["published"]) == "2019-10-22"
    assert bot.kb.kb_version != old_version

    reply = bot.command(Q_ERICSSON, command="/ask", response_key="ask").json()
    assert "Ericsson-Xiaomi-deal" in str(reply["blocks"])
    (added,) = bot.audit_records("kb.article_added")
    assert added["user"] == ADMIN and added["doc_id"] == "Ericsson-Xiaomi-deal"
    assert added["bytes"] == len(ERICSSON)
    (reloaded,) = bot.audit_records("kb.reloaded")
    assert reloaded["added"] == ["Ericsson-Xiaomi-deal"] and reloaded["surface"] == "kb_upload"
    # The file share is not also taken for a question.
    assert bot.audit_records("answer.served")[0]["surface"] == "ask"


def test_metadata_left_out_is_derived_and_marked(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    bot.fake.add_file("F0NOKIA01", "nokia.md", MARKDOWN)
    bot.event(file_share("", ("F0NOKIA01", "nokia.md"), subtype=None))
    final = final_dm_text(bot)
    assert "Added" in final and "Nokia renews its patent licence" in final
    assert "Derived from the text: title" in final
    assert "Unknown (neither given nor in the text): publisher, published" in final
    manifest = tomllib.loads((kb_dir / "manifest.toml").read_text(encoding="utf-8"))
    assert manifest["articles"]["nokia"] == {}
    assert bot.kb.article("nokia") is not None


BAD_FILES = {
    "empty": (b"", "empty file"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary file"),
    "non_utf8": (b"Huawei licence talks\n\xe9t\xe9 2019\n", "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_refused_and_nothing_is_written(
    admin_bot: Bot, kb_dir: Path, case: str
) -> None:
    bot = admin_bot
    data, reason = BAD_FILES[case]
    files_before, version = listing(kb_dir), bot.kb.kb_version
    bot.fake.add_file("F0BAD0001", "bad.txt", data)
    bot.event(file_share("title=Bad", ("F0BAD0001", "bad.txt")))
    final = final_dm_text(bot)
    assert "Not added" in final and reason in final and "Nothing was written" in final
    assert listing(kb_dir) == files_before
    assert bot.kb.kb_version == version
    (refused,) = bot.audit_records("kb.add_refused")
    assert any(reason in p["reason"] for p in refused["problems"])


def test_an_unsupported_type_is_refused_before_downloading(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    files_before = listing(kb_dir)
    bot.fake.add_file("F0PDF0001", "report.pdf", b"%PDF-1.4 ...")
    bot.event(file_share("", ("F0PDF0001", "report.pdf")))
    final = final_dm_text(bot)
    assert "not a supported file type" in final
    assert bot.fake.calls("file") == []
    assert listing(kb_dir) == files_before


def test_a_taken_id_is_refused(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    bot.fake.add_file("F0DUP0001", "000_9ce69e5facb87b11.md", ERICSSON)
    bot.event(file_share("", ("F0DUP0001", "000_9ce69e5facb87b11.md")))
    assert "already exists" in final_dm_text(bot)


def test_a_download_that_fails_is_reported(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    bot.event(file_share("", ("F0GONE001", "gone.txt")))
    final = final_dm_text(bot)
    assert "Not added" in final and "file_not_found" in final


def test_bad_metadata_adds_nothing_and_says_why(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    files_before = listing(kb_dir)
    bot.fake.add_file("F0ERIC001", "ericsson.txt", ERICSSON)
    bot.event(file_share("date=22/10/2019 colour=red", ("F0ERIC001", "ericsson.txt")))
    (post,) = bot.fake.wait_for("chat.postMessage")
    text = post.all_text()
    assert "Nothing was added" in text and "not YYYY-MM-DD" in text
    assert bot.fake.calls("files.info") == []
    assert listing(kb_dir) == files_before


def test_a_non_admin_upload_is_refused_and_audited(admin_bot: Bot, kb_dir: Path) -> None:
    bot = admin_bot
    files_before = listing(kb_dir)
    bot.fake.add_file("F0ERIC001", "ericsson.txt", ERICSSON)
    bot.event(file_share("", ("F0ERIC001", "ericsson.txt"), user=USER))
    (post,) = bot.fake.wait_for("chat.postMessage")
    assert "only knowledge-base admins can add articles" in post.all_text()
    assert bot.fake.calls("files.info") == [] and bot.fake.calls("file") == []
    assert listing(kb_dir) == files_before
    (denied,) = bot.audit_records("admin.denied")
    assert denied["user"] == USER and denied["surface"] == "kb_upload"


def test_the_bundled_knowledge_base_is_never_written(
    make_bot: BotFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LICENSEBOT_ADMINS", ADMIN)
    bot = make_bot()
    before = sorted(p.name for p in bundled_kb_dir().iterdir())
    bot.fake.add_file("F0ERIC001", "ericsson.txt", ERICSSON)
    bot.event(file_share("", ("F0ERIC001", "ericsson.txt")))
    final = final_dm_text(bot)
    assert "bundled with licensebot" in final and "LICENSEBOT_KB_DIR" in final
    assert sorted(p.name for p in bundled_kb_dir().iterdir()) == before


def test_messages_from_the_bot_itself_with_files_are_ignored(admin_bot: Bot) -> None:
    event = file_share("", ("F0ERIC001", "ericsson.txt"), user=BOT_USER_ID)
    admin_bot.event(event)
    admin_bot.fake.quiet(0.3)
    assert admin_bot.fake.calls("files.info") == []
