"""Faults: the database stops taking writes under a running router, or never took them.

A router refuses to start on a database it cannot write. While running, failing log
flushes turn /healthz not-ready (503 in the error shape) until writes succeed again, and
then the kept rows are written. Rows still unwritten at the end of the grace period are
spilled to a file (0600) that the next start replays exactly once; if even the spill file
cannot be written, the router exits non-zero naming what was lost. The books stay exact:
quota + used + leased is what the token started with, and used is its logged costs.

How the database is made unwritable: while running, through the test launcher's storage
switch (``PRAGMA query_only`` on the router's own connections: SQLite's read-only error);
at start, with a read-only bind mount in a mount namespace of the router's own when the
tests run as root (root ignores file modes), else with chmod.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
from pathlib import Path

import httpx
import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.leases import sweep_expired_leases
from tests.fakes import running_fake_openai
from tests.faults.books import read_books, wait_for_rows
from tests.faults.harness import MODEL
from tests.faults.storage_router import RouterRun, launch, running, wait_until
from tests.gateway.router_harness import seed

pytestmark = [pytest.mark.faults, pytest.mark.slow]

QUOTA = "100"
SPILLED = re.compile(r"spilled (\d+) rows to (\S+);")


def chat(run: RouterRun, key: str, request_id: str) -> int:
    response = httpx.post(
        f"{run.base_url}/chat/completions",
        headers={"Authorization": f"Bearer {key}", "x-request-id": request_id},
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    return response.status_code


def not_ready(run: RouterRun) -> dict | None:
    """The /healthz error body while it answers 503."""
    response = run.healthz()
    return response.json() if response.status_code == 503 else None


def make_read_only(folder: Path) -> list[str]:
    """Make ``folder`` unwritable for a router started with the prefix returned."""
    if os.geteuid() != 0:
        for path in folder.iterdir():
            path.chmod(0o444)
        folder.chmod(0o555)
        return []
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("running as root without unshare/mount: no way to make a file read-only")
    script = 'mount --bind -o ro "$0" "$0" && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, str(folder)]


def test_a_router_refuses_to_start_on_a_database_it_cannot_write(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    db_url = f"sqlite:///{folder}/router.db"
    with running_fake_openai("sk-canary-upstream") as fake:
        asyncio.run(seed(db_url, fake, quota=QUOTA))
    prefix = make_read_only(folder)
    state = {"BURNCLOUD_STATE_FILE": str(tmp_path / "router.state")}  # out of the folder
    try:
        run = launch(db_url, tmp_path / "router.log", prefix=prefix, env=state)
        code = run.process.wait(timeout=60)
    finally:
        folder.chmod(0o755)
    assert code != 0
    assert "refusing to start: the database is read-only" in run.stderr()


def test_a_router_refuses_to_start_when_its_first_write_fails(tmp_path: Path) -> None:
    """The file opens for writing, the engine refuses the write: found before serving."""
    db_url = f"sqlite:///{tmp_path}/router.db"
    with running_fake_openai("sk-canary-upstream") as fake:
        asyncio.run(seed(db_url, fake, quota=QUOTA))
    (tmp_path / "router.read-only").touch()  # the switch is on from the first connection
    run = launch(db_url, tmp_path / "router.log", switch=True)
    assert run.process.wait(timeout=60) != 0
    assert "refusing to start: the database is read-only" in run.stderr()


def test_healthz_is_not_ready_while_writes_fail_and_recovers_with_the_rows(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/router.db"
    with running_fake_openai("sk-canary-upstream") as fake:
        token_id, key = asyncio.run(seed(db_url, fake, quota=QUOTA))
        with running(launch(db_url, tmp_path / "router.log", switch=True)) as run:
            assert chat(run, key, "warm") == 200  # takes a lease while writes work
            run.read_only(True)
            wait_until(lambda: "read_only=True" in run.stderr(), what="switch")
            statuses = [chat(run, key, f"r{n}") for n in range(3)]
            body = wait_until(lambda: not_ready(run), what="not-ready /healthz")
            assert body["error"]["code"] == "service_unavailable"
            assert "the database is read-only" in body["error"]["message"]
            run.read_only(False)
            wait_until(lambda: run.healthz().status_code == 200, what="ready /healthz again")
            books = asyncio.run(wait_for_rows(db_url, token_id, 4))
    assert set(statuses) <= {200, 503} and 200 in statuses
    assert sorted(row["request_id"] for row in books.rows) == ["r0", "r1", "r2", "warm"]
    books.assert_balanced(parse_usd(QUOTA))


def test_rows_unwritten_through_the_grace_are_spilled_then_replayed_once(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/router.db"
    with running_fake_openai("sk-canary-upstream") as fake:
        token_id, key = asyncio.run(seed(db_url, fake, quota=QUOTA))
        with running(launch(db_url, tmp_path / "first.log", switch=True)) as run:
            assert chat(run, key, "warm") == 200
            asyncio.run(wait_for_rows(db_url, token_id, 1))  # written before the switch
            run.read_only(True)
            wait_until(lambda: "read_only=True" in run.stderr(), what="switch")
            served = [n for n in range(3) if chat(run, key, f"r{n}") == 200]
            wait_until(lambda: not_ready(run), what="not-ready /healthz")
            assert run.stop() == 0  # every row is safe in the spill file
        count, spill = SPILLED.search(run.stderr()).groups()
        assert int(count) == 3 and stat.S_IMODE(os.stat(spill).st_mode) == 0o600
        assert [row["request_id"] for row in asyncio.run(read_books(db_url, token_id)).rows] == [
            "warm"
        ]
        with running(launch(db_url, tmp_path / "second.log")) as again:
            books = asyncio.run(wait_for_rows(db_url, token_id, 4))
        assert "replayed 3 spilled log rows" in again.stderr()
        assert not os.path.exists(spill)
        with running(launch(db_url, tmp_path / "third.log")) as third:
            pass
        assert "replayed" not in third.stderr()
    assert served  # at least one request was billed while the database refused writes
    after = asyncio.run(read_books(db_url, token_id))
    assert after.rows == books.rows  # replayed exactly once
    after.assert_balanced(parse_usd(QUOTA))
    asyncio.run(_sweep_everything(db_url))  # the first router could not give its leases back
    asyncio.run(read_books(db_url, token_id)).assert_settled(parse_usd(QUOTA))


async def _sweep_everything(db_url: str) -> None:
    db = await open_database(db_url)
    try:
        await sweep_expired_leases(db, now=2**40)
    finally:
        await db.close()


def test_rows_that_cannot_even_be_spilled_end_the_router_non_zero(tmp_path) -> None:
    db_url = f"sqlite:///{tmp_path}/router.db"
    nowhere = {"BURNCLOUD_SPILL_DIR": str(tmp_path / "missing")}
    with running_fake_openai("sk-canary-upstream") as fake:
        _, key = asyncio.run(seed(db_url, fake, quota=QUOTA))
        with running(launch(db_url, tmp_path / "router.log", switch=True, env=nowhere)) as run:
            run.read_only(True)
            wait_until(lambda: "read_only=True" in run.stderr(), what="switch")
            chat(run, key, "doomed")
            wait_until(lambda: not_ready(run), what="not-ready /healthz")
            assert run.stop() != 0
    assert "lost 1 log rows" in run.stderr() and "doomed" in run.stderr()
