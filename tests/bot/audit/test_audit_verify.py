"""`licensebot audit verify`: an intact trail passes; every kind of tampering is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.audit.chain import canonical_json, record_hash
from bot.audit.trail import AuditTrail
from bot.audit.verify import verify_trail
from bot.cli import main

N = 8


@pytest.fixture
def trail_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path) as trail:
        for i in range(1, N + 1):
            trail.record(
                "answer.served",
                request_id=f"r{i}",
                surface="ask",
                user=f"U{i}",
                question=f"question {i}",
                answered=True,
                kb_version="c2de55befcb7490c",
                quotes=[
                    {
                        "passage_id": f"d{i}#1",
                        "doc_id": f"d{i}",
                        "start": 0,
                        "end": 50,
                        "score": 3.25,
                    }
                ],
            )
    return path


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def _verify_cli(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["audit", "verify", str(path), *extra])
    return code, capsys.readouterr().out


def test_intact_trail_passes(trail_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify_cli(trail_path, capsys)
    assert code == 0
    assert out.splitlines()[0] == f"{N} records, chain intact"
    head = json.loads(_lines(trail_path)[-1])
    assert f"seq {N} hash {head['hash']}" in out


def test_edited_field_is_a_hash_mismatch(
    trail_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _lines(trail_path)
    rec = json.loads(lines[4])
    rec["question"] = "something the bot was never asked"
    lines[4] = (canonical_json(rec) + "\n").encode()
    _write(trail_path, lines)
    code, out = _verify_cli(trail_path, capsys)
    assert code == 1
    assert f"{trail_path}:5 (seq 5): hash mismatch" in out
    assert "4 records intact before it" in out


def test_edited_record_with_a_recomputed_hash_breaks_the_next_link(trail_path: Path) -> None:
    lines = _lines(trail_path)
    rec = json.loads(lines[2])
    rec["answered"] = False
    rec["hash"] = record_hash(rec)
    lines[2] = (canonical_json(rec) + "\n").encode()
    _write(trail_path, lines)
    bad = verify_trail(trail_path).bad
    assert bad is not None
    assert (bad.line, bad.seq) == (4, 4)
    assert bad.reason.startswith("broken chain")


def test_deleted_line_is_a_gap_in_seq(trail_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(trail_path)
    del lines[3]
    _write(trail_path, lines)
    code, out = _verify_cli(trail_path, capsys)
    assert code == 1
    assert "gap in seq (expected 4, found 5)" in out


def test_swapped_lines_are_detected(trail_path: Path) -> None:
    lines = _lines(trail_path)
    lines[2], lines[3] = lines[3], lines[2]
    _write(trail_path, lines)
    bad = verify_trail(trail_path).bad
    assert bad is not None
    assert bad.line == 3 and "gap in seq (expected 3, found 4)" in bad.reason


def test_inserted_line_is_detected(trail_path: Path) -> None:
    lines = _lines(trail_path)
    lines.insert(2, lines[1])
    _write(trail_path, lines)
    bad = verify_trail(trail_path).bad
    assert bad is not None
    assert bad.line == 3 and "seq out of order (expected 3, found 2)" in bad.reason


def test_truncation_mid_line_is_a_torn_line(
    trail_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = trail_path.read_bytes()
    trail_path.write_bytes(data[: len(data) - 40])
    code, out = _verify_cli(trail_path, capsys)
    assert code == 1
    assert f"{trail_path}:{N}: torn line (no trailing newline)" in out


def test_reformatted_line_is_not_canonical(trail_path: Path) -> None:
    lines = _lines(trail_path)
    lines[0] = (json.dumps(json.loads(lines[0]), indent=None) + "\n").encode()
    _write(trail_path, lines)
    bad = verify_trail(trail_path).bad
    assert bad is not None and bad.line == 1 and "canonical" in bad.reason


def test_garbage_line_is_named(trail_path: Path) -> None:
    lines = _lines(trail_path)
    lines[5] = b"not json at all\n"
    _write(trail_path, lines)
    bad = verify_trail(trail_path).bad
    assert bad is not None and bad.line == 6 and "unparseable" in bad.reason


def test_cut_off_whole_records_fail_only_against_an_anchor(
    trail_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = json.loads(_lines(trail_path)[-1])
    _write(trail_path, _lines(trail_path)[:-2])
    assert _verify_cli(trail_path, capsys)[0] == 0  # a hash chain alone cannot see this
    code, out = _verify_cli(trail_path, capsys, "--anchor", f"{N}:{head['hash']}")
    assert code == 1
    assert f"anchored record seq {N} is missing" in out


def test_anchor_with_a_different_hash_fails(trail_path: Path) -> None:
    assert verify_trail(trail_path, anchors={3: "0" * 64}).bad is not None
    real = json.loads(_lines(trail_path)[2])["hash"]
    assert verify_trail(trail_path, anchors={3: real}).ok


def test_deleted_first_segment_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, max_bytes=4096) as trail:
        for i in range(40):
            trail.record("answer.served", question=f"q{i}" + "x" * 150)
    (tmp_path / "audit.jsonl.1").unlink()
    bad = verify_trail(path).bad
    assert bad is not None and bad.reason.startswith("gap in seq (expected 1,")


def test_a_single_rotated_segment_verifies_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    with AuditTrail(path, max_bytes=4096) as trail:
        for i in range(40):
            trail.record("answer.served", question=f"q{i}" + "x" * 150)
    result = verify_trail(tmp_path / "audit.jsonl.2")
    assert result.ok and result.first_seq > 1


def test_missing_file_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _verify_cli(tmp_path / "nothing.jsonl", capsys)
    assert code == 1 and "no audit file" in out


def test_default_path_comes_from_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LICENSEBOT_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("LICENSEBOT_AUDIT_PATH", raising=False)
    with AuditTrail(tmp_path / "var" / "audit.jsonl") as trail:
        trail.record("kb.reloaded", result="ok")
    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out.startswith("1 records, chain intact")
