"""Secrets and files at rest: the database and everything beside it is created 0600 (under
the usual umask 022), and the first-run admin key is printed only on a terminal, never
into a router's log."""

from __future__ import annotations

import os
import pty
import select
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.storage_router import launch, running

pytestmark = pytest.mark.slow

KEY_PREFIX = b"sk-"


def modes(folder: Path) -> dict[str, int]:
    return {path.name: stat.S_IMODE(path.stat().st_mode) for path in folder.iterdir()}


def test_a_router_on_a_new_database_logs_how_to_get_the_admin_key_not_the_key(
    tmp_path: Path,
) -> None:
    with running(launch(f"sqlite:///{tmp_path}/router.db", tmp_path / "router.log")) as run:
        pass
    assert "Created the admin user" in run.stderr()
    assert "burncloud admin-key rotate" in run.stderr()
    assert KEY_PREFIX.decode() not in run.stderr()


def test_a_router_on_a_terminal_shows_the_new_admin_key(tmp_path: Path) -> None:
    terminal, seat = pty.openpty()
    try:
        db_url = f"sqlite:///{tmp_path}/router.db"
        with running(launch(db_url, tmp_path / "unused.log", stderr=seat)):
            shown = _read_until(terminal, KEY_PREFIX)
    finally:
        os.close(seat)
        os.close(terminal)
    assert b"Created the admin user and its admin key" in shown


def _read_until(fd: int, wanted: bytes, within: float = 20.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + within
    while wanted not in seen:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{wanted!r} not shown: {seen!r}")
        if select.select([fd], [], [], 0.1)[0]:
            seen += os.read(fd, 4096)
    return seen


@pytest.mark.sqlite_only
def test_a_router_creates_its_files_0600(tmp_path: Path) -> None:
    """Database, -wal, -shm, -writers, the .key secret, the shared-state file and the
    session-affinity table beside it."""
    db_url = f"sqlite:///{tmp_path}/router.db"
    no_secret = {"BURNCLOUD_SECRET": ""}  # so the router makes the .key file
    with running(launch(db_url, tmp_path / "router.log", workers=2, env=no_secret)):
        found = {name: mode for name, mode in modes(tmp_path).items() if name != "router.log"}
    assert found == {
        name: 0o600
        for name in (
            "router.db",
            "router.db-wal",
            "router.db-shm",
            "router.db-writers",
            "router.db.key",
            "router.db.state",
            "router.db.state.sessions",
        )
    }


@pytest.mark.sqlite_only
def test_a_cli_write_creates_its_files_0600(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if name != "BURNCLOUD_SECRET"}
    add = ["channel", "add", "--type", "openai", "--name", "c", "--key", "sk-x", "--models", "m"]
    subprocess.run(
        [sys.executable, "-m", "burncloud", *add, "--db", f"sqlite:///{tmp_path}/a.db"],
        env=env,
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert modes(tmp_path) == {"a.db": 0o600, "a.db-writers": 0o600, "a.db.key": 0o600}
