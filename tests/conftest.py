"""Policy for tests that need a real server (markers ``needs_redis``, ``needs_postgres``).

Such a test runs against the server on this machine (``LICENSEBOT_TEST_REDIS_URL``,
``LICENSEBOT_TEST_DATABASE_URL``; loopback defaults). When the server does not answer
the test is skipped with a message naming it, except where the servers are required
(``CI=true``, or ``LICENSEBOT_REQUIRE_SERVICES=1``, which ``.ci/run`` sets): there the
skip is a failure, and so is any other skip of a marked test, so CI cannot pass
without having run them.
"""

from __future__ import annotations

import os
import socket
import struct
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

pytest_plugins = ("pytester",)

REQUIRE_ENV = "LICENSEBOT_REQUIRE_SERVICES"
PROBE_TIMEOUT_S = 1.0
# PostgreSQL's SSLRequest: any server answers it with one byte, S or N, before auth.
_PG_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
_REDIS_PING = b"*1\r\n$4\r\nPING\r\n"


@dataclass(frozen=True)
class Service:
    name: str
    env: str
    default_url: str
    default_port: int

    @property
    def url(self) -> str:
        return os.environ.get(self.env) or self.default_url

    @property
    def address(self) -> tuple[str, int]:
        parts = urlsplit(self.url)
        return parts.hostname or "127.0.0.1", parts.port or self.default_port


SERVICES = {
    "needs_redis": Service("Redis", "LICENSEBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0", 6379),
    "needs_postgres": Service(
        "PostgreSQL",
        "LICENSEBOT_TEST_DATABASE_URL",
        "postgresql://postgres@127.0.0.1:5432/test",
        5432,
    ),
}


def services_required() -> bool:
    return os.environ.get("CI", "").lower() == "true" or os.environ.get(REQUIRE_ENV, "") not in (
        "",
        "0",
    )


@cache
def unreachable(marker: str) -> str | None:
    """Why the marker's server cannot be used, or None when it answered its protocol."""
    service = SERVICES[marker]
    host, port = service.address
    hello, expected = (
        (_REDIS_PING, (b"+PONG", b"-NOAUTH"))
        if marker == "needs_redis"
        else (_PG_SSL_REQUEST, (b"S", b"N"))
    )
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S) as sock:
            sock.sendall(hello)
            reply = sock.recv(64)
    except OSError as exc:
        return f"{service.name} is not reachable at {host}:{port} ({exc})"
    if not reply.startswith(expected):
        return f"{service.name} is not answering at {host}:{port} (got {reply[:20]!r})"
    return None


def _service_markers(item: pytest.Item) -> list[str]:
    return [name for name in SERVICES if item.get_closest_marker(name) is not None]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker in _service_markers(item):
        reason = unreachable(marker)
        if reason is None:
            continue
        if services_required():
            pytest.fail(f"{reason}; this run requires it ({marker})", pytrace=False)
        pytest.skip(f"{reason}; {marker} test not run")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    markers = _service_markers(item)
    if markers and report.skipped and not hasattr(report, "wasxfail") and services_required():
        # A skip's longrepr is (path, line, "Skipped: reason").
        why = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} is marked {', '.join(markers)} and was skipped ({why}), "
            "but this run requires its servers to be used"
        )
    return report


def _require_marker(request: pytest.FixtureRequest, marker: str) -> None:
    if request.node.get_closest_marker(marker) is None:
        pytest.fail(f"{request.node.nodeid} uses {SERVICES[marker].name}: mark it {marker}")


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> str:
    """The test Redis; only for tests marked ``needs_redis``."""
    _require_marker(request, "needs_redis")
    return SERVICES["needs_redis"].url


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    import redis

    prefix = f"licensebot-test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> str:
    """The test PostgreSQL database; only for tests marked ``needs_postgres``."""
    _require_marker(request, "needs_postgres")
    return SERVICES["needs_postgres"].url


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """``postgres_url`` with a schema of this test's own first on its search_path; the
    schema and everything in it are dropped afterwards."""
    import psycopg

    schema = f"licensebot_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield with_search_path(postgres_url, schema)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (libpq ``options``, URL-encoded)."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, f"options=-csearch_path%3D{schema}") if q)
    return urlunsplit(parts._replace(query=query))


@pytest.fixture
def pg_proxy(pg_schema_url: str) -> Iterator[tuple[Any, str]]:
    """A loopback proxy in front of the test PostgreSQL, and ``pg_schema_url`` through it
    (to take the database away and bring it back without touching the shared server)."""
    from tcp_proxy import TcpProxy

    parts = urlsplit(pg_schema_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}" if parts.username else None
        yield proxy, parts._replace(netloc=netloc or f"127.0.0.1:{proxy.port}").geturl()
