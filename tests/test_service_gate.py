"""The policy in tests/conftest.py, run on a small suite of its own (pytester): tests
that need a missing server are skipped with its name here and fail where CI runs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

CONFTEST = Path(__file__).with_name("conftest.py")
INI = """
[pytest]
addopts = --strict-markers -ra -p no:cacheprovider
markers =
    needs_redis: uses Redis
    needs_postgres: uses PostgreSQL
"""
SUITE = """
import pytest

@pytest.mark.needs_redis
def test_uses_redis(redis_url):
    assert redis_url

@pytest.mark.needs_postgres
def test_uses_postgres():
    pass

@pytest.mark.needs_redis
@pytest.mark.skip(reason="someone turned it off")
def test_switched_off():
    pass

def test_plain():
    pass
"""


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini(INI)
    pytester.makepyfile(test_suite=SUITE)
    for name in ("CI", "LICENSEBOT_REQUIRE_SERVICES"):
        monkeypatch.delenv(name, raising=False)
    # Nothing listens on these ports: both servers are "missing".
    monkeypatch.setenv("LICENSEBOT_TEST_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    monkeypatch.setenv(
        "LICENSEBOT_TEST_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/test"
    )
    return pytester


def test_without_the_servers_their_tests_are_skipped_naming_them(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(
        ["*Redis is not reachable at 127.0.0.1:*needs_redis test not run*"], consecutive=False
    )
    result.stdout.fnmatch_lines(["*PostgreSQL is not reachable at 127.0.0.1:*"])


@pytest.mark.parametrize(
    ("variable", "value"), [("CI", "true"), ("LICENSEBOT_REQUIRE_SERVICES", "1")]
)
def test_where_servers_are_required_any_skip_of_their_tests_fails(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    result = suite.runpytest_subprocess()
    assert result.ret != 0
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == 0 and outcomes.get("passed") == 1
    assert outcomes.get("failed", 0) + outcomes.get("errors", outcomes.get("error", 0)) == 3
    result.stdout.fnmatch_lines(["*Redis is not reachable*this run requires it (needs_redis)*"])
    result.stdout.fnmatch_lines(["*PostgreSQL is not reachable*this run requires it*"])


@pytest.mark.needs_redis
def test_with_redis_up_its_tests_run(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LICENSEBOT_TEST_REDIS_URL")
    result = suite.runpytest_subprocess("-k", "redis or plain or switched")
    result.assert_outcomes(passed=2, skipped=1, deselected=1)


@pytest.mark.needs_redis
def test_where_servers_are_required_a_switched_off_test_fails(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LICENSEBOT_TEST_REDIS_URL")
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_subprocess("-k", "switched")
    result.assert_outcomes(errors=1, deselected=3)  # a failure at setup
    result.stdout.fnmatch_lines(["*test_switched_off is marked needs_redis and was skipped*"])


def test_a_test_using_a_server_must_be_marked(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_unmarked="def test_sneaky(redis_url):\n    pass\n")
    result = suite.runpytest_subprocess("test_unmarked.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*uses Redis: mark it needs_redis*"])
