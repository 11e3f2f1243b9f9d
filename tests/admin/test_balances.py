"""One balance: with routers holding leases, every surface reports the same quota and balance.

A lease row is taken through ``services.leases`` as a router's ledger takes it, so the
stored columns hold less than the owner can spend; the CLI, the admin API and the billing
endpoint must all report the whole (stored plus held), and ``quota show`` the held part.
Runs on SQLite, and on PostgreSQL with BURNCLOUD_TEST_ENGINE=postgresql.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import pytest

from burncloud.config import Settings
from burncloud.db import open_database
from burncloud.money import parse_usd
from burncloud.server import create_app
from burncloud.services.admin_keys import rotate_admin_key
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.leases import TOKEN, USER, take_lease
from burncloud.services.tokens import create_token
from burncloud.services.users import add_user

ROUTER = "router-a:1:0000"  # a lease owner as ``ledger.make_owner`` names one
USD = parse_usd


@dataclass(frozen=True, slots=True)
class Seeded:
    user_id: int
    token_id: int
    relay_key: str
    admin_key: str


async def _seed(db_url: str, balance: str, quota: str, held: tuple[str, str]) -> Seeded:
    """alice with ``balance`` and a key with ``quota``; a router then leases ``held``
    (user part, token part) out of them."""
    db = await open_database(db_url)
    try:
        await ensure_admin(db)
        alice = await add_user(db, name="alice", balance=USD(balance, allow_unlimited=True))
        token, key = await create_token(
            db, "app", user_ref="alice", quota_units=USD(quota, allow_unlimited=True)
        )
        for subject, owner_id, amount in ((USER, alice.id, held[0]), (TOKEN, token.id, held[1])):
            if USD(amount):
                assert await take_lease(db, ROUTER, subject, owner_id, USD(amount), 600)
        admin_key = (await rotate_admin_key(db)).key
    finally:
        await db.close()
    return Seeded(alice.id, token.id, key, admin_key)


@asynccontextmanager
async def _router(db_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The router app on the test database, without a socket."""
    secret = None if db_url.startswith("sqlite") else "test-secret"
    app = create_app(Settings(database_url=db_url, secret=secret, config_poll_seconds=0.1))
    await app.runtime.start()
    await app.control.startup()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
            yield http
    finally:
        await app.control.shutdown()
        await app.runtime.stop()


async def _api_figures(db_url: str, seeded: Seeded) -> dict[str, object]:
    """What the admin API and the billing endpoint report for alice and her key."""
    admin = {"Authorization": f"Bearer {seeded.admin_key}"}
    relay = {"Authorization": f"Bearer {seeded.relay_key}"}
    token = f"/api/tokens/{seeded.token_id}"
    async with _router(db_url) as http:
        users = (await http.get("/api/users", headers=admin)).json()["data"]
        tokens = (await http.get("/api/tokens", headers=admin)).json()["data"]
        quota = (await http.get(f"{token}/quota", headers=admin)).json()
        balance = (await http.get("/api/users/alice/balance", headers=admin)).json()
        billing = await http.get("/v1/dashboard/billing/subscription", headers=relay)
        return {
            "user list": next(u["balance"] for u in users if u["name"] == "alice"),
            "user show": (await http.get("/api/users/alice", headers=admin)).json()["balance"],
            "balance": balance["balance"],
            "balance held": balance["held_by_routers"],
            "token list": next(t["quota"] for t in tokens if t["id"] == seeded.token_id),
            "token show": (await http.get(token, headers=admin)).json()["quota"],
            "quota": quota["quota"],
            "quota held": quota["held_by_routers"],
            "billing": billing.json()["hard_limit_usd"],
        }


def _cli_figures(cli_json: Callable[..., object], seeded: Seeded) -> dict[str, object]:
    """What the CLI reports for alice and her key."""
    token_id = str(seeded.token_id)
    users = cli_json("user", "list")
    tokens = cli_json("token", "list")
    balance = cli_json("quota", "show", "--user", "alice")
    quota = cli_json("quota", "show", token_id)
    assert isinstance(users, list) and isinstance(tokens, list)
    assert isinstance(balance, dict) and isinstance(quota, dict)
    return {
        "user list": next(u["balance"] for u in users if u["name"] == "alice"),
        "user show": cli_json("user", "show", "alice")["balance"],  # type: ignore[index]
        "balance": balance["balance"],
        "balance held": balance["held_by_routers"],
        "token list": next(t["quota"] for t in tokens if t["id"] == seeded.token_id),
        "token show": cli_json("token", "show", token_id)["quota"],  # type: ignore[index]
        "quota": quota["quota"],
        "quota held": quota["held_by_routers"],
    }


