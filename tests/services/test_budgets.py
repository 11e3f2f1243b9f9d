"""Budget rules and their windows, and plans, in the database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest

from burncloud.db import Database
from burncloud.errors import InvalidRequest, NotFound
from burncloud.money import parse_usd
from burncloud.services import budgets, plans
from burncloud.services.budgets import PLAN, TOKEN, USER, BudgetSpec
from burncloud.services.settings import read_config_version
from burncloud.services.tokens import create_token
from burncloud.services.users import create_user, delete_user

NOON = 1_796_644_800  # 2026-12-07T12:00:00Z
USD = parse_usd("1")


async def new_token(db: Database, user: str = "alice") -> tuple[int, int]:
    async with db.transaction() as tx:
        owner = await create_user(tx, name=user)
    token, _ = await create_token(db, "k", user_ref=owner.id)
    return token.id, owner.id


async def set_budget(db: Database, scope: str, sid: int, usd: str, period: str, model: str = ""):
    async with db.transaction() as tx:
        return await budgets.set_budget(tx, scope, sid, parse_usd(usd), period, model, now=NOON)


async def window_rows(db: Database) -> list[dict]:
    rows = await db.fetch_all("SELECT * FROM budget_windows ORDER BY id")
    return [dict(row) for row in rows]


async def test_a_budget_is_set_then_changed_in_place_and_bumps_the_config(db: Database) -> None:
    token_id, _ = await new_token(db)
    before = await read_config_version(db)
    first = await set_budget(db, TOKEN, token_id, "20", "monthly")
    again = await set_budget(db, TOKEN, token_id, "30", "month")
    assert first.id == again.id and again.amount == 30 * USD and again.period == "month"
    assert await read_config_version(db) > before
    assert [rule.amount for rule in await budgets.list_budgets(db, TOKEN, token_id)] == [30 * USD]


async def test_budgets_of_other_periods_and_models_live_side_by_side(db: Database) -> None:
    token_id, _ = await new_token(db)
    await set_budget(db, TOKEN, token_id, "20", "month")
    await set_budget(db, TOKEN, token_id, "5", "5h")
    await set_budget(db, TOKEN, token_id, "2", "day", "gpt-4o")
    listed = await budgets.list_budgets(db, TOKEN, token_id)
    assert {(rule.period, rule.model) for rule in listed} == {
        ("month", ""),
        ("5h", ""),
        ("day", "gpt-4o"),
    }
    model_rule = next(rule for rule in listed if rule.model)
    assert model_rule.applies_to("gpt-4o") and not model_rule.applies_to("gpt-4o-mini")


async def test_a_budget_for_something_missing_or_negative_is_refused(db: Database) -> None:
    with pytest.raises(NotFound):
        await set_budget(db, TOKEN, 999, "1", "day")
    token_id, _ = await new_token(db)
    async with db.transaction() as tx:
        with pytest.raises(InvalidRequest, match="negative"):
            await budgets.set_budget(tx, TOKEN, token_id, -1, "day")
    with pytest.raises(InvalidRequest, match="period"):
        await set_budget(db, TOKEN, token_id, "1", "fortnight")


async def test_a_calendar_window_opens_once_however_many_open_it_at_once(db: Database) -> None:
    token_id, _ = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "5", "day")
    opened = await asyncio.gather(
        *(budgets.open_window(db, rule, token_id, NOON + i, "UTC") for i in range(8))
    )
    assert len({window.id for window in opened if window is not None}) == 1
    (row,) = await window_rows(db)
    assert row["starts_at"] == NOON - 12 * 3600 and row["ends_at"] == NOON + 12 * 3600
    assert row["amount"] == row["remaining"] == 5 * USD and row["used"] == 0
    tomorrow = await budgets.open_window(db, rule, token_id, NOON + 12 * 3600, "UTC")
    assert tomorrow is not None and tomorrow.id != opened[0].id  # type: ignore[union-attr]


async def test_a_5_hour_window_starts_with_the_first_request_after_the_last_ended(
    db: Database,
) -> None:
    token_id, _ = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "5", "5h")
    first = await budgets.open_window(db, rule, token_id, NOON + 1000, "UTC")
    same = await budgets.open_window(db, rule, token_id, NOON + 1000 + 5 * 3600 - 1, "UTC")
    assert first is not None and same == first
    assert (first.starts_at, first.ends_at) == (NOON + 1000, NOON + 1000 + 5 * 3600)
    later = NOON + 9 * 3600  # idle for 4 hours after the first window ended
    second = await budgets.open_window(db, rule, token_id, later, "UTC")
    assert second is not None and (second.starts_at, second.ends_at) == (later, later + 5 * 3600)
    racing = await asyncio.gather(
        *(budgets.open_window(db, rule, token_id, later + 5 * 3600 + i, "UTC") for i in range(5))
    )
    assert len({window.id for window in racing if window is not None}) == 1
    assert [row["seq"] for row in await window_rows(db)] == [1, 2, 3]


async def test_windows_are_per_subject(db: Database) -> None:
    _, alice = await new_token(db, "alice")
    _, bob = await new_token(db, "bob")
    async with db.transaction() as tx:
        plan = await plans.create_plan(tx, "pro", budgets=[BudgetSpec.parse("10/day")])
    (rule,) = plan.budgets
    a = await budgets.open_window(db, rule, alice, NOON, "UTC")
    b = await budgets.open_window(db, rule, bob, NOON, "UTC")
    assert a is not None and b is not None and a.id != b.id


async def test_changing_the_amount_moves_the_current_windows_remaining(db: Database) -> None:
    token_id, _ = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "10", "day")
    window = await budgets.open_window(db, rule, token_id, NOON, "UTC")
    assert window is not None
    await db.execute(
        "UPDATE budget_windows SET remaining = remaining - :x, used = :x WHERE id = :id",
        {"x": 4 * USD, "id": window.id},
    )
    await set_budget(db, TOKEN, token_id, "15", "day")
    (row,) = await window_rows(db)
    assert (row["amount"], row["remaining"], row["used"]) == (15 * USD, 11 * USD, 4 * USD)
    await set_budget(db, TOKEN, token_id, "3", "day")  # below what was spent: nothing left
    (row,) = await window_rows(db)
    assert (row["amount"], row["remaining"]) == (3 * USD, 0)


async def test_an_ended_window_keeps_its_amount_when_the_budget_changes(db: Database) -> None:
    token_id, _ = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "10", "day")
    await budgets.open_window(db, rule, token_id, NOON - 86400, "UTC")  # yesterday's
    await set_budget(db, TOKEN, token_id, "20", "day")
    (row,) = await window_rows(db)
    assert row["amount"] == 10 * USD


async def test_removing_a_budget_removes_its_windows_and_a_later_open_finds_none(
    db: Database,
) -> None:
    token_id, _ = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "10", "day")
    await budgets.open_window(db, rule, token_id, NOON, "UTC")
    async with db.transaction() as tx:
        assert await budgets.remove_budget(tx, TOKEN, token_id, "day")
        assert not await budgets.remove_budget(tx, TOKEN, token_id, "day")
    assert await window_rows(db) == []
    assert await budgets.open_window(db, rule, token_id, NOON, "UTC") is None
    assert await window_rows(db) == []


async def test_the_snapshot_reads_no_budget_of_a_deleted_token(db: Database) -> None:
    token_id, user_id = await new_token(db)
    await set_budget(db, TOKEN, token_id, "10", "day")
    await set_budget(db, USER, user_id, "50", "month")
    await db.execute("DELETE FROM tokens WHERE id = :id", {"id": token_id})
    assert [rule.scope for rule in await budgets.load_budgets(db)] == [USER]


async def test_current_windows_show_use_without_opening_any(db: Database) -> None:
    token_id, user_id = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "10", "day")
    await set_budget(db, USER, user_id, "3", "5h")
    pairs = await budgets.budgets_of_token(db, token_id, user_id, None)
    uses = await budgets.current_windows(db, pairs, NOON, "UTC")
    assert [use.window for use in uses] == [None, None] and await window_rows(db) == []
    window = await budgets.open_window(db, rule, token_id, NOON, "UTC")
    await db.execute("UPDATE budget_windows SET used = 7 WHERE id = :id", {"id": window.id})  # type: ignore[union-attr]
    (day, _) = await budgets.current_windows(db, pairs, NOON, "UTC")
    assert day.used == 7 and day.to_json()["resets_at"] == NOON + 12 * 3600


# -- plans ------------------------------------------------------------------------------


async def test_a_plan_bundles_budgets_models_limits_and_a_group(db: Database) -> None:
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO user_groups (name, ratio, updated_at) VALUES ('pro', '0.5', 0)"
        )
        plan = await plans.create_plan(
            tx,
            "coding",
            budgets=[BudgetSpec.parse("20/month"), BudgetSpec.parse("5/5h")],
            models=["gpt-4o", "claude-sonnet-4"],
            rpm=60,
            tpm=100_000,
            group="pro",
        )
    assert plan.models == ("gpt-4o", "claude-sonnet-4") and plan.group == "pro"
    assert sorted(rule.period for rule in plan.budgets) == ["5h", "month"]
    assert plan.allows("gpt-4o") and not plan.allows("o3")
    assert (await plans.get_plan(db, "coding")) == plan == await plans.get_plan(db, str(plan.id))


async def test_plan_values_are_checked(db: Database) -> None:
    async with db.transaction() as tx:
        with pytest.raises(InvalidRequest, match="unknown group"):
            await plans.create_plan(tx, "a", group="nope")
        with pytest.raises(InvalidRequest, match="rpm"):
            await plans.create_plan(tx, "a", rpm=0)
        with pytest.raises(InvalidRequest, match="two month budgets"):
            await plans.create_plan(
                tx, "a", budgets=[BudgetSpec.parse("1/month"), BudgetSpec.parse("2/month")]
            )
        with pytest.raises(InvalidRequest, match="digits"):
            await plans.create_plan(tx, "42")
    async with db.transaction() as tx:
        await plans.create_plan(tx, "a")
    async with db.transaction() as tx:
        with pytest.raises(InvalidRequest, match="already exists"):
            await plans.create_plan(tx, "a")


async def test_updating_a_plan_sets_and_removes_budgets(db: Database) -> None:
    async with db.transaction() as tx:
        await plans.create_plan(tx, "p", budgets=[BudgetSpec.parse("20/month")], rpm=10)
    async with db.transaction() as tx:
        plan = await plans.update_plan(
            tx,
            "p",
            plans.PlanChanges(
                rpm=-1,
                budgets=[BudgetSpec.parse("gpt-4o=3/day")],
                drop_budgets=[BudgetSpec.removal("month")],
            ),
        )
    assert plan.rpm is None
    assert [(rule.model, rule.period) for rule in plan.budgets] == [("gpt-4o", "day")]
    async with db.transaction() as tx:
        with pytest.raises(NotFound, match="no weekly budget"):
            await plans.update_plan(
                tx, "p", plans.PlanChanges(drop_budgets=[BudgetSpec.removal("week")])
            )


async def test_assigning_and_deleting_a_plan(db: Database) -> None:
    _, alice = await new_token(db, "alice")
    async with db.transaction() as tx:
        await plans.create_plan(tx, "p", budgets=[BudgetSpec.parse("1/day")])
        await plans.assign_plan(tx, "alice", "p")
        await plans.set_default_plan(tx, "p")
    assert (await plans.plan_of_user(db, alice)).name == "p"  # type: ignore[union-attr]
    assert (await plans.default_plan(db)).name == "p"  # type: ignore[union-attr]
    async with db.transaction() as tx:
        assert await plans.delete_plan(tx, "p") == 1
    assert await plans.plan_of_user(db, alice) is None
    assert await plans.default_plan(db) is None
    assert await db.fetch_all("SELECT * FROM budgets") == []


async def test_the_default_plan_falls_back_to_the_environments(db: Database) -> None:
    _, alice = await new_token(db, "alice")
    async with db.transaction() as tx:
        await plans.create_plan(tx, "starter")
    assert (await plans.default_plan(db, "starter")).name == "starter"  # type: ignore[union-attr]
    with pytest.raises(InvalidRequest, match="default plan 'gone' does not exist"):
        await plans.default_plan(db, "gone")
    async with db.transaction() as tx:
        await plans.put_on_default_plan(tx, alice, "starter")
    assert (await plans.plan_of_user(db, alice)).name == "starter"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("20/month", BudgetSpec(20 * USD, "month")),
        ("1.5/5h", BudgetSpec(parse_usd("1.5"), "5h")),
        ("gpt-4o=10/week", BudgetSpec(10 * USD, "week", "gpt-4o")),
    ],
)
def test_budget_specs_parse(text: str, spec: BudgetSpec) -> None:
    assert BudgetSpec.parse(text) == spec


@pytest.mark.parametrize("text", ["20", "=3/day", "x/day", "-1/day", "3/year"])
def test_bad_budget_specs_are_refused(text: str) -> None:
    with pytest.raises(InvalidRequest):
        BudgetSpec.parse(text)


def test_plan_scope_is_known() -> None:
    assert PLAN in budgets.SCOPES


async def test_ended_windows_are_pruned_unless_a_router_still_leases_from_them(
    db: Database,
) -> None:
    token_id, _ = await new_token(db)
    rule = await set_budget(db, TOKEN, token_id, "10", "day")
    days = [
        await budgets.open_window(db, rule, token_id, NOON - d * 86400, "UTC") for d in range(5)
    ]
    leased = days[3]
    assert leased is not None
    await db.execute(
        "INSERT INTO quota_leases (owner, subject, subject_id, amount, expires_at)"
        " VALUES ('r', 'budget', :id, 1, 0)",
        {"id": leased.id},
    )
    assert await budgets.prune_windows(db, NOON - 86400, batch=1) == 2  # 2 and 4 days ago
    left = {row["id"] for row in await window_rows(db)}
    assert left == {days[0].id, days[1].id, leased.id}  # type: ignore[union-attr]


async def test_deleting_a_user_removes_its_budgets(db: Database) -> None:
    token_id, user_id = await new_token(db)
    await set_budget(db, USER, user_id, "5", "week")
    await db.execute("DELETE FROM tokens WHERE id = :id", {"id": token_id})
    async with db.transaction() as tx:
        await delete_user(tx, "alice")
    assert await db.fetch_all("SELECT * FROM budgets") == []
