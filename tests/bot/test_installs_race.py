"""Workers opening the installation store on one new SQLite file at the same moment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lockstep import run_in_lockstep

# For each data directory given: says "ready", waits for a line, opens the store there
# and reads from it, then prints "ok" or what went wrong.
OPEN_INSTALLS = """
import os, sys
from pathlib import Path
replies, sys.stdout = sys.stdout, open(os.devnull, "w")  # the logs go nowhere
from bot.installs import open_installs
from bot.settings import Settings
for data_dir in sys.argv[1:]:
    settings = Settings(
        _env_file=None, slack_client_id="1.2", slack_client_secret="secret",
        slack_signing_secret="signing", data_dir=Path(data_dir),
    )
    print("ready", file=replies, flush=True)
    sys.stdin.readline()
    try:
        installs = open_installs(settings)
        installs.installation_store.find_installation(enterprise_id=None, team_id="T1")
        installs.close()
        print("ok", file=replies, flush=True)
    except Exception as exc:
        print(repr(exc), file=replies, flush=True)
"""


def test_workers_opening_a_new_installation_store_together_all_get_in(tmp_path: Path) -> None:
    # Regression: the WAL switch on a new file said "database is locked" to the workers
    # that lost the race, and they refused to start.
    rounds, processes = 12, 6
    data_dirs = [str(tmp_path / f"data-{n}") for n in range(rounds)]
    argv = [sys.executable, "-c", OPEN_INSTALLS, *data_dirs]
    outcomes = [line for seen in run_in_lockstep(argv, processes, rounds) for line in seen]
    assert outcomes == ["ok"] * rounds * processes, json.dumps(outcomes)
