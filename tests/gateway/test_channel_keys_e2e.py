"""Many keys per channel, end to end through a real router: a bad key of three is disabled
with its reason while the other two serve, keys are picked by weight or in turn, a key's
rate limit tries a sibling key before another channel, and the prober brings a fixed key
back. The route trace names keys by id, never the key.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson

from burncloud.crypto import SecretBox
from burncloud.services.channel_keys import add_keys, list_keys, set_key_weight
from burncloud.services.channels import add_channel, update_channel
from tests.fakes import FakeOpenAI, RecordedRequest
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    logged_rows,
    running_router,
    wait_for_reload,
)
from tests.gateway.test_channel_health_e2e import chat, is_probe, with_db

BOX = SecretBox.from_passphrase(SECRET)
GOOD_B = "sk-good-second-key-0002"
GOOD_C = "sk-good-third-key-0003"
BAD = "sk-revoked-Zq7DistinctiveKey-5521"


def keys_seen(fake: FakeOpenAI) -> list[str]:
    """The bearer key of each client request (probes, with max_tokens 1, left out)."""
    return [bearer(r) for r in fake.requests if not is_probe(r)]


def bearer(request: RecordedRequest) -> str:
    return (request.authorization or "").partition(" ")[2]


async def key_ids(router: RunningRouter) -> list[int]:
    """The ids of channel 1's keys, in order (the seeded key first)."""
    return [key.id for key in await with_db(router, lambda db: list_keys(db, 1))]


