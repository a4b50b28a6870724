"""``/kb status`` names the server's host, pid and knowledge-base path to admins only."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
from conftest import USER, Bot, BotFactory

from knowledge.service import KnowledgeBase, bundled_kb_dir

ADMIN = "U0ADMIN01"


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "private-kb-location"
    shutil.copytree(bundled_kb_dir(), target)
    return target


@pytest.fixture
def admin_bot(make_bot: BotFactory, kb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Bot:
    monkeypatch.setenv("LICENSEBOT_ADMINS", ADMIN)
    return make_bot(knowledge=KnowledgeBase.load(kb_dir))


def status_text(bot: Bot, user: str) -> str:
    reply = bot.command("status", command="/kb", user=user, response_key=user)
    assert reply.status == 200
    body: dict[str, Any] = reply.json()
    return (
        str(body["text"])
        + "\n"
        + "\n".join(
            str(b["text"]["text"]) for b in body["blocks"] if isinstance(b.get("text"), dict)
        )
    )


def test_status_hides_host_pid_and_path_from_everyone_but_admins(
    admin_bot: Bot, kb_dir: Path
) -> None:
    replica = f"{socket.gethostname()}:{os.getpid()}"
    anyone = status_text(admin_bot, USER)
    assert admin_bot.kb.kb_version in anyone and "5 articles" in anyone  # still useful
    assert "in sync" in anyone
    assert replica not in anyone
    assert str(kb_dir) not in anyone and "private-kb-location" not in anyone

    admin = status_text(admin_bot, ADMIN)
    assert f"on replica `{replica}`" in admin
    assert str(kb_dir) in admin
