"""The PostgreSQL audit trail against the real server: one chain for every thread and
process, the file trail's exact records, tampering found, outages refused and survived."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cli_runner import Cli, in_process_cli
from tcp_proxy import TcpProxy

from bot.audit.postgres import TABLE, PostgresTrail, export, rows, verify_database
from bot.audit.records import audit_answer
from bot.audit.trail import AuditTrail
from bot.audit.verify import verify_trail
from bot.redact import REDACTED
from handlers.deps import AuditUnavailable
from knowledge.service import KnowledgeBase, bundled_kb_dir
from knowledge.store.saved import SavedVersions

pytestmark = pytest.mark.needs_postgres

QUESTION = "Which US companies is Huawei talking to about licensing its 5G technology?"
REPO = Path(__file__).resolve().parents[3]
# Each writer process waits for the go file, then opens its trail (so they race to
# create the table too) and appends its records.
WRITER = """
import sys, time
from pathlib import Path
from bot.audit.postgres import PostgresTrail
url, n, tag, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no go file")
    time.sleep(0.005)
with PostgresTrail(url) as trail:
    for i in range(n):
        trail.record("answer.served", request_id=f"{tag}-{i}", surface="cli_ask",
                     question=f"question {i} from {tag}", answered=True, kb_version="k")
"""


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    yield from in_process_cli(tmp_path, monkeypatch, capsys)


def fixed_clock() -> Any:
    ticks = itertools.count()
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    return lambda: start + dt.timedelta(milliseconds=next(ticks))


def some_records(trail: Any, n: int = 5) -> None:
    for i in range(1, n + 1):
        trail.record(
            "answer.served",
            request_id=f"r{i}",
            surface="mention",
            user=f"U{i}",
            question=f"question {i} — ünïcode ✓ and a token xoxb-1234567890-abcdef",
            answered=True,
            kb_version="c2de55befcb7490c",
            quotes=[{"passage_id": f"d{i}#1", "start": 0, "end": 50, "score": 3.25}],
            api_token="xoxb-should-not-appear",
        )


def sql(url: str, *statements: str) -> list[tuple[Any, ...]]:
    """Run statements on ``url`` (its schema), as an operator with psql would."""
    out: list[tuple[Any, ...]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            cur = conn.execute(statement)
            if cur.description is not None:
                out = cur.fetchall()
    return out


def tamper(url: str, statement: str) -> None:
    """Edit rows as an owner who turned the append-only trigger off would."""
    sql(
        url,
        f"ALTER TABLE {TABLE} DISABLE TRIGGER USER",
        statement,
        f"ALTER TABLE {TABLE} ENABLE TRIGGER USER",
    )


def test_records_are_the_file_trails_byte_for_byte(pg_schema_url: str, tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, clock=fixed_clock(), bot_version="9.9.9") as trail:
        some_records(trail)
    with PostgresTrail(pg_schema_url, clock=fixed_clock(), bot_version="9.9.9") as trail:
        some_records(trail)
        assert trail.healthy and trail.head[0] == 5
    out = io.BytesIO()
    result = export(pg_schema_url, out)
    assert result.ok and result.records == 5
    assert out.getvalue() == path.read_bytes()
    first = json.loads(out.getvalue().splitlines()[0])
    assert first["ts"] == "2026-03-01T10:00:00.000000Z"  # stored in UTC
    assert first["api_token"] == REDACTED
    assert "xoxb-" not in out.getvalue().decode()
    columns = sql(pg_schema_url, f"SELECT seq, event, ts FROM {TABLE} ORDER BY seq")
    assert [c[0] for c in columns] == [1, 2, 3, 4, 5]
    assert columns[0][1] == "answer.served"
    assert columns[0][2] == dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def test_a_reopened_trail_continues_the_chain(pg_schema_url: str) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 3)
        head = trail.head
    with PostgresTrail(pg_schema_url) as again:
        assert again.head == head
        written = again.record("kb.reloaded", user="U1", kb_version="k2")
    assert written["seq"] == 4 and written["prev_hash"] == head[1]
    result = verify_database(pg_schema_url)
    assert result.ok and result.records == 4


def test_threads_and_two_trails_in_one_process_append_one_chain(pg_schema_url: str) -> None:
    threads, per_thread = 6, 40
    with PostgresTrail(pg_schema_url) as server, PostgresTrail(pg_schema_url) as cli:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            trail = server if n % 2 else cli
            try:
                for i in range(per_thread):
                    trail.record("answer.served", request_id=f"t{n}-{i}", surface="ask")
            except BaseException as exc:
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(timeout=60)
        assert not errors
    result = verify_database(pg_schema_url)
    assert result.ok and result.records == threads * per_thread
    ids = [json.loads(r.record)["request_id"] for r in rows(pg_schema_url)]
    assert sorted(ids) == sorted(f"t{n}-{i}" for n in range(threads) for i in range(per_thread))


def test_processes_starting_together_append_one_chain(pg_schema_url: str, tmp_path: Path) -> None:
    processes, per_process = 4, 100
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, pg_schema_url, str(per_process), f"p{n}", str(go)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(processes)
    ]
    go.touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    result = verify_database(pg_schema_url)
    assert result.ok, result.bad
    assert result.records == processes * per_process
    stored = list(rows(pg_schema_url))
    assert [r.seq for r in stored] == list(range(1, processes * per_process + 1))  # no gaps
    assert len({r.prev_hash for r in stored}) == len(stored)  # no forks
    by_writer: dict[str, list[int]] = {}
    for r in stored:
        tag, i = json.loads(r.record)["request_id"].split("-")
        by_writer.setdefault(tag, []).append(int(i))
    assert by_writer == {f"p{n}": list(range(per_process)) for n in range(processes)}
    # The writers raced to create the table; exactly one did.
    triggers = sql(pg_schema_url, f"SELECT count(*) FROM pg_trigger WHERE tgname LIKE '{TABLE}%'")
    assert triggers == [(2,)]


def test_rows_are_append_only(pg_schema_url: str) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 2)
    for statement in (
        f"UPDATE {TABLE} SET event = 'x.y'",
        f"DELETE FROM {TABLE} WHERE seq = 2",
        f"TRUNCATE {TABLE}",
    ):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            sql(pg_schema_url, statement)
    assert verify_database(pg_schema_url).records == 2


@pytest.mark.parametrize(
    ("statement", "seq", "reason"),
    [
        (
            f"UPDATE {TABLE} SET record = replace(record, 'question 3', 'quest 3') WHERE seq = 3",
            3,
            "hash mismatch",
        ),
        (f"DELETE FROM {TABLE} WHERE seq = 3", 4, "gap in seq (expected 3, found 4)"),
        (
            f"UPDATE {TABLE} SET hash = repeat('a', 64) WHERE seq = 3",
            3,
            "columns differ",
        ),
        (
            f"UPDATE {TABLE} SET record = replace(record, '\"seq\":3', '\"seq\":3 ') WHERE seq = 3",
            3,
            "not in canonical form",
        ),
    ],
)
def test_a_tampered_row_is_named_by_verify(
    pg_schema_url: str, cli: Cli, statement: str, seq: int, reason: str
) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 5)
    tamper(pg_schema_url, statement)
    result = verify_database(pg_schema_url)
    assert result.bad is not None
    assert result.bad.seq == seq and reason in result.bad.reason
    code, out, _ = cli("audit", "verify", "--database-url", pg_schema_url)
    assert code == 1
    first, intact, which = out.splitlines()
    assert first.startswith(f"chain broken at {TABLE}:") and f"(seq {seq})" in first
    assert reason in first
    assert intact == f"{result.records} records intact before it"
    assert which.startswith(f"verified: PostgreSQL table {TABLE} at postgresql+psycopg://")


def test_export_verifies_as_a_file_and_matches(
    pg_schema_url: str, cli: Cli, tmp_path: Path
) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 7)
    code, out, _ = cli("audit", "verify", LICENSEBOT_DATABASE_URL=pg_schema_url)
    assert code == 0
    db_lines = out.splitlines()
    assert db_lines[0] == "7 records, chain intact"
    assert db_lines[1].endswith("(database)")
    assert db_lines[2].startswith(f"verified: PostgreSQL table {TABLE}")

    backup = tmp_path / "backup.jsonl"
    code, _, err = cli("audit", "export", "--output", str(backup))
    assert code == 0, err
    assert f"exported 7 records from the PostgreSQL table {TABLE}" in err
    assert "chain intact" in err
    code, out, _ = cli("audit", "verify", str(backup))
    assert code == 0
    file_lines = out.splitlines()
    assert file_lines[0] == "7 records, chain intact"
    assert file_lines[1].split(" (")[0] == db_lines[1].split(" (")[0]  # same head seq and hash
    assert file_lines[2] == f"verified: audit file {backup}"
    assert backup.read_bytes() == b"".join(r.record.encode() + b"\n" for r in rows(pg_schema_url))

    # An existing file is never overwritten by accident; --force replaces it whole.
    code, _, err = cli("audit", "export", "--output", str(backup))
    assert code == 2 and "exists" in err
    backup.write_bytes(b"old")
    code, _, _ = cli("audit", "export", "--output", str(backup), "--force")
    assert code == 0 and verify_trail(backup).records == 7
    assert not list(tmp_path.glob(".backup.jsonl.partial-*"))


def test_export_to_standard_output(pg_schema_url: str, cli: Cli) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 3)
    code, out, err = cli("audit", "export", "--database-url", pg_schema_url)
    assert code == 0
    assert out.encode() == b"".join(r.record.encode() + b"\n" for r in rows(pg_schema_url))
    assert "exported 3 records" in err


def test_export_of_a_broken_chain_keeps_every_row_and_fails(
    pg_schema_url: str, cli: Cli, tmp_path: Path
) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 4)
    tamper(pg_schema_url, f"UPDATE {TABLE} SET record = replace(record, 'U2', 'U7') WHERE seq = 2")
    backup = tmp_path / "evidence.jsonl"
    code, _, err = cli("audit", "export", "-o", str(backup), "--database-url", pg_schema_url)
    assert code == 1
    assert "chain is broken" in err and "(seq 2)" in err
    assert len(backup.read_bytes().splitlines()) == 4
    bad = verify_trail(backup).bad
    assert bad is not None and bad.seq == 2


def test_show_and_filters_read_the_database(pg_schema_url: str, cli: Cli) -> None:
    with PostgresTrail(pg_schema_url) as trail:
        some_records(trail, 4)
        trail.record("kb.reloaded", user="U9", kb_version="k2")
    code, out, _ = cli("audit", "show", "--json", "--user", "U2", "--database-url", pg_schema_url)
    assert code == 0
    (only,) = [json.loads(line) for line in out.splitlines()]
    assert only["seq"] == 2 and only["user"] == "U2"
    code, out, _ = cli(
        "audit", "show", "--event", "kb.reloaded", LICENSEBOT_DATABASE_URL=pg_schema_url
    )
    assert code == 0 and len(out.splitlines()) == 1 and "kb.reloaded" in out


def test_database_down_refuses_records_then_recovers(
    pg_schema_url: str, pg_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, via_proxy = pg_proxy
    with PostgresTrail(via_proxy) as trail:
        some_records(trail, 2)
        proxy.set_mode("down")
        with pytest.raises(AuditUnavailable, match="cannot be written"):
            trail.record("answer.served", request_id="lost", surface="ask")
        assert not trail.healthy
        assert trail.last_error
        assert not trail.probe()
        proxy.set_mode("up")
        assert trail.probe() and trail.healthy and trail.last_error is None
        written = trail.record("answer.served", request_id="after", surface="ask")
    assert written["seq"] == 3
    result = verify_database(pg_schema_url)
    assert result.ok and result.records == 3
    ids = [json.loads(r.record)["request_id"] for r in rows(pg_schema_url)]
    assert "lost" not in ids


def test_a_dropped_connection_is_replaced_without_losing_a_record(
    pg_schema_url: str, pg_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, via_proxy = pg_proxy
    with PostgresTrail(via_proxy) as trail:
        some_records(trail, 2)
        # Every open connection is cut (a server restart, a failover); new ones work.
        proxy.set_mode("down")
        proxy.set_mode("up")
        written = trail.record("answer.served", request_id="next", surface="ask")
        assert trail.healthy
    assert written["seq"] == 3 and verify_database(pg_schema_url).ok


def test_unreachable_database(cli: Cli) -> None:
    closed = "postgresql://postgres@127.0.0.1:9/test"  # discard port: nothing listens
    with PostgresTrail(closed) as trail:
        assert not trail.healthy and trail.last_error
        with pytest.raises(AuditUnavailable):
            trail.record("answer.served", request_id="r", surface="ask")
    code, _, err = cli("audit", "verify", "--database-url", closed)
    assert code == 2
    assert err.startswith("licensebot: cannot read the PostgreSQL table")
    assert "127.0.0.1:9" in err


def test_a_database_without_the_table_says_so(pg_schema_url: str, cli: Cli) -> None:
    code, _, err = cli("audit", "verify", "--database-url", pg_schema_url)
    assert code == 2 and f"no audit table {TABLE}" in err
    code, _, err = cli("audit", "show", "--database-url", pg_schema_url)
    assert code == 2 and f"no audit table {TABLE}" in err


def test_replay_of_an_answer_recorded_in_the_database(
    pg_schema_url: str, cli: Cli, tmp_path: Path
) -> None:
    kb_dir, data_dir = tmp_path / "kb", tmp_path / "data"
    shutil.copytree(bundled_kb_dir(), kb_dir)
    kb = KnowledgeBase.load(kb_dir, data_dir=data_dir)
    SavedVersions(data_dir).save(kb_dir, kb.kb_version)
    answer = kb.answer(QUESTION, 3)
    assert answer.answered
    with PostgresTrail(pg_schema_url) as trail:
        trail.record("kb.reloaded", user="U1", kb_version=kb.kb_version)
        audit_answer(
            trail, answer, surface="mention", request_id="r1", top=3, latency_ms=5.0, user="U1"
        )
    # The live directory changes afterwards; replay uses the version that answered.
    for path in kb_dir.glob(f"{answer.quotes[0].doc_id}.*"):
        path.unlink()
    env = {"LICENSEBOT_DATABASE_URL": pg_schema_url, "LICENSEBOT_DATA_DIR": str(data_dir)}
    code, out, err = cli("audit", "replay", "2", **env)
    assert code == 0, err
    assert out.startswith(f"seq 2: same quotes from knowledge base {kb.kb_version}")
    code, out, _ = cli("audit", "replay", "2", "--json", **env)
    assert json.loads(out)["same"] is True
    code, _, err = cli("audit", "replay", "1", **env)
    assert code == 2 and "not answer.served" in err
    code, _, err = cli("audit", "replay", "9", **env)
    assert code == 2 and f"no record with seq 9 in the PostgreSQL table {TABLE}" in err
