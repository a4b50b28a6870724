"""Processes that act at the same moment, round after round (for races between them).

Each process is started with ``argv`` and, for every round, prints ``ready``, waits for a
line on stdin, acts, then prints one line saying what happened.
"""

from __future__ import annotations

import subprocess


def _line(worker: subprocess.Popen[str]) -> str:
    assert worker.stdout is not None
    return worker.stdout.readline().strip()


def run_in_lockstep(argv: list[str], processes: int, rounds: int) -> list[list[str]]:
    """Per round, the line each process printed after acting; every process exits 0."""
    workers = [
        subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    results: list[list[str]] = []
    try:
        for _ in range(rounds):
            assert [_line(worker) for worker in workers] == ["ready"] * processes
            for worker in workers:  # all act together, so their work interleaves
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            results.append([_line(worker) for worker in workers])
        for worker in workers:
            worker.communicate(timeout=60)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    assert [worker.returncode for worker in workers] == [0] * processes
    return results
