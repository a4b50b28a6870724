"""Operator reloads: SIGHUP to the running server, the pid file, ``licensebot kb reload``,
and the poller wired for a server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from bot.cli import main
from bot.reloaders import (
    PID_FILE,
    RESULT_FILE,
    ReloadRequestError,
    SignalReloader,
    kb_maintenance,
    read_pid_file,
    read_result,
    remove_pid_file,
    request_reload,
    worker_result_file,
    write_pid_file,
)
from bot.settings import load_settings
from knowledge.service import KnowledgeBase, bundled_kb_dir

ARTICLE = b"""Nokia renews patent licence with a Chinese handset maker

Nokia said on Monday it had renewed its patent licence agreement with a Chinese handset \
maker covering 5G technology, ending litigation in several countries.
"""


class Recorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any]]] = []

    def record(self, event: str, **fields: Any) -> Mapping[str, Any]:
        self.records.append((event, fields))
        return fields

    def events(self) -> list[str]:
        return [event for event, _ in self.records]


@pytest.fixture(autouse=True)
def restore_structlog() -> Iterator[None]:
    # main() points structlog at the (captured, later closed) stderr of the moment.
    saved = dict(structlog.get_config())
    yield
    structlog.configure(**saved)


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(bundled_kb_dir(), target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def reloader(kb_dir: Path, data_dir: Path) -> Iterator[tuple[SignalReloader, Recorder]]:
    audit = Recorder()
    reloader = SignalReloader(KnowledgeBase.load(kb_dir), data_dir, audit)
    data_dir.mkdir()
    assert reloader.install()
    pid_path = write_pid_file(data_dir, kb_dir)
    yield reloader, audit
    reloader.uninstall()
    remove_pid_file(pid_path)


def test_pid_file_names_this_process_and_is_removed_only_by_it(
    data_dir: Path, kb_dir: Path
) -> None:
    path = write_pid_file(data_dir, kb_dir)
    info = read_pid_file(data_dir)
    assert info is not None and info.pid == os.getpid() and info.kb_dir == str(kb_dir)
    path.write_text('{"pid": 1, "started": null, "kb_dir": "/other"}')
    remove_pid_file(path)
    assert path.exists()  # another server took it over: not ours to remove
    write_pid_file(data_dir, kb_dir)
    remove_pid_file(path)
    assert not path.exists()


def test_sighup_reloads_and_reports(
    reloader: tuple[SignalReloader, Recorder], kb_dir: Path, data_dir: Path
) -> None:
    server, audit = reloader
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    os.kill(os.getpid(), signal.SIGHUP)
    deadline = time.monotonic() + 10
    while read_result(data_dir) is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    report = read_result(data_dir)
    assert report is not None
    assert report["outcome"] == "reloaded" and report["added"] == ["nokia"]
    assert report["serving"] == server.kb.kb_version and report["pid"] == os.getpid()
    assert server.kb.article("nokia") is not None
    assert audit.events() == ["kb.reloaded"]
    assert audit.records[0][1]["surface"] == "signal"


def test_shutdown_lets_a_signalled_reload_write_its_report(
    kb_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The reload swaps the knowledge base, then (slowly) writes report and audit record;
    # a server shutting down in between must not lose them.
    kb = KnowledgeBase.load(kb_dir)
    audit = Recorder()
    reloader = SignalReloader(kb, data_dir, audit)
    data_dir.mkdir()
    swapped = threading.Event()
    real_reload = kb.reload

    def slow_reload(**kwargs: Any) -> Any:
        result = real_reload(**kwargs)
        swapped.set()
        time.sleep(0.5)
        return result

    monkeypatch.setattr(kb, "reload", slow_reload)
    assert reloader.install()
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    os.kill(os.getpid(), signal.SIGHUP)
    assert swapped.wait(10)
    assert read_result(data_dir) is None
    reloader.uninstall()
    report = read_result(data_dir)
    assert report is not None and report["outcome"] == "reloaded"
    assert report["added"] == ["nokia"]
    assert audit.events() == ["kb.reloaded"]


def test_shutdown_drain_is_bounded(
    kb_dir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb = KnowledgeBase.load(kb_dir)
    reloader = SignalReloader(kb, data_dir, None)
    data_dir.mkdir()
    release = threading.Event()
    entered = threading.Event()

    real_reload = kb.reload

    def stuck_reload(**kwargs: Any) -> Any:
        entered.set()
        release.wait(10)
        return real_reload(**kwargs)

    monkeypatch.setattr(kb, "reload", stuck_reload)
    assert reloader.install()
    os.kill(os.getpid(), signal.SIGHUP)
    assert entered.wait(10)
    started = time.monotonic()
    reloader.uninstall(drain_s=0.2)
    try:
        assert 0.15 < time.monotonic() - started < 2.0
        assert read_result(data_dir) is None
    finally:
        release.set()
        reloader.uninstall()  # the drain again, now that the reload can finish
    report = read_result(data_dir)
    assert report is not None and report["outcome"] == "reloaded"


def test_request_reload_waits_for_this_requests_report(
    reloader: tuple[SignalReloader, Recorder], kb_dir: Path, data_dir: Path
) -> None:
    server, _ = reloader
    first = request_reload(data_dir, timeout=10)
    assert first["outcome"] == "reloaded" and first["added"] == []
    (kb_dir / "nokia.txt").write_bytes(b"")
    second = request_reload(data_dir, timeout=10)
    assert second["seq"] == first["seq"] + 1
    assert second["outcome"] == "refused"
    assert second["problems"] == [{"file": "nokia.txt", "line": None, "reason": "empty file"}]
    assert server.kb.article("nokia") is None


def test_cli_kb_reload_prints_the_diff_or_the_problems(
    reloader: tuple[SignalReloader, Recorder],
    kb_dir: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LICENSEBOT_KB_DIR", str(kb_dir))
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    assert main(["kb", "reload", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "reloaded in" in out and "added: nokia" in out and "articles 5 → 6" in out

    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    assert main(["kb", "reload", "--timeout", "10"]) == 1
    out = capsys.readouterr().out
    assert "reload refused" in out and "broken.md: binary file, not text" in out

    assert main(["kb", "status"]) == 1  # the directory is invalid now
    out = capsys.readouterr().out
    assert "INVALID" in out and f"server: pid {os.getpid()}" in out
    assert "last operator reload" in out and "refused" in out


def test_cli_kb_reload_without_a_server_says_so(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(data_dir))
    assert main(["kb", "reload"]) == 1
    assert "no running server found" in capsys.readouterr().err


def test_a_stale_pid_file_is_not_signalled(data_dir: Path, kb_dir: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(10)
    data_dir.mkdir()
    (data_dir / PID_FILE).write_text(f'{{"pid": {child.pid}, "started": null, "kb_dir": ""}}')
    with pytest.raises(ReloadRequestError, match="not running"):
        request_reload(data_dir, timeout=1)


def test_a_reused_pid_is_not_signalled(data_dir: Path) -> None:
    data_dir.mkdir()
    # Our own pid, but recorded with a start time that is not ours: another process's file.
    (data_dir / PID_FILE).write_text(f'{{"pid": {os.getpid()}, "started": "1", "kb_dir": ""}}')
    if not Path(f"/proc/{os.getpid()}/stat").exists():
        pytest.fail("this check needs /proc (Linux)")
    with pytest.raises(ReloadRequestError, match="not running"):
        request_reload(data_dir, timeout=1)


def test_install_needs_the_main_thread(kb_dir: Path, data_dir: Path) -> None:
    reloader = SignalReloader(KnowledgeBase.load(kb_dir), data_dir, None)
    results: list[bool] = []
    worker = threading.Thread(target=lambda: results.append(reloader.install()))
    worker.start()
    worker.join(5)
    assert results == [False]


def test_kb_maintenance_polls_and_cleans_up(kb_dir: Path, data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir, kb_dir=kb_dir, kb_poll_seconds=0.05)
    kb = KnowledgeBase.load(kb_dir)
    audit = Recorder()
    before = signal.getsignal(signal.SIGHUP)
    with kb_maintenance(settings, kb, audit) as poller:
        assert poller is not None and poller.running
        assert (data_dir / PID_FILE).exists()
        assert signal.getsignal(signal.SIGHUP) is not before
        (kb_dir / "nokia.txt").write_bytes(ARTICLE)
        deadline = time.monotonic() + 10
        while kb.article("nokia") is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert not poller.running
    assert not (data_dir / PID_FILE).exists()
    assert signal.getsignal(signal.SIGHUP) is before
    assert audit.events() == ["kb.reloaded"] and audit.records[0][1]["surface"] == "poll"


def test_kb_maintenance_without_polling(kb_dir: Path, data_dir: Path) -> None:
    settings = load_settings(data_dir=data_dir, kb_dir=kb_dir, kb_poll_seconds=0)
    with kb_maintenance(settings, KnowledgeBase.load(kb_dir), None) as poller:
        assert poller is None


SERVER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from bot.reloaders import kb_maintenance
    from bot.settings import load_settings
    from knowledge.service import KnowledgeBase

    settings = load_settings(kb_dir=Path(sys.argv[1]), data_dir=Path(sys.argv[2]),
                             kb_poll_seconds=0)
    kb = KnowledgeBase.load(settings.kb_dir)
    with kb_maintenance(settings, kb, None):
        print("ready", flush=True)
        deadline = time.monotonic() + 60
        while kb.article("nokia") is None and time.monotonic() < deadline:
            time.sleep(0.05)
    """
)


