"""Which dedupe store the settings and the worker count pick, and LICENSEBOT_REDIS_* checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings
from bot.stores.choose import SQLITE_FILE, dedupe_store
from bot.stores.memory import TtlEventDedupe
from bot.stores.redis import RedisTtlStore
from bot.stores.sqlite import SqliteTtlStore

BAD_REDIS_URLS = (
    "http://:pw@127.0.0.1:6379",
    "redis://:pw@127.0.0.1:port/0",
    "redis://:pw@127.0.0.1:6379/0?socket_timeout=soon",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("LICENSEBOT_REDIS_URL", "LICENSEBOT_REDIS_KEY_PREFIX", "LICENSEBOT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_one_process_without_redis_keeps_ids_in_memory(tmp_path: Path) -> None:
    store = dedupe_store(load_settings(data_dir=tmp_path, dedupe_ttl_seconds=120))
    assert isinstance(store, TtlEventDedupe) and store.ttl_seconds == 120
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_several_workers_without_redis_share_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    store = dedupe_store(load_settings(data_dir=tmp_path), workers=2)
    assert isinstance(store, SqliteTtlStore)
    assert store.path == tmp_path / SQLITE_FILE and store.namespace == "dedupe"
    assert not store.path.exists()  # opened on first use, not at start
    assert store.first_time("event:Ev1")
    assert store.path.exists()
    store.close()


@pytest.mark.parametrize("workers", [1, 4])
def test_redis_url_wins_for_any_worker_count(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workers: int
) -> None:
    monkeypatch.setenv("LICENSEBOT_REDIS_URL", "redis://:pw@127.0.0.1:1/3")
    monkeypatch.setenv("LICENSEBOT_REDIS_KEY_PREFIX", "teamA:")
    settings = load_settings(data_dir=tmp_path)
    assert "pw" not in repr(settings)
    store = dedupe_store(settings, workers=workers)
    assert isinstance(store, RedisTtlStore)
    assert store.prefix == "teamA:dedupe:" and store.backend == "redis:127.0.0.1:1/3"
    store.close()


def test_workers_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        dedupe_store(load_settings(data_dir=tmp_path), workers=0)


def test_an_empty_redis_url_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LICENSEBOT_REDIS_URL", "  ")
    assert load_settings().redis_url is None


def test_a_bad_redis_url_never_shows_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in BAD_REDIS_URLS:
        monkeypatch.setenv("LICENSEBOT_REDIS_URL", url)
        with pytest.raises(SettingsError) as caught:
            load_settings()
        assert str(caught.value).startswith("invalid setting LICENSEBOT_REDIS_URL:")
        assert "pw" not in str(caught.value)
