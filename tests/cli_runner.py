"""Run ``licensebot`` in this process: same parser and handlers, no interpreter start-up."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog

from bot.cli import main

Cli = Callable[..., tuple[int, str, str]]


def in_process_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """A ``cli`` fixture's body: calls ``main`` with no licensebot or Slack settings but
    a data dir under ``tmp_path`` (the working directory), returning (code, out, err)."""
    for key in list(os.environ):
        if key.startswith(("LICENSEBOT_", "SLACK_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    saved = dict(structlog.get_config())  # main() configures logging for the process

    def call(*args: str, **env: str) -> tuple[int, str, str]:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    yield call
    structlog.configure(**saved)
