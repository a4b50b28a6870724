"""Several `licensebot serve` replicas, as behind a load balancer: with Redis and PostgreSQL
the same event delivered to all three is answered once, 300 events spread over them are
answered 300 times, one replica SIGKILLed mid-run leaves one intact chain in which every
answer Slack received is recorded; a reload on one replica reaches the others at once
(Redis), and without Redis replicas on one directory converge within the poll interval."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from conftest import http, sign, slash_command
from fake_slack import FakeSlack
from kb_copies import writable_kb
from serving import (
    Served,
    ServeFactory,
    answered_threads,
    deliver_all,
    deliver_at_once,
    licensebot,
    mentions,
    thread_of,
    wait_answered,
)

from bot.audit.postgres import read_records
from bot.stores.choose import DEDUPE_NAMESPACE
from bot.stores.redis import RedisTtlStore

pytestmark = pytest.mark.slow

ADMIN = "U0ADMIN01"
ARTICLE = b"""Nokia and Huawei renew their 5G cross-licence

Nokia said on Thursday it had renewed its patent cross-licence with Huawei for 5G.
"""
CLIENTS = 9


@pytest.fixture
def fake() -> Any:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """One knowledge-base directory every replica reads (a shared volume)."""
    return writable_kb(tmp_path, "shared-kb")


@pytest.fixture
def services(redis_url: str, redis_prefix: str, pg_schema_url: str) -> dict[str, str]:
    """The replicas' shared Redis (a key prefix of this test's own) and PostgreSQL schema."""
    return {
        "LICENSEBOT_REDIS_URL": redis_url,
        "LICENSEBOT_REDIS_KEY_PREFIX": redis_prefix,
        "LICENSEBOT_DATABASE_URL": pg_schema_url,
    }


def kb_version(served: Served) -> str:
    return str(served.readyz().json()["kb"]["kb_version"])


def wait_versions(replicas: list[Served], version: str, timeout: float) -> float:
    """Seconds until every replica serves ``version``."""
    started = time.monotonic()
    while True:
        seen = [kb_version(r) for r in replicas]
        if set(seen) == {version}:
            return time.monotonic() - started
        assert time.monotonic() - started < timeout, seen
        time.sleep(0.05)


def kb_reload_from_slack(served: Served, fake: FakeSlack, words: str = "reload") -> None:
    form = slash_command(words, response_url=fake.response_url("kb"), command="/kb", user=ADMIN)
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(body)}
    assert http("POST", served.url + "/slack/events", body, headers).status == 200


@pytest.mark.needs_redis
@pytest.mark.needs_postgres
def test_three_replicas_share_redis_and_postgres(
    fake: FakeSlack, serve: ServeFactory, services: dict[str, str], kb_dir: Path
) -> None:
    redis_url, redis_prefix = (
        services["LICENSEBOT_REDIS_URL"],
        services["LICENSEBOT_REDIS_KEY_PREFIX"],
    )
    pg_schema_url = services["LICENSEBOT_DATABASE_URL"]
    shared = {**services, "LICENSEBOT_KB_DIR": str(kb_dir), "LICENSEBOT_ADMINS": ADMIN}
    replicas = [serve(fake, name, **shared) for name in ("a", "b", "c")]
    for served in replicas:
        served.wait_ready()

    # The same event to all three at once, as Slack's retries may land.
    repeated = mentions(10)
    for envelope in repeated:
        assert deliver_at_once(replicas, envelope) == [200, 200, 200]
    wait_answered(fake, repeated)

    load = mentions(300)
    assert set(deliver_all(replicas, load, clients=CLIENTS).values()) == {200}
    wait_answered(fake, load)
    fake.quiet(0.5)
    assert len(answered_threads(fake)) == len(repeated) + len(load)
    for served in replicas:
        assert len(served.logs("answer.served")) >= 50, served.name  # each took a share

    # SIGKILL one replica while events keep arriving round-robin.
    survivors, victim = replicas[:2], replicas[2]
    during = mentions(90)
    statuses: dict[str, int | None] = {}
    sender = threading.Thread(
        target=lambda: statuses.update(deliver_all(replicas, during, clients=CLIENTS))
    )
    sender.start()
    deadline = time.monotonic() + 60
    while len(set(answered_threads(fake)) & {thread_of(e) for e in during}) < 15:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    victim.process.kill()
    victim.process.wait(10)
    sender.join(120)
    # What the dead replica did not acknowledge, Slack delivers again to another one.
    failed = [e for e in during if statuses.get(str(e["event_id"])) != 200]
    for i, envelope in enumerate(failed):
        assert survivors[i % 2].deliver(envelope, retry_num=1) == 200
    fake.quiet(1.0)

    posts = answered_threads(fake)
    assert len(posts) == len(set(posts)), "an event was answered twice"
    answered = set(posts)
    sent_to_survivors = [e for i, e in enumerate(during) if i % 3 != 2]
    assert all(thread_of(e) in answered for e in sent_to_survivors)
    lost = [e for e in during if thread_of(e) not in answered]
    # Lost only if the killed replica had claimed it in Redis and died before answering.
    claims = RedisTtlStore(redis_url, DEDUPE_NAMESPACE, 3600, key_prefix=redis_prefix)
    try:
        assert all(claims.recall(f"event:{e['event_id']}") is not None for e in lost)
    finally:
        claims.close()

    # One intact chain in the table; every answer that reached Slack has its answer.served.
    env = dict(survivors[0].env)
    verify = licensebot(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    served = Counter(
        r.get("thread_ts") for r in read_records(pg_schema_url) if r["event"] == "answer.served"
    )
    assert answered <= set(served)
    for served_replica in replicas:
        assert not (served_replica.data_dir / "audit.jsonl").exists()  # the table, not files
    print(
        f"\n3 replicas: {len(posts)} answered of {len(repeated) + len(load) + len(during)} "
        f"events; {len(failed)} redelivered after the kill, {len(lost)} lost with the killed "
        "replica"
    )

    # One knowledge-base version: `/kb reload` on one replica, the other learns at once.
    before = kb_version(survivors[0])
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    kb_reload_from_slack(survivors[0], fake)
    deadline = time.monotonic() + 10
    while kb_version(survivors[0]) == before:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    took = wait_versions(survivors, kb_version(survivors[0]), timeout=5)
    print(f"kb reload on one replica reached the other in {took:.2f} s (polling off)")
    assert survivors[1].logs("kb.peer_checked")

    for served_replica in survivors:
        assert served_replica.stop() == 0


def test_replicas_on_one_directory_converge_within_the_poll_interval(
    fake: FakeSlack, serve: ServeFactory, kb_dir: Path
) -> None:
    replicas = [
        serve(fake, name, LICENSEBOT_KB_DIR=str(kb_dir), LICENSEBOT_KB_POLL_SECONDS="1")
        for name in ("a", "b")
    ]
    for served in replicas:
        served.wait_ready()
    before = kb_version(replicas[0])
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    deadline = time.monotonic() + 10
    while kb_version(replicas[0]) == before:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    took = wait_versions(replicas, kb_version(replicas[0]), timeout=5)
    assert took < 3  # both poll every second
    for served in replicas:
        assert served.stop() == 0


@pytest.mark.needs_redis
def test_a_skip_invalid_reload_on_one_replica_brings_the_others_and_answerers_along(
    fake: FakeSlack, serve: ServeFactory, redis_url: str, redis_prefix: str, kb_dir: Path
) -> None:
    shared = {
        "LICENSEBOT_REDIS_URL": redis_url,
        "LICENSEBOT_REDIS_KEY_PREFIX": redis_prefix,
        "LICENSEBOT_KB_DIR": str(kb_dir),
        "LICENSEBOT_ADMINS": ADMIN,
    }
    replicas = [serve(fake, name, **shared) for name in ("a", "b")]
    for served in replicas:
        served.wait_ready()
    before = kb_version(replicas[0])
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    kb_reload_from_slack(replicas[0], fake, "reload skip-invalid")
    deadline = time.monotonic() + 10
    while kb_version(replicas[0]) == before:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    version = kb_version(replicas[0])
    wait_versions(replicas, version, timeout=10)
    for served in replicas:  # its answerer follows, and answers from that version
        deadline = time.monotonic() + 20
        while not answerer_serves(served, version):
            assert time.monotonic() < deadline, served.name
            time.sleep(0.1)
        assert not served.logs("kb.reload_refused"), served.name
        asked = mentions(6)
        assert {served.deliver(e) for e in asked} == {200}
        wait_answered(fake, asked)
        threads = {thread_of(e) for e in asked}
        deadline = time.monotonic() + 10
        while len(answers := [r for r in audited(served) if r.get("thread_ts") in threads]) < 6:
            assert time.monotonic() < deadline, served.name
            time.sleep(0.1)
        assert {r["kb_version"] for r in answers} == {version}
    for served in replicas:
        assert served.stop() == 0


def audited(served: Served) -> list[dict[str, Any]]:
    """The replica's answer.served records (its own file trail: no database here)."""
    path = served.data_dir / "audit.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line]
    return [r for r in rows if r["event"] == "answer.served"]


def answerer_serves(served: Served, version: str) -> bool:
    checks = served.logs("kb.peer_checked")
    return any(r.get("answerer_of") and r.get("serving") == version for r in checks)
