"""The router as operators run it: `burncloud router`, several workers, SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import openai
import pytest

from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.services.prices import set_price
from tests.fakes import running_fake_openai
from tests.gateway.router_harness import seed
from tests.gateway.router_process import router_process

pytestmark = pytest.mark.slow
MESSAGES = [{"role": "user", "content": "hi"}]


async def _query(db_url: str, sql: str):
    db = await open_database(db_url)
    try:
        return await db.fetch_all(sql)
    finally:
        await db.close()


@pytest.mark.parametrize("server", ["hypercorn", "uvicorn"])
def test_quota_race_across_two_workers_lets_exactly_50_through(tmp_path, server) -> None:
    db_url = f"sqlite:///{tmp_path}/race.db"
    # Output-only price so each request's reservation equals its exact cost:
    # 100 answer tokens at 60 USD / 1M = 0.006 USD; the quota holds exactly 50 of them.
    with running_fake_openai("sk-canary-upstream-key", completion_tokens=100) as fake:
        token_id, key = asyncio.run(seed(db_url, fake, quota="0.3"))

        async def output_only_price() -> None:
            db = await open_database(db_url)
            try:
                async with db.transaction() as tx:
                    await set_price(tx, "gpt-4", 0, parse_usd("60"))
            finally:
                await db.close()

        asyncio.run(output_only_price())
        with router_process(db_url, workers=2, server=server) as (base_url, _):
            statuses, lowest = asyncio.run(_burst(base_url, key, db_url, token_id, 500))
    rows = asyncio.run(_query(db_url, "SELECT cost, completion_tokens, status FROM logs"))
    odd = [row for row in rows if row["status"] == 200 and row["cost"] != 6_000_000]
    assert statuses.count(200) == 50, odd  # a partial (capped) answer would show here
    assert statuses.count(402) == 450
    assert lowest >= 0
    rows = asyncio.run(_query(db_url, f"SELECT quota, used FROM tokens WHERE id = {token_id}"))
    costs = asyncio.run(
        _query(db_url, f"SELECT SUM(cost) AS s FROM logs WHERE token_id = {token_id}")
    )
    assert rows[0]["quota"] == 0 and rows[0]["used"] == costs[0]["s"] == parse_usd("0.3")


async def _burst(base_url: str, key: str, db_url: str, token_id: int, count: int):
    lowest = 0
    stop = asyncio.Event()

    async def watch() -> None:
        nonlocal lowest
        db = await open_database(db_url)
        try:
            while not stop.is_set():
                value = await db.fetch_value(f"SELECT quota FROM tokens WHERE id = {token_id}")
                lowest = min(lowest, value)
                await asyncio.sleep(0.02)
        finally:
            await db.close()

    watcher = asyncio.create_task(watch())
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:

        async def one() -> int:
            response = await http.post(
                f"{base_url}/chat/completions",
                json={"model": "gpt-4", "messages": MESSAGES, "max_tokens": 100},
                headers={"Authorization": f"Bearer {key}"},
            )
            return response.status_code

        statuses = await asyncio.gather(*(one() for _ in range(count)))
    stop.set()
    await watcher
    return list(statuses), lowest


@pytest.mark.faults
@pytest.mark.parametrize(("server", "workers"), [("hypercorn", 1), ("uvicorn", 1), ("uvicorn", 2)])
def test_sigterm_lets_an_open_stream_finish_and_logs_it(tmp_path, server, workers) -> None:
    db_url = f"sqlite:///{tmp_path}/drain.db"
    with running_fake_openai("sk-canary-upstream-key", chunks=30, chunk_delay=0.05) as fake:
        _, key = asyncio.run(seed(db_url, fake))
        with router_process(db_url, workers=workers, grace=10, server=server) as (
            base_url,
            process,
        ):
            client = openai.OpenAI(api_key=key, base_url=base_url, max_retries=0)
            stream = client.chat.completions.create(model="gpt-4", messages=MESSAGES, stream=True)
            pieces = []
            for chunk in stream:
                if not pieces:
                    process.send_signal(signal.SIGTERM)
                if chunk.choices:
                    pieces.append(chunk.choices[0].delta.content or "")
            client.close()
            assert process.wait(timeout=20) == 0
    assert "".join(pieces) == "Hello! You said: hi"
    logs = asyncio.run(_query(db_url, "SELECT status, stream, estimated FROM logs"))
    assert logs == [{"status": 200, "stream": 1, "estimated": 0}]


def test_cli_change_reaches_both_workers_within_two_seconds(tmp_path) -> None:
    from burncloud.services.tokens import create_token

    db_url = f"sqlite:///{tmp_path}/reload.db"
    with running_fake_openai("sk-canary-upstream-key") as fake:
        asyncio.run(seed(db_url, fake))
        with router_process(db_url, workers=2) as (base_url, _):

            async def new_key() -> str:
                db = await open_database(db_url)
                try:
                    return (await create_token(db, "late"))[1]
                finally:
                    await db.close()

            key = asyncio.run(new_key())
            created = time.monotonic()
            ok_since: float | None = None
            with httpx.Client(timeout=5) as http:
                # Fresh connections each time, so both workers are asked.
                while time.monotonic() - created < 4:
                    status = http.get(
                        f"{base_url}/models",
                        headers={"Authorization": f"Bearer {key}", "Connection": "close"},
                    ).status_code
                    if status == 200 and ok_since is None:
                        ok_since = time.monotonic()
                    elif status != 200:
                        ok_since = None
                    time.sleep(0.05)
    assert ok_since is not None and ok_since - created <= 2.0