def _expected(balance: str, quota: str, held: tuple[str, str]) -> dict[str, object]:
    return {
        "user list": balance,
        "user show": balance,
        "balance": balance,
        "balance held": held[0],
        "token list": quota,
        "token show": quota,
        "quota": quota,
        "quota held": held[1],
    }


@pytest.mark.parametrize(
    ("balance", "quota", "held", "billing"),
    [
        ("2", "3", ("0.5", "0.75"), 2.0),  # the user's balance is the smaller side
        ("5", "1.25", ("1", "0.25"), 1.25),  # the key's quota is
        ("-1", "-1", ("0", "0"), 100_000_000.0),  # unlimited: nothing is ever leased
        ("-1", "0.5", ("0", "0.5"), 0.5),  # all of the quota sits in a lease
    ],
)
def test_every_surface_reports_the_balance_including_what_routers_hold(
    db_url: str, cli_json, balance: str, quota: str, held: tuple[str, str], billing: float
) -> None:
    seeded = asyncio.run(_seed(db_url, balance, quota, held))
    expected = _expected(balance, quota, held)
    assert _cli_figures(cli_json, seeded) == expected
    assert asyncio.run(_api_figures(db_url, seeded)) == {**expected, "billing": billing}


def test_quota_show_prints_the_held_part_on_a_terminal(db_url: str, cli) -> None:
    seeded = asyncio.run(_seed(db_url, "2", "3", ("0.5", "0.75")))
    shown = cli("quota", "show", str(seeded.token_id)).stdout
    assert "quota            3\n" in shown and "held by routers  0.75\n" in shown
    shown = cli("quota", "show", "--user", "alice").stdout
    assert "balance          2\n" in shown and "held by routers  0.5\n" in shown


def test_a_set_replaces_what_routers_hold(db_url: str, cli_json) -> None:
    seeded = asyncio.run(_seed(db_url, "2", "3", ("0.5", "0.75")))
    token_id = str(seeded.token_id)
    assert cli_json("quota", "set", token_id, "1")["quota"] == "1"  # type: ignore[index]
    assert cli_json("quota", "set", "--user", "alice", "4")["balance"] == "4"  # type: ignore[index]
    token = cli_json("quota", "show", token_id)
    user = cli_json("quota", "show", "--user", "alice")
    assert (token["quota"], token["held_by_routers"]) == ("1", "0")  # type: ignore[index]
    assert (user["balance"], user["held_by_routers"]) == ("4", "0")  # type: ignore[index]
    assert asyncio.run(_lease_rows(db_url)) == 0


def test_a_token_update_with_a_quota_replaces_what_routers_hold(db_url: str, cli, cli_json) -> None:
    seeded = asyncio.run(_seed(db_url, "2", "3", ("0", "0.75")))
    token_id = str(seeded.token_id)
    assert cli("token", "update", token_id, "--quota", "1").exit_code == 0
    assert cli_json("token", "show", token_id)["quota"] == "1"  # type: ignore[index]
    shown = cli_json("quota", "show", token_id)
    assert (shown["quota"], shown["held_by_routers"]) == ("1", "0")  # type: ignore[index]


def test_adding_keeps_the_lease_and_taking_away_may_reclaim_it(db_url: str, cli_json) -> None:
    seeded = asyncio.run(_seed(db_url, "2", "3", ("0.5", "0.75")))
    token_id = str(seeded.token_id)
    added = cli_json("quota", "add", token_id, "1")
    assert (added["quota"], added["held_by_routers"]) == ("4", "0.75")  # type: ignore[index]
    # 3.6 is more than the stored 3.25 but less than the 4 the key can spend: the lease
    # goes back to the column first, then the amount is taken away.
    taken = cli_json("quota", "add", token_id, "-3.6")
    assert (taken["quota"], taken["held_by_routers"]) == ("0.4", "0")  # type: ignore[index]
    user = cli_json("quota", "add", "--user", "alice", "-1.75")
    assert (user["balance"], user["held_by_routers"]) == ("0.25", "0")  # type: ignore[index]


async def _lease_rows(db_url: str) -> int:
    db = await open_database(db_url)
    try:
        return int(await db.fetch_value("SELECT COUNT(*) FROM quota_leases"))
    finally:
        await db.close()
