"""What `licensebot kb reload` hears from `serve --workers N`: one report for all workers."""

from __future__ import annotations

from typing import Any

from bot.supervisor import combine_reports


def reloaded(pid: int, version: str = "v2", seconds: float = 0.1) -> dict[str, Any]:
    return {
        "pid": pid,
        "seq": 1,
        "outcome": "reloaded",
        "serving": version,
        "old_version": "v1",
        "new_version": version,
        "seconds": seconds,
    }


def test_all_reloaded_to_one_version_is_reloaded() -> None:
    report = combine_reports({11: reloaded(11, seconds=0.2), 12: reloaded(12, seconds=0.5)})
    assert report["outcome"] == "reloaded"
    assert (report["old_version"], report["new_version"], report["seconds"]) == ("v1", "v2", 0.5)
    assert report["workers"] == [
        {"pid": 11, "outcome": "reloaded", "serving": "v2"},
        {"pid": 12, "outcome": "reloaded", "serving": "v2"},
    ]


def test_a_refusal_wins_and_keeps_its_problems() -> None:
    refused = {
        "pid": 12,
        "outcome": "refused",
        "serving": "v1",
        "problems": [{"file": "bad.txt", "reason": "empty"}],
    }
    report = combine_reports({11: reloaded(11), 12: refused})
    assert report["outcome"] == "refused" and report["problems"] == refused["problems"]


def test_a_worker_that_never_reported_makes_it_incomplete() -> None:
    report = combine_reports({11: reloaded(11), 12: None})
    assert report["outcome"] == "no_report"
    assert report["workers"][1] == {"pid": 12, "outcome": "no_report", "serving": None}


def test_workers_on_different_versions_have_diverged() -> None:
    report = combine_reports({11: reloaded(11, "v2"), 12: reloaded(12, "v3")})
    assert report["outcome"] == "diverged"


def test_no_started_worker() -> None:
    assert combine_reports({})["outcome"] == "no_workers"
