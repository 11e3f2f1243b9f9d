"""`burncloud route explain` on requests a real router failed over, and `route dry-run`."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import Result

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.fleet.shared_state import STATE_FILE_ENV, MmapState
from burncloud.services.channels import add_channel
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    free_port,
    running_router,
    wait_for_reload,
)

KEY = "sk-upstream-Zq7DistinctivePlaintextKey-8842"
NO_BREAKERS = "no router shares breaker state on this machine: breakers not shown"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """The CLI works on the database the test router (router_harness) uses."""
    return f"sqlite:///{tmp_path}/router.db"


async def add(router: RunningRouter, name: str, base_url: str, priority: int) -> int:
    db = await open_database(router.db_url)
    try:
        channel = await add_channel(
            db,
            SecretBox.from_passphrase(SECRET),
            type="openai",
            name=name,
            key="sk-canary-upstream",
            base_url=base_url,
            models=["gpt-4"],
            priority=priority,
        )
    finally:
        await db.close()
    return channel.id


async def send(router: RunningRouter, request_ids: list[str], model: str = "gpt-4") -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        for request_id in request_ids:
            await http.post(
                f"{router.base_url}/chat/completions",
                json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {router.key}", "x-request-id": request_id},
            )


async def failover_story(tmp_path: Path) -> None:
    """Channel 3 'dead' (priority 20, nothing listening), channel 2 'flaky' (priority 10,
    answers 500) and channel 1 'fake' (healthy): why-1..3 fail over twice, then both
    breakers are open and why-4 skips them; why-refused asks for a model nobody serves."""
    async with FakeOpenAI() as healthy, FakeOpenAI() as flaky:
        flaky.fail_with(500, "flaky is down")
        async with running_router(tmp_path, healthy) as router:
            await add(router, "flaky", flaky.base_url, 10)
            await add(router, "dead", f"http://127.0.0.1:{free_port()}/v1", 20)
            await wait_for_reload(router)
            await send(router, ["why-1", "why-2", "why-3", "why-4"])
            await send(router, ["why-refused"], model="gpt-nope")
        assert (flaky.request_count, healthy.request_count) == (3, 4)


def without_ms(text: str) -> str:
    return re.sub(r" in \d+ ms", " in N ms", text)


def assert_one_line_error(result: Result, message: str) -> None:
    assert result.exit_code == 1
    assert result.stderr == f"error: {message}\n"
    assert result.stdout == ""


def test_explain_shows_candidates_skips_and_attempts(tmp_path, cli) -> None:
    asyncio.run(failover_story(tmp_path))
    first = cli("route", "explain", "why-1")
    assert first.exit_code == 0, first.output
    assert without_ms(first.stdout) == (
        "request why-1: model gpt-4, status 200\n"
        "candidates, in the order chosen:\n"
        "id\tname\tpriority\tweight\n"
        "3\tdead\t20\t1\n"
        "2\tflaky\t10\t1\n"
        "1\tfake\t0\t1\n"
        "attempt 1: channel 3 (dead) key 3 -> no answer in N ms:"
        " upstream channel 'dead' is unreachable\n"
        "attempt 2: channel 2 (flaky) key 2 -> 500 in N ms:"
        " upstream error (HTTP 500): flaky is down\n"
        "attempt 3: channel 1 (fake) key 1 -> 200 in N ms: ok\n"
    )
    fourth = cli("route", "explain", "why-4")
    assert without_ms(fourth.stdout).endswith(
        "skipped channel 3 (dead) key 3: breaker open, retry in 5 s\n"
        "skipped channel 2 (flaky) key 2: breaker open, retry in 5 s\n"
        "attempt 1: channel 1 (fake) key 1 -> 200 in N ms: ok\n"
    )
    refused = cli("route", "explain", "why-refused")
    assert refused.stdout == (
        "request why-refused: model gpt-nope, status 404\n"
        "error: no channel serves model 'gpt-nope'\n"
        "no routing decision was recorded (refused before routing)\n"
    )


def test_explain_json_lists_every_attempt_in_order(tmp_path, cli_json) -> None:
    asyncio.run(failover_story(tmp_path))
    found: Any = cli_json("route", "explain", "why-1")
    timings = [attempt.pop("ms") for attempt in found["attempts"]]
    assert all(isinstance(ms, int) and ms >= 0 for ms in timings)
    assert found == {
        "request_id": "why-1",
        "model": "gpt-4",
        "status": 200,
        "error": "",
        "candidates": [
            {"id": 3, "priority": 20, "weight": 1, "name": "dead"},
            {"id": 2, "priority": 10, "weight": 1, "name": "flaky"},
            {"id": 1, "priority": 0, "weight": 1, "name": "fake"},
        ],
        "skipped": [],
        "attempts": [
            {
                "id": 3,
                "key": 3,
                "status": None,
                "error": "upstream channel 'dead' is unreachable",
                "name": "dead",
            },
            {
                "id": 2,
                "key": 2,
                "status": 500,
                "error": "upstream error (HTTP 500): flaky is down",
                "name": "flaky",
            },
            {"id": 1, "key": 1, "status": 200, "name": "fake"},
        ],
        "notes": [],
        "affinity": None,
    }
    fourth: Any = cli_json("route", "explain", "why-4")
    assert fourth["skipped"] == [
        {"id": 3, "key": 3, "reason": "breaker open, retry in 5 s", "name": "dead"},
        {"id": 2, "key": 2, "reason": "breaker open, retry in 5 s", "name": "flaky"},
    ]


def test_explain_of_an_unknown_request_is_a_one_line_error(cli, bootstrapped) -> None:
    assert_one_line_error(cli("route", "explain", "nope"), "no logged request with id 'nope'")


def channel(cli, name: str, *args: str) -> int:
    base = ("channel", "add", "--type", "openai", "--name", name, "--key", KEY)
    result = cli(*base, "--models", "gpt-4", *args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)["id"]


@pytest.fixture
def four_channels(cli, bootstrapped) -> None:
    """main (weight 3) and side (weight 1) share the top tier, spare is a fallback tier,
    off (weight 5) is disabled by an operator."""
    assert channel(cli, "main", "--weight", "3") == 1
    assert channel(cli, "side") == 2
    assert channel(cli, "spare", "--priority", "-1") == 3
    assert channel(cli, "off", "--weight", "5") == 4
    assert cli("channel", "disable", "4", "--reason", "maintenance").exit_code == 0


def test_dry_run_shows_first_pick_shares_by_weight(cli, four_channels) -> None:
    result = cli("route", "dry-run", "--model", "gpt-4")
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "model gpt-4, group default\n"
        "id\tname\ttype\tpriority\tweight\tusable\tfirst pick\tstate\n"
        "1\tmain\topenai\t0\t3\tyes\t75.0%\tenabled\n"
        "2\tside\topenai\t0\t1\tyes\t25.0%\tenabled\n"
        "4\toff\topenai\t0\t5\tno\t0.0%\tdisabled by an operator: maintenance\n"
        "3\tspare\topenai\t-1\t1\tyes\t0.0%\tenabled\n"
        f"{NO_BREAKERS}\n"
    )
    assert KEY not in result.output


OFF = {"status": "disabled", "reason": "disabled by an operator: maintenance"}


def test_dry_run_json(cli_json, four_channels) -> None:
    def row(cid: int, name: str, prio: int, weight: int, **rest: Any) -> dict[str, Any]:
        fields = {"status": "enabled", "usable": True, "reason": "enabled", "served": "untouched"}
        fields.update(rest)
        return {
            "id": cid,
            "name": name,
            "type": "openai",
            "priority": prio,
            "weight": weight,
            **fields,
        }

    assert cli_json("route", "dry-run", "--model", "gpt-4") == {
        "model": "gpt-4",
        "group": "default",
        "breakers_known": False,
        "channels": [
            row(1, "main", 0, 3, share=0.75),
            row(2, "side", 0, 1, share=0.25),
            row(4, "off", 0, 5, share=0.0, usable=False, **OFF),
            row(3, "spare", -1, 1, share=0.0),
        ],
    }


def test_dry_run_with_a_token_routes_as_its_group(cli, cli_json, four_channels) -> None:
    assert cli("group", "set", "vip", "--ratio", "0.5").exit_code == 0
    assert cli("user", "add", "bob", "--group", "vip").exit_code == 0
    assert channel(cli, "vip-only", "--group", "vip") == 5
    token: Any = cli_json("token", "create", "--name", "bob-app", "--user", "bob")
    found: Any = cli_json("route", "dry-run", "--model", "gpt-4", "--token", str(token["id"]))
    assert (found["group"], [(c["id"], c["share"]) for c in found["channels"]]) == (
        "vip",
        [(5, 1.0)],
    )
    default: Any = cli_json("route", "dry-run", "--model", "gpt-4")
    assert 5 not in [c["id"] for c in default["channels"]]


def test_dry_run_of_an_unserved_model_is_a_one_line_error(cli, four_channels) -> None:
    assert_one_line_error(
        cli("route", "dry-run", "--model", "gpt-nope"),
        "no channel serves model 'gpt-nope' for group 'default'",
    )


async def trip_breaker(tmp_path: Path) -> None:
    """Three 500s from channel 2 (priority 10) open its breaker in the shared state."""
    async with FakeOpenAI() as healthy, FakeOpenAI() as flaky:
        flaky.fail_with(500)
        async with running_router(tmp_path, healthy) as router:
            await add(router, "flaky", flaky.base_url, 10)
            await wait_for_reload(router)
            await send(router, ["t1", "t2", "t3"])
        assert flaky.request_count == 3


def test_dry_run_shows_breakers_from_a_routers_state_file(tmp_path, monkeypatch, cli_json) -> None:
    state = tmp_path / "shared.state"
    MmapState.create(state).close()
    monkeypatch.setenv(STATE_FILE_ENV, str(state))  # the router and the CLI both use it
    asyncio.run(trip_breaker(tmp_path))
    found: Any = cli_json("route", "dry-run", "--model", "gpt-4")
    assert found["breakers_known"] is True
    flaky, fake = found["channels"]
    assert (flaky["id"], flaky["usable"], flaky["share"]) == (2, False, 0.0)
    assert re.fullmatch(r"breaker open, retry in [45] s", flaky["reason"])
    assert (fake["id"], fake["usable"], fake["share"], fake["reason"]) == (1, True, 1.0, "healthy")
