"""100 reloads through ``/kb reload`` while several threads keep asking through ``/ask``:
no question fails, and each audited answer is exactly what its recorded kb_version gives."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import Bot, BotFactory

from knowledge.service import KnowledgeBase, bundled_kb_dir

ADMIN = "U0ADMIN01"
RELOADS = 100
ASKERS = 4
ERICSSON = b"""Ericsson and Xiaomi sign global patent license agreement

Ericsson announced on Tuesday that it has signed a multi-year global patent license \
agreement with Xiaomi covering 2G, 3G, 4G and 5G cellular standards.
"""
QUESTIONS = (
    "Which US companies is Huawei talking to about licensing its 5G technology?",
    "What patent agreement did Ericsson sign with Xiaomi?",
)


def final_for(bot: Bot, key: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for call in bot.fake.calls("response_url"):
            text = call.all_text()
            if call.path.endswith("/" + key) and "Reloading the knowledge base" not in text:
                return text
        time.sleep(0.005)
    raise AssertionError(f"no final message for {key}")


@pytest.mark.slow
def test_answers_never_fail_and_each_comes_from_one_version_during_100_reloads(
    make_bot: BotFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_dir = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), kb_dir)
    with_article = tmp_path / "kb_b"
    shutil.copytree(kb_dir, with_article)
    (with_article / "ericsson.txt").write_bytes(ERICSSON)
    # What each version answers, computed independently of the bot.
    expected = {
        kb.kb_version: {q: kb.answer(q, 3) for q in QUESTIONS}
        for kb in (KnowledgeBase.load(kb_dir), KnowledgeBase.load(with_article))
    }

    monkeypatch.setenv("LICENSEBOT_ADMINS", ADMIN)
    bot = make_bot(knowledge=KnowledgeBase.load(kb_dir))
    done = threading.Event()
    failures: list[str] = []
    asked: list[int] = []
    outcomes: list[str] = []

    def asker(n: int) -> None:
        count = 0
        while not done.is_set():
            question = QUESTIONS[count % len(QUESTIONS)]
            try:
                reply = bot.command(question, command="/ask", response_key=f"ask{n}")
                body: dict[str, Any] = reply.json()
                if reply.status != 200 or body.get("response_type") != "ephemeral":
                    failures.append(f"status {reply.status}: {reply.body[:200]!r}")
                elif "something went wrong" in str(body) or "can't answer" in str(body):
                    failures.append(str(body)[:200])
            except Exception as exc:
                failures.append(repr(exc))
            count += 1
        asked.append(count)

    threads = [threading.Thread(target=asker, args=(n,)) for n in range(ASKERS)]
    for t in threads:
        t.start()
    try:
        for i in range(RELOADS):
            article = kb_dir / "ericsson.txt"
            if i % 2 == 0:
                article.write_bytes(ERICSSON)
            else:
                article.unlink()
            key = f"reload{i}"
            reply = bot.command("reload", command="/kb", user=ADMIN, response_key=key)
            assert reply.status == 200
            outcomes.append(final_for(bot, key))
    finally:
        done.set()
        for t in threads:
            t.join(30)

    assert failures == []
    assert all("Knowledge base reloaded" in text for text in outcomes)
    assert len(bot.audit_records("kb.reloaded")) == RELOADS
    assert sum(asked) >= 2 * ASKERS
    served = bot.audit_records("answer.served")
    assert len(served) == sum(asked)
    versions_seen = {r["kb_version"] for r in served}
    assert versions_seen == set(expected)  # both versions were served during the run
    for record in served:
        want = expected[record["kb_version"]][record["question"]]
        assert record["answered"] == want.answered
        assert [(q["passage_id"], q["score"]) for q in record["quotes"]] == [
            (q.passage_id, q.score) for q in want.quotes
        ]
