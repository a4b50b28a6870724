"""The SQLite store beyond the shared contract: bounds, locking, broken files."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest
import structlog
from lockstep import run_in_lockstep

from bot.stores.sqlite import SqliteTtlStore
from handlers.deps import StoreUnavailable

WORKER = Path(__file__).with_name("ttl_store_worker.py")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_rows_stay_bounded_by_the_cap_and_the_purge_interval(tmp_path: Path) -> None:
    store = SqliteTtlStore(tmp_path / "s.db", "dedupe", 3600, max_entries=50, purge_every=10)
    for i in range(500):
        assert store.first_time(f"Ev{i}")
        assert store.rows() <= 50 + 10
    store.purge()
    assert store.rows() == 50
    # The newest keys are the ones kept.
    assert store.first_time("Ev499") is False
    assert store.first_time("Ev0") is True
    store.close()


def test_expired_rows_are_deleted_not_just_ignored(tmp_path: Path) -> None:
    clock = Clock()
    store = SqliteTtlStore(tmp_path / "s.db", "dedupe", 60, purge_every=100, clock=clock)
    for i in range(100):  # the first write purges, then every 100th
        store.first_time(f"Ev{i}")
    clock.now += 61
    assert len(store) == 0 and store.rows() == 100
    store.first_time("later")
    assert store.rows() == 1
    store.close()


def test_a_file_survives_the_process_that_wrote_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = SqliteTtlStore(path, "dedupe", 3600)
    assert first.first_time("Ev1")
    first.close()
    again = SqliteTtlStore(path, "dedupe", 3600)
    assert again.first_time("Ev1") is False
    assert again.first_time("Ev2") is True
    again.close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_database_locked_too_long_is_unavailable_then_recovers(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqliteTtlStore(path, "dedupe", 3600, busy_timeout_s=0.2)
    assert store.first_time("warm")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StoreUnavailable, match="locked"):
        store.first_time("Ev1")
    other.execute("ROLLBACK")
    other.close()
    assert store.first_time("Ev1") is True  # the failed call claimed nothing
    store.close()


def test_an_unusable_path_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    store = SqliteTtlStore(tmp_path / "file" / "s.db", "dedupe", 3600)
    with pytest.raises(StoreUnavailable, match="SQLite store"):
        store.first_time("Ev1")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00\xff" * 4096)
    with pytest.raises(StoreUnavailable, match="not a database"):
        SqliteTtlStore(garbage, "dedupe", 3600).first_time("Ev1")


def test_a_failed_purge_does_not_undo_a_claim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SqliteTtlStore(tmp_path / "s.db", "dedupe", 3600, purge_every=1)

    def broken(*_args: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(store, "_purge", broken)
    with structlog.testing.capture_logs() as logs:
        assert store.first_time("Ev1") is True
    assert store.first_time("Ev1") is False
    assert [entry["event"] for entry in logs][:1] == ["store.purge_failed"]
    store.close()


def test_processes_opening_one_new_file_together_all_get_in(tmp_path: Path) -> None:
    # Regression: switching a new file to WAL reports "database is locked" at once, past
    # any busy timeout, to the processes that lose the race; a worker then answered 503.
    rounds, processes = 12, 6
    paths = [str(tmp_path / f"state-{n}.sqlite3") for n in range(rounds)]
    spec = json.dumps(
        {"backend": "sqlite", "fresh_paths": paths, "namespaces": ["events", "threads"]}
    )
    rounds_seen = run_in_lockstep([sys.executable, str(WORKER), spec], processes, rounds)
    assert [error for seen in rounds_seen for line in seen for error in json.loads(line)] == []
    for path in paths:  # each key was claimed by exactly one process
        store = SqliteTtlStore(Path(path), "events")
        assert not store.first_time("key")
        store.close()