async def until(check: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"{what} not within {within} s"
        await asyncio.sleep(0.02)


async def test_a_bad_key_of_three_is_auto_disabled_and_the_other_two_serve(
    tmp_path: Path,
) -> None:
    async with FakeOpenAI() as fake, running_router(tmp_path, fake, probe_seconds=3600) as router:
        fake.other_keys = {GOOD_B}  # BAD is not accepted: the upstream revoked it
        await with_db(router, lambda db: add_keys(db, BOX, 1, [BAD, GOOD_B]))
        await with_db(router, lambda db: update_channel(db, None, 1, key_selection="round-robin"))
        await wait_for_reload(router)
        first, bad, second = await key_ids(router)
        answers = [await chat(router, f"req-{i}") for i in range(12)]
        assert [a.status_code for a in answers] == [200] * 12
        keys = await with_db(router, lambda db: list_keys(db, 1))
        assert [(k.id, k.status) for k in keys] == [
            (first, "enabled"),
            (bad, "auto_disabled"),
            (second, "enabled"),
        ]
        assert "refused this channel's credentials" in keys[1].status_reason
        assert BAD not in keys[1].status_reason and keys[1].key_hint == "sk-...5521"
        channel = await with_db(
            router, lambda db: db.fetch_one("SELECT status FROM channels WHERE id = 1")
        )
        assert channel["status"] == "enabled"  # up while any key is
        await wait_for_reload(router)
        fake.requests.clear()
        for i in range(10):
            assert (await chat(router, f"after-{i}")).status_code == 200
        assert BAD not in keys_seen(fake)
        assert set(keys_seen(fake)) == {fake.key, GOOD_B}
    rows = await logged_rows(router.db_url)
    failed_over = [orjson.loads(row["route"]) for row in rows if '"status":401' in row["route"]]
    assert failed_over, "a request met the bad key"
    for trace in failed_over:
        first_try, answered = trace["attempts"][0], trace["attempts"][-1]
        assert (first_try["id"], first_try["key"], first_try["status"]) == (1, bad, 401)
        assert answered["id"] == 1 and answered["key"] in (first, second)
        assert BAD not in orjson.dumps(trace).decode()
    counted = await with_db(
        router,
        lambda db: db.fetch_all(
            "SELECT id, success_count, failure_count FROM channel_keys ORDER BY id"
        ),
    )
    by_id = {row["id"]: (row["success_count"], row["failure_count"]) for row in counted}
    assert by_id[bad][1] == len(failed_over) and by_id[bad][0] == 0
    assert by_id[first][0] + by_id[second][0] == 22


async def test_the_prober_re_enables_a_fixed_key(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake, running_router(tmp_path, fake, probe_seconds=0.3) as router:
        await with_db(router, lambda db: add_keys(db, BOX, 1, [GOOD_C]))
        await with_db(router, lambda db: update_channel(db, None, 1, key_selection="round-robin"))
        await wait_for_reload(router)
        for i in range(4):
            assert (await chat(router, f"req-{i}")).status_code == 200

        async def third_status() -> str:
            keys = await with_db(router, lambda db: list_keys(db, 1))
            return str(keys[1].status)

        await until(lambda: _is(third_status, "auto_disabled"), 5, "the bad key's disable")
        fake.other_keys = {GOOD_C}  # the operator fixed the account
        await until(lambda: _is(third_status, "enabled"), 5, "the probe's re-enable")
        probes = [bearer(r) for r in fake.requests if is_probe(r)]
        assert GOOD_C in probes
        await wait_for_reload(router)
        fake.requests.clear()
        for i in range(4):
            assert (await chat(router, f"back-{i}")).status_code == 200
        assert GOOD_C in keys_seen(fake)


async def _is(read: Callable[[], Awaitable[str]], wanted: str) -> bool:
    return await read() == wanted


async def test_keys_are_picked_by_weight_within_a_channel(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake, running_router(tmp_path, fake) as router:
        fake.other_keys = {GOOD_B, GOOD_C}
        await with_db(router, lambda db: add_keys(db, BOX, 1, [GOOD_B, GOOD_C]))
        first, second, _ = await key_ids(router)
        await with_db(router, lambda db: set_key_weight(db, 1, first, 0))
        await with_db(router, lambda db: set_key_weight(db, 1, second, 3))
        await wait_for_reload(router)
        for i in range(200):
            assert (await chat(router, f"w-{i}")).status_code == 200
        counts = Counter(keys_seen(fake))
        assert counts[fake.key] == 0  # weight 0: only when every other key fails
        assert counts[GOOD_B] + counts[GOOD_C] == 200
        assert 0.62 < counts[GOOD_B] / 200 < 0.88  # 3:1, i.e. 75 %


async def test_round_robin_keys_take_strict_turns(tmp_path: Path) -> None:
    async with FakeOpenAI() as fake, running_router(tmp_path, fake) as router:
        fake.other_keys = {GOOD_B, GOOD_C}
        await with_db(router, lambda db: add_keys(db, BOX, 1, [GOOD_B, GOOD_C]))
        await with_db(router, lambda db: update_channel(db, None, 1, key_selection="round-robin"))
        await wait_for_reload(router)
        for i in range(9):
            assert (await chat(router, f"rr-{i}")).status_code == 200
        seen = keys_seen(fake)
        assert Counter(seen) == {fake.key: 3, GOOD_B: 3, GOOD_C: 3}
        assert len({tuple(seen[i : i + 3]) for i in range(0, 9, 3)}) == 1  # the same turn order


async def test_a_rate_limited_key_tries_its_sibling_before_another_channel(
    tmp_path: Path,
) -> None:
    async with (
        FakeOpenAI() as fake,
        FakeOpenAI() as other,
        running_router(tmp_path, fake) as router,
    ):
        fake.other_keys = {GOOD_B}
        await with_db(router, lambda db: add_keys(db, BOX, 1, [GOOD_B]))
        await with_db(
            router,
            lambda db: add_channel(
                db, BOX, type="openai", name="spare", key=other.key, base_url=other.base_url,
                models=["gpt-4"], priority=-1,
            ),
        )  # fmt: skip
        await wait_for_reload(router)
        fake.fail_with(429, "Rate limit reached for requests", times=1)
        answer = await chat(router, "limited")
        assert answer.status_code == 200
        assert len(other.requests) == 0
        assert sorted(keys_seen(fake)) == sorted([fake.key, GOOD_B])
    rows = await logged_rows(router.db_url)
    trace = orjson.loads(rows[-1]["route"])
    assert [(a["id"], a["status"]) for a in trace["attempts"]] == [(1, 429), (1, 200)]
    assert trace["attempts"][0]["key"] != trace["attempts"][1]["key"]
