"""Several CLI processes writing to one SQLite file neither corrupt it nor lock each other out."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys


def test_two_cli_processes_writing_at_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/shared.db"
    env = {**os.environ, "DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "burncloud", "init"],
        env=env,
        check=True,
        capture_output=True,
    )
    script = (
        "import sys\n"
        "from burncloud.cli.app import app\n"
        "prefix = sys.argv[1]\n"
        "for i in range(15):\n"
        "    try:\n"
        "        app(['price', 'set', f'{prefix}-{i}', '--input', '1', '--output', '2'])\n"
        "    except SystemExit as exc:\n"
        "        if exc.code: raise\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, name],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("a", "b")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    with sqlite3.connect(tmp_path / "shared.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        models = {row[0] for row in conn.execute("SELECT model FROM prices")}
    assert models == {f"{p}-{i}" for p in "ab" for i in range(15)}
