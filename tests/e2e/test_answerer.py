"""`licensebot serve` acknowledges events and its answerer process answers them
(``bot.answerer``): at a lower CPU priority, on the server's knowledge-base version,
replaced when lost, and finishing what it was given when the server is killed."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from fake_slack import FakeSlack
from kb_copies import writable_kb
from serving import Served, ServeFactory, licensebot, mentions, wait_answered

from bot.answerer import RESPAWN_S

ARTICLE = b"""Qualcomm and Huawei sign a new 5G patent licence

Qualcomm said on Wednesday that Huawei had signed a new long-term patent licence.
"""


@pytest.fixture
def fake() -> Any:
    with FakeSlack() as fake:
        yield fake


def answerer_pids(served: Served) -> list[int]:
    return [int(r["pid"]) for r in served.logs("answerer.started")]


def wait_for(what: str, check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.05)
    return found


def served_by(served: Served) -> dict[str, Any]:
    """thread ts -> the answer.served log line of the answer posted there."""
    return {str(r.get("request_id")): r for r in served.logs("answer.served")}


def is_alive(pid: int) -> bool:
    """Whether ``pid`` may still hold its files (its pipe from the server among them): a
    killed process shows as a zombie while its other threads are still exiting."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        threads = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:  # reaped
        return False
    return state != "Z" or len(threads) > 1


def serving_with_answerer(fake: FakeSlack, serve: ServeFactory, **env: str) -> tuple[Served, int]:
    """``licensebot serve`` once it and its answerer are ready; (it, the answerer's pid)."""
    server = serve(fake, "one", **env)
    server.wait_ready()
    (answerer,) = wait_for("answerer", lambda: answerer_pids(server))
    wait_for("ready answerer", lambda: server.logs("answerer.ready"))
    return server, answerer


def test_events_are_answered_by_a_lower_priority_answerer_on_the_servers_kb_version(
    fake: FakeSlack, serve: ServeFactory, tmp_path: Path
) -> None:
    kb_dir = writable_kb(tmp_path)
    server, answerer = serving_with_answerer(
        fake, serve, LICENSEBOT_KB_DIR=str(kb_dir), LICENSEBOT_KB_POLL_SECONDS="0"
    )
    nice = os.getpriority(os.PRIO_PROCESS, answerer) - os.getpriority(
        os.PRIO_PROCESS, server.process.pid
    )
    assert nice == 10

    first = mentions(12)
    assert {server.deliver(e) for e in first} == {200}
    wait_answered(fake, first, timeout=60)
    lines = wait_for("12 answers", lambda: len(served_by(server)) >= 12 and served_by(server))
    assert {r.get("answerer_of") for r in lines.values()} == {server.process.pid}
    version = server.readyz().json()["kb"]["kb_version"]
    assert {r["kb_version"] for r in lines.values()} == {version}

    # An operator adds an article and reloads the server: its answerer follows.
    (kb_dir / "qualcomm.txt").write_bytes(ARTICLE)
    reload = licensebot(server.env, "kb", "reload")
    assert reload.returncode == 0, reload.stdout + reload.stderr
    new_version = server.readyz().json()["kb"]["kb_version"]
    assert new_version != version
    wait_for(
        "the answerer's reload",
        lambda: [r for r in server.logs("kb.peer_checked") if r.get("serving") == new_version],
    )
    second = mentions(4)
    assert {server.deliver(e) for e in second} == {200}
    wait_answered(fake, second, timeout=60)
    later = wait_for("16 answers", lambda: len(served_by(server)) >= 16 and served_by(server))
    fresh = [r for r in later.values() if r["request_id"] not in lines]
    assert [r["kb_version"] for r in fresh] == [new_version] * 4
    assert server.stop() == 0
    wait_for("the answerer to leave", lambda: not is_alive(answerer))


def test_a_lost_answerer_is_replaced_and_events_are_answered_meanwhile(
    fake: FakeSlack, serve: ServeFactory
) -> None:
    server, first = serving_with_answerer(fake, serve)
    os.kill(first, signal.SIGKILL)
    wait_for("the answerer's end", lambda: not is_alive(first))

    # Every event is still answered: by the server itself until a new answerer runs.
    deadline = time.monotonic() + RESPAWN_S + 30
    answered: list[dict[str, Any]] = []
    while len(answerer_pids(server)) < 2 or len(server.logs("answerer.ready")) < 2:
        assert time.monotonic() < deadline, "no new answerer"
        envelope = mentions(1)[0]
        assert server.deliver(envelope) == 200
        answered.append(envelope)
        time.sleep(0.5)
    wait_answered(fake, answered, timeout=60)
    assert server.logs("answerer.lost")
    by_server = [r for r in server.logs("answer.served") if "answerer_of" not in r]
    assert by_server, "the server answered nothing itself while it had no answerer"

    after = mentions(3)
    assert {server.deliver(e) for e in after} == {200}
    wait_answered(fake, [*answered, *after], timeout=60)
    second = answerer_pids(server)[-1]
    assert second != first
    assert len(fake.calls("chat.postMessage")) == len(answered) + 3  # each answered once
    assert server.stop() == 0


def test_the_answerer_finishes_what_it_was_given_when_its_server_is_killed(
    fake: FakeSlack, serve: ServeFactory
) -> None:
    server, answerer = serving_with_answerer(fake, serve)
    fake.slow("chat.postMessage", 1.0)
    given = mentions(5)
    assert {server.deliver(e) for e in given} == {200}
    fake.wait_for("chat.postMessage", 5)  # all five being posted, slowly
    server.process.kill()
    server.process.wait(10)
    # Acknowledged by a server that is gone: delivered and audited all the same.
    wait_answered(fake, given, timeout=60)
    wait_for("the answerer to leave", lambda: not is_alive(answerer))
    assert len(fake.calls("chat.postMessage")) == 5
    audit = (server.data_dir / "audit.jsonl").read_text()
    assert audit.count('"answer.delivered"') == 5
    assert server.logs("answerer.stopped")