def test_licensebot_kb_reload_signals_another_process(kb_dir: Path, data_dir: Path) -> None:
    env = {**os.environ, "LICENSEBOT_DATA_DIR": str(data_dir), "LICENSEBOT_KB_DIR": str(kb_dir)}
    with subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT, str(kb_dir), str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    ) as server:
        try:
            assert server.stdout is not None
            # Log lines may come first on stdout; wait for the marker.
            for line in server.stdout:
                if line.strip() == "ready":
                    break
            (kb_dir / "nokia.txt").write_bytes(ARTICLE)
            cli = subprocess.run(
                [sys.executable, "-m", "bot", "kb", "reload", "--timeout", "20"],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
            assert cli.returncode == 0, cli.stderr
            assert "added: nokia" in cli.stdout
            assert server.wait(30) == 0
            assert not (data_dir / PID_FILE).exists()
            assert (data_dir / RESULT_FILE).exists()
        finally:
            if server.poll() is None:
                server.kill()


def test_a_worker_reports_in_its_own_file_and_leaves_the_pid_file_alone(
    kb_dir: Path, data_dir: Path
) -> None:
    settings = load_settings(data_dir=data_dir, kb_dir=kb_dir, kb_poll_seconds=0)
    kb = KnowledgeBase.load(kb_dir)
    name = worker_result_file(os.getpid())
    with kb_maintenance(settings, kb, None, supervisor_pid=os.getppid()):
        assert not (data_dir / PID_FILE).exists()
        started = read_result(data_dir, name)
        assert started is not None
        assert (started["pid"], started["seq"], started["outcome"]) == (os.getpid(), 0, "started")
        assert started["serving"] == kb.kb_version
        os.kill(os.getpid(), signal.SIGHUP)
        deadline = time.monotonic() + 10
        while (read_result(data_dir, name) or {}).get("seq") != 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert read_result(data_dir, RESULT_FILE) is None  # the supervisor writes that one
    assert not (data_dir / name).exists()


def test_cli_kb_reload_skip_invalid_serves_the_valid_articles(
    reloader: tuple[SignalReloader, Recorder],
    kb_dir: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, audit = reloader
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(data_dir))
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    (kb_dir / "broken.md").write_bytes(b"\x00\x01binary")
    assert main(["kb", "reload", "--timeout", "10"]) == 1
    assert server.kb.article("nokia") is None
    capsys.readouterr()
    assert main(["kb", "reload", "--skip-invalid", "--timeout", "10"]) == 0
    out = capsys.readouterr().out
    assert "added: nokia" in out and "skipped 1 problem(s) (--skip-invalid)" in out
    assert "broken.md: binary file, not text" in out
    assert server.kb.article("nokia") is not None
    event, fields = audit.records[-1]
    assert event == "kb.reloaded" and fields["skipped"][0]["file"] == "broken.md"
    # Requests are taken once: the next plain reload does not skip.
    assert not list((data_dir / "kb-reload-requests").glob("*.json"))


def test_request_reload_passes_on_the_stages_the_server_reports(
    reloader: tuple[SignalReloader, Recorder],
    kb_dir: Path,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import knowledge.service

    real = knowledge.service.build_snapshot

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.5)  # the validate stage is reported well before the index is built
        return real(*args, **kwargs)

    monkeypatch.setattr(knowledge.service, "build_snapshot", slow)
    (kb_dir / "nokia.txt").write_bytes(ARTICLE)
    stages: list[tuple[str, str]] = []
    report = request_reload(
        data_dir, timeout=10, progress=lambda s: stages.append((s.name, s.detail))
    )
    assert report["outcome"] == "reloaded"
    assert stages and stages[0][0] == "validate" and "6 articles" in stages[0][1]
