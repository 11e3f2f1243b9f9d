"""Helpers of the database-side manifest tests: a database filled through the services the
CLI uses, and every configuration row of a database, to compare before and after."""

from __future__ import annotations

from typing import Any

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.money import parse_usd
from burncloud.services import budgets, channels, invites, plans, redemptions, tokens
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.budgets import TOKEN, USER, BudgetSpec
from burncloud.services.groups import set_group
from burncloud.services.prices import save_price, set_alias, set_price
from burncloud.services.pricing import Price
from burncloud.services.users import add_user

BOX = SecretBox.from_passphrase("test-secret")
OPENAI_KEY = "sk-upstream-openai-0001"
TABLES = (
    "users",
    "tokens",
    "channels",
    "channel_keys",
    "abilities",
    "prices",
    "channel_prices",
    "price_versions",
    "user_groups",
    "redemptions",
    "settings",
    "quota_leases",
    "plans",
    "budgets",
    "budget_windows",
)


async def seed(db: Database) -> dict[str, Any]:
    """A small installation: the admin, a vip group, alice with a token, an OpenAI channel
    with a cost price, list prices with an alias, an unused code and invite rewards.
    Returns the secrets made on the way (alice's key, the code)."""
    await ensure_admin(db)
    async with db.transaction() as tx:
        await set_group(tx, "vip", "0.8")
        await set_price(tx, "gpt-4o", parse_usd("2.5"), parse_usd("10"), parse_usd("1.25"))
        await set_alias(tx, "gpt-latest", "gpt-4o")
    await add_user(db, name="alice", group="vip", balance=parse_usd("25"))
    token, key = await tokens.create_token(
        db, "laptop", user_ref="alice", quota_units=parse_usd("5"), models=["gpt-4o"]
    )
    channel = await channels.add_channel(
        db,
        BOX,
        type="openai",
        name="openai-main",
        key=OPENAI_KEY,
        models=["gpt-4o", "gpt-4o-mini"],
        groups=["default", "vip"],
    )
    async with db.transaction() as tx:
        await save_price(
            tx, Price("gpt-4o", input=parse_usd("2"), output=parse_usd("8")), channel.id
        )
    [code] = await redemptions.create_codes(db, parse_usd("5"))
    await invites.set_invite_rewards(db, inviter=parse_usd("1"), invitee=parse_usd("0.5"))
    return {"alice_key": key, "alice_token": token.id, "channel": channel.id, "code": code}


async def seed_plans(db: Database) -> dict[str, Any]:
    """``seed``, then plans and budgets: pro (the default; gpt-4o only, 60 RPM, group vip,
    20/month, 5/5h and gpt-4o=10/day) and free (1/day), alice on pro with 2/week of her
    own, her laptop token with 3/day and gpt-4o=1/5h. Returns ``seed``'s and the ids."""
    made = await seed(db)
    async with db.transaction() as tx:
        pro = await plans.create_plan(
            tx,
            "pro",
            budgets=[BudgetSpec.parse(text) for text in ("20/month", "5/5h", "gpt-4o=10/day")],
            models=["gpt-4o"],
            rpm=60,
            group="vip",
        )
        free = await plans.create_plan(tx, "free", budgets=[BudgetSpec.parse("1/day")])
        await plans.set_default_plan(tx, "pro")
        await plans.assign_plan(tx, "alice", "pro")
        alice = await tx.fetch_value("SELECT id FROM users WHERE name = 'alice'")
        await budgets.set_budget(tx, USER, alice, parse_usd("2"), "week")
        await budgets.set_budget(tx, TOKEN, made["alice_token"], parse_usd("3"), "day")
        await budgets.set_budget(tx, TOKEN, made["alice_token"], parse_usd("1"), "5h", "gpt-4o")
    return {**made, "pro": pro.id, "free": free.id, "alice": int(alice)}


async def rows(db: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every configuration table, in a fixed order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for table in TABLES:
        listed = await db.fetch_all(f"SELECT * FROM {table}")
        found[table] = sorted(listed, key=lambda row: sorted((k, str(v)) for k, v in row.items()))
    found["config_version"] = await db.fetch_all("SELECT version FROM config_version")
    return found
