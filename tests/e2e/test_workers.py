"""`licensebot serve --workers 2` on the embedded defaults (SQLite dedupe, the file trail):
every worker answers, an event is answered once whichever worker Slack's retries reach,
one worker SIGKILLed mid-run costs no record and answers nothing twice, a reload reaches
every worker, and a stop is clean."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import http, sign, slash_command
from fake_slack import BOT_TOKEN, FakeSlack
from kb_copies import writable_kb
from serving import (
    Pids,
    Served,
    ServeFactory,
    answered_threads,
    deliver_all,
    deliver_at_once,
    every_worker,
    licensebot,
    mentions,
    thread_of,
    wait_answered,
    wait_workers,
)

from bot.reloaders import PID_FILE, WORKER_RESULT_GLOB
from bot.stores.choose import DEDUPE_NAMESPACE, SQLITE_FILE
from bot.stores.sqlite import SqliteTtlStore

pytestmark = pytest.mark.slow

ADMIN = "U0ADMIN01"
ARTICLE = b"""Qualcomm and Huawei sign a new 5G patent licence

Qualcomm said on Wednesday that Huawei had signed a new long-term patent licence.
"""
CLIENTS = 8


@pytest.fixture
def fake() -> Any:
    with FakeSlack() as fake:
        yield fake


def audited(served: Served, event: str) -> list[dict[str, Any]]:
    import json

    path = served.data_dir / "audit.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [r for r in rows if r["event"] == event]


def test_two_workers_answer_once_and_survive_a_killed_worker(
    fake: FakeSlack, serve: ServeFactory
) -> None:
    server = serve(fake, "w", "--workers", "2")
    server.wait_ready()
    workers = wait_workers(server.process.pid, 2)
    assert set(every_worker(server, 2)) == workers  # each worker answers /readyz

    # The same event three times at once, as retries landing on either worker.
    repeated = mentions(10)
    for envelope in repeated:
        assert deliver_at_once([server] * 3, envelope) == [200, 200, 200]
    wait_answered(fake, repeated)

    load = mentions(300)
    assert set(deliver_all([server], load, clients=CLIENTS).values()) == {200}
    wait_answered(fake, load)
    fake.quiet(0.5)
    assert len(answered_threads(fake)) == len(repeated) + len(load)
    by_worker = Counter(r["worker_pid"] for r in server.logs("answer.served"))
    assert set(by_worker) == workers, by_worker  # both took a share

    # SIGKILL one worker while events keep arriving.
    victim = min(workers)
    during = mentions(100)
    statuses: dict[str, int | None] = {}
    sender = threading.Thread(
        target=lambda: statuses.update(deliver_all([server], during, clients=CLIENTS))
    )
    sender.start()
    deadline = time.monotonic() + 60
    while len(set(answered_threads(fake)) & {thread_of(e) for e in during}) < 20:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(victim, signal.SIGKILL)
    sender.join(120)
    # What did not get a 2xx, Slack delivers again (to whichever worker takes it).
    failed = [e for e in during if statuses.get(str(e["event_id"])) != 200]
    for envelope in failed:
        assert server.deliver(envelope, retry_num=1) == 200
    replaced = wait_workers(server.process.pid, 2, gone=victim)  # uvicorn started another
    fake.quiet(1.0)

    posts = answered_threads(fake)
    assert len(posts) == len(set(posts)), "an event was answered twice"
    lost = [e for e in during if thread_of(e) not in set(posts)]
    # The only way to lose one: the killed worker took it (its claim is in the shared
    # store) and died before answering. At most what it had in hand.
    store = SqliteTtlStore(server.data_dir / SQLITE_FILE, DEDUPE_NAMESPACE, 3600)
    try:
        assert all(store.recall(f"event:{e['event_id']}") is not None for e in lost)
    finally:
        store.close()
    # ... and at most what it acknowledged without answering: uvicorn logs a response
    # before sending it; an answer is logged once posted, a dropped retry when dropped.
    victims = [r for r in server.logs() if r.get("worker_pid") == victim]
    acked = sum(
        1
        for r in victims
        if r.get("logger") == "uvicorn.access" and '"POST /slack/events HTTP/1.1" 200' in r["event"]
    )
    posted = sum(1 for r in victims if r["event"] == "answer.served" and r.get("delivered"))
    dropped = sum(1 for r in victims if r["event"] == "event.duplicate")
    unanswered = acked - posted - dropped
    # ... plus what it had claimed and not yet acknowledged: that request failed at the
    # sender, and its redelivery was dropped as taken (docs/deploy.md, the dedupe's notes).
    # Its answerer finishes what it was given, so most runs lose none at all.
    assert len(lost) <= unanswered + len(failed), (len(lost), unanswered, len(failed))

    # One intact chain, and every answer that reached Slack has its answer.served.
    verify = licensebot(server.env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    served = {r["thread_ts"] for r in audited(server, "answer.served")}
    assert set(posts) <= served
    print(
        f"\n--workers 2: {len(posts)} answered of {len(repeated) + len(load) + len(during)} "
        f"events; {len(failed)} redelivered after the kill, {len(lost)} lost with the killed "
        "worker"
    )

    # SIGTERM right after a burst was acknowledged: the workers finish answering it first.
    last = mentions(60)
    assert set(deliver_all([server], last, clients=CLIENTS).values()) == {200}
    assert server.stop() == 0
    wait_answered(fake, last, timeout=1)
    assert not (server.data_dir / PID_FILE).exists()
    assert list(server.data_dir.glob(WORKER_RESULT_GLOB)) == []
    stopped = {r["worker_pid"] for r in server.logs("worker.stopped")}
    assert replaced <= stopped  # each live worker closed its stores


def test_a_reload_reaches_every_worker(
    fake: FakeSlack, serve: ServeFactory, tmp_path: Path
) -> None:
    kb_dir = writable_kb(tmp_path)
    server = serve(
        fake, "w", "--workers", "2", LICENSEBOT_KB_DIR=str(kb_dir), LICENSEBOT_ADMINS=ADMIN
    )
    server.wait_ready()
    workers = wait_workers(server.process.pid, 2)
    first = every_worker(server, 2)
    assert set(first) == workers and len(set(first.values())) == 1

    # An operator: `licensebot kb reload` (SIGHUP to the supervisor, which tells each worker).
    (kb_dir / "qualcomm.txt").write_bytes(ARTICLE)
    reload = licensebot(server.env, "kb", "reload")
    assert reload.returncode == 0, reload.stdout + reload.stderr
    lines = [line for line in reload.stdout.splitlines() if line.strip().startswith("worker ")]
    assert len(lines) == 2 and all("reloaded" in line for line in lines), reload.stdout
    after_sighup = every_worker(server, 2)
    assert set(after_sighup) == workers
    assert len(set(after_sighup.values())) == 1 and set(after_sighup.values()) != set(
        first.values()
    )
    status = licensebot(server.env, "kb", "status")
    assert "2 workers" in status.stdout

    # An invalid file: refused by both; `--skip-invalid` reaches both workers alike.
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    refused = licensebot(server.env, "kb", "reload")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert every_worker(server, 2) == after_sighup
    skipped = licensebot(server.env, "kb", "reload", "--skip-invalid")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    lines = [line for line in skipped.stdout.splitlines() if line.strip().startswith("worker ")]
    assert len(lines) == 2 and all("reloaded" in line for line in lines), skipped.stdout
    assert len(set(every_worker(server, 2).values())) == 1
    (kb_dir / "broken.md").unlink()

    # An admin in Slack: `/kb reload` reaches one worker; the supervisor tells the other.
    (kb_dir / "qualcomm.txt").unlink()
    form = slash_command("reload", response_url=fake.response_url("kb"), command="/kb", user=ADMIN)
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    assert http("POST", server.url + "/slack/events", body, headers).status == 200
    deadline = time.monotonic() + 10  # polling is off: only the relay can do this
    latest = Pids()  # each worker's latest answer (connections land where they land)
    while True:
        versions = latest.poll(server).versions
        if set(versions) == workers and set(versions.values()) == set(first.values()):
            break
        assert time.monotonic() < deadline, (versions, server.log_path.read_text()[-4000:])
        time.sleep(0.2)
    assert server.stop() == 0


def test_readyz_is_false_on_every_worker_that_cannot_audit(
    fake: FakeSlack, serve: ServeFactory, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    server = serve(fake, "w", "--workers", "2", LICENSEBOT_AUDIT_PATH=str(blocker / "audit.jsonl"))
    deadline = time.monotonic() + 60
    seen: dict[int, int] = {}
    while len(seen) < 2:
        assert time.monotonic() < deadline, seen
        try:
            reply = server.readyz(timeout=1)
        except OSError:
            time.sleep(0.1)
            continue
        body = reply.json()
        seen[body["worker"]["pid"]] = reply.status
        assert body["audit"]["ok"] is False
    assert set(seen.values()) == {503}
    assert server.stop() == 0


def test_a_token_slack_rejects_stops_before_any_worker_starts(
    fake: FakeSlack, serve: ServeFactory
) -> None:
    server = serve(fake, "w", "--workers", "2", SLACK_BOT_TOKEN="xoxb-revoked-000000")
    assert server.process.wait(60) == 2
    text = server.log_path.read_text()
    lines = [line for line in text.splitlines() if not line.startswith("{")]
    assert lines == ["licensebot: Slack rejected SLACK_BOT_TOKEN (invalid_auth)"]
    assert "xoxb-revoked-000000" not in text and BOT_TOKEN not in text
    assert "worker.ready" not in text


def test_oauth_installs_are_shared_by_the_workers(fake: FakeSlack, serve: ServeFactory) -> None:
    from test_oauth import Installer, mention_for

    server = serve(
        fake,
        "w",
        "--workers",
        "2",
        SLACK_BOT_TOKEN="",
        SLACK_CLIENT_ID=fake.client_id,
        SLACK_CLIENT_SECRET=fake.client_secret,
    )
    server.wait_ready()
    workers = wait_workers(server.process.pid, 2)
    every_worker(server, 2)
    spaces = [fake.add_workspace("T0ACME001"), fake.add_workspace("T0GLOBEX1")]
    for workspace in spaces:
        assert Installer(server.url, fake).install(workspace).status == 200
    events = [mention_for(spaces[i % 2]) for i in range(40)]
    assert set(deliver_all([server], events, clients=CLIENTS).values()) == {200}
    wait_answered(fake, events)
    for call in fake.calls("chat.postMessage"):
        token = call.headers["authorization"].removeprefix("Bearer ")
        asked = next(e for e in events if thread_of(e) == call.body["thread_ts"])
        assert fake.team_of(token) == asked["team_id"]  # each workspace's own token
    by_worker = Counter(r["worker_pid"] for r in server.logs("answer.served"))
    assert set(by_worker) == workers, by_worker
    assert (server.data_dir / "installations.sqlite3").exists()
    assert server.stop() == 0


def test_a_slack_skip_invalid_reload_brings_every_worker_and_answerer_to_one_version(
    fake: FakeSlack, serve: ServeFactory, tmp_path: Path
) -> None:
    kb_dir = writable_kb(tmp_path)
    server = serve(
        fake, "w", "--workers", "2", LICENSEBOT_KB_DIR=str(kb_dir), LICENSEBOT_ADMINS=ADMIN
    )
    server.wait_ready()
    workers = wait_workers(server.process.pid, 2)
    first = set(every_worker(server, 2).values())
    deadline = time.monotonic() + 60
    while {r.get("answerer_of") for r in server.logs("answerer.ready")} != workers:
        assert time.monotonic() < deadline, "not every worker's answerer is ready"
        time.sleep(0.1)

    # One valid article added, one invalid: `/kb reload skip-invalid` reaches one worker.
    (kb_dir / "qualcomm.txt").write_bytes(ARTICLE)
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    form = slash_command(
        "reload skip-invalid", response_url=fake.response_url("kb"), command="/kb", user=ADMIN
    )
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    assert http("POST", server.url + "/slack/events", body, headers).status == 200
    (reloaded,) = wait_logged(server, "kb.reloaded", lambda r: r.get("user") == ADMIN)
    version = reloaded["new_version"]
    assert {version} != first

    # Polling is off: the others follow the news alone, skipping as the reload did.
    deadline = time.monotonic() + 20
    latest = Pids()
    while set(latest.poll(server).versions.values()) != {version} or set(latest.versions) != (
        workers
    ):
        assert time.monotonic() < deadline, (latest.versions, server.log_path.read_text()[-4000:])
        time.sleep(0.2)
    for worker in workers:  # each worker's answerer checked and serves it too
        wait_logged(
            server,
            "kb.peer_checked",
            lambda r, w=worker: r.get("answerer_of") == w and r.get("serving") == version,
        )
    assert not [r for r in server.logs("kb.reload_refused")], "a peer refused the directory"

    # Every answer, whichever worker and answerer gives it, comes from that version.
    asked = mentions(40)
    assert set(deliver_all([server], asked, clients=CLIENTS).values()) == {200}
    wait_answered(fake, asked)
    threads = {thread_of(e) for e in asked}
    served = [r for r in audited(server, "answer.served") if r["thread_ts"] in threads]
    assert len(served) == len(asked)
    assert {r["kb_version"] for r in served} == {version}
    assert server.stop() == 0


def wait_logged(
    served: Served, event: str, match: Any, timeout: float = 20
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (found := [r for r in served.logs(event) if match(r)]):
        assert time.monotonic() < deadline, f"no {event} within {timeout} s"
        time.sleep(0.1)
    return found
