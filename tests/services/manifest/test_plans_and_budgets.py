"""Plans and budgets in the manifest: read as stored (never what their windows spent),
planned line by line, applied through services.plans and services.budgets in one
transaction (a budget's new amount moves its current window and keeps what it spent),
users moved between plans, the default plan, renames and prune; export then apply is a
no-op, on SQLite and on PostgreSQL (BURNCLOUD_TEST_ENGINE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from burncloud.db import Database, open_database
from burncloud.errors import InvalidRequest
from burncloud.money import parse_usd
from burncloud.services import budgets, plans
from burncloud.services.bootstrap import ensure_admin
from burncloud.services.budgets import PLAN, TOKEN, USER, BudgetSpec
from burncloud.services.manifest.apply import apply_plan
from burncloud.services.manifest.budget_lists import sorted_budgets
from burncloud.services.manifest.codec import dump_manifest, load_manifest, manifest_data
from burncloud.services.manifest.model import Manifest, PlanSpec, UserSpec
from burncloud.services.manifest.plan import plan_changes
from burncloud.services.manifest.read import read_manifest
from burncloud.services.settings import get_setting, read_config_version
from tests.conftest import ON_POSTGRES
from tests.services.manifest.stored import BOX, rows, seed_plans

NOON = 1_796_644_800  # 2026-12-07T12:00:00Z


@pytest.fixture
async def other_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A second, empty database of the same engine as ``db``'s."""
    if ON_POSTGRES:
        from tests.gateway.quota_db import _drop_schema, _new_schema

        url = await _new_schema()
    else:
        url = f"sqlite:///{tmp_path}/other.db"
    database = await open_database(url)
    try:
        yield database
    finally:
        await database.close()
        if ON_POSTGRES:
            await _drop_schema(url)


async def stored(db: Database) -> tuple[Manifest, dict[str, int]]:
    """The seeded database with plans and budgets as a manifest, and the ids made."""
    made = await seed_plans(db)
    return await read_manifest(db, BOX, with_keys=True), made


async def lines(db: Database, desired: Manifest, *, prune: bool = True) -> list[str]:
    plan = await plan_changes(db, BOX, desired, prune=prune)
    return [change.line() for change in plan.changes]


async def apply(db: Database, desired: Manifest, *, prune: bool = True) -> None:
    await apply_plan(db, BOX, await plan_changes(db, BOX, desired, prune=prune))


def parsed(*texts: str) -> tuple[BudgetSpec, ...]:
    return sorted_budgets(BudgetSpec.parse(text) for text in texts)


async def stored_budgets(db: Database, scope: str, owner: int) -> set[str]:
    """An owner's budgets as ``period model amount`` lines."""
    found = await budgets.list_budgets(db, scope, owner)
    return {f"{rule.period} {rule.model or '*'} {rule.amount // 10**9}" for rule in found}


async def spend(db: Database, window_id: int, units: int) -> None:
    await db.execute(
        "UPDATE budget_windows SET remaining = remaining - :x, used = used + :x WHERE id = :id",
        {"x": units, "id": window_id},
    )


async def test_plans_budgets_and_the_default_plan_are_read_as_stored(db: Database) -> None:
    current, _ = await stored(db)
    assert current.plans == (
        PlanSpec(name="free", budgets=parsed("1/day")),
        PlanSpec(
            name="pro",
            models=("gpt-4o",),
            rpm=60,
            group="vip",
            budgets=parsed("20/month", "5/5h", "gpt-4o=10/day"),
            default=True,
        ),
    )
    admin, alice = current.users or ()
    assert (admin.plan, admin.budgets) == (None, ())
    assert (alice.plan, alice.budgets) == ("pro", parsed("2/week"))
    admin_key, laptop = current.tokens or ()
    assert (admin_key.budgets, laptop.budgets) == ((), parsed("3/day", "gpt-4o=1/5h"))
    data = manifest_data(current, "omit")
    assert [plan["budgets"] for plan in data["plans"]] == [
        ["1/day"],
        ["5/5h", "20/month", "gpt-4o=10/day"],
    ]
    assert [user.get("plan") for user in data["users"]] == [None, "pro"]
    assert data["tokens"][1]["budgets"] == ["3/day", "gpt-4o=1/5h"]


async def test_without_plan_default_no_plan_is_the_default(db: Database) -> None:
    await seed_plans(db)
    async with db.transaction() as tx:
        await plans.set_default_plan(tx, None)
    current = await read_manifest(db, BOX, with_keys=False)
    assert [(plan.name, plan.default) for plan in current.plans or ()] == [
        ("free", False),
        ("pro", False),
    ]


async def test_what_budget_windows_spent_is_state_never_exported(db: Database) -> None:
    made = await seed_plans(db)
    before = dump_manifest(await read_manifest(db, BOX, with_keys=False), "yaml", "omit")
    owners = (
        (PLAN, made["pro"], made["alice"]),
        (USER, made["alice"], made["alice"]),
        (TOKEN, made["alice_token"], made["alice_token"]),
    )
    for scope, owner, subject in owners:
        for rule in await budgets.list_budgets(db, scope, owner):
            window = await budgets.open_window(db, rule, subject, NOON, "UTC")
            assert window is not None
            await spend(db, window.id, parse_usd("0.75"))
    assert await db.fetch_value("SELECT COUNT(*) FROM budget_windows") == 6
    after = await read_manifest(db, BOX, with_keys=False)
    assert dump_manifest(after, "yaml", "omit") == before
    assert await lines(db, after) == []


async def test_export_then_apply_on_an_empty_database_is_the_same_then_a_no_op(
    db: Database, other_db: Database
) -> None:
    await seed_plans(db)
    text = dump_manifest(await read_manifest(db, BOX, with_keys=True), "yaml", "plain")
    await ensure_admin(other_db)
    await apply(other_db, load_manifest(text, "yaml", {}))
    assert await lines(other_db, load_manifest(text, "yaml", {})) == []
    moved = dump_manifest(await read_manifest(other_db, BOX, with_keys=True), "yaml", "plain")
    assert moved == text

    version = await read_config_version(other_db)
    plan = await plan_changes(other_db, BOX, load_manifest(moved, "yaml", {}), prune=True)
    assert plan.is_empty
    await apply_plan(other_db, BOX, plan)
    assert await read_config_version(other_db) == version  # nothing written


async def test_every_plan_and_budget_change_has_its_line_in_apply_order(db: Database) -> None:
    current, _ = await stored(db)
    free, pro = current.plans or ()
    admin, alice = current.users or ()
    admin_key, laptop = current.tokens or ()
    desired = replace(
        current,
        plans=(
            replace(free, default=True),
            replace(pro, rpm=None, budgets=parsed("30/month", "gpt-4o=10/day"), default=False),
            PlanSpec(name="team", group="vip", budgets=parsed("50/month")),
        ),
        users=(admin, replace(alice, plan="team", budgets=())),
        tokens=(admin_key, replace(laptop, budgets=parsed("3/day", "4/week", "gpt-4o=2/5h"))),
    )
    assert await lines(db, desired) == [
        "~ plan free: default false -> true",
        "~ plan pro: rpm 60 -> -, budgets 5/5h,20/month,gpt-4o=10/day ->"
        " 30/month,gpt-4o=10/day, default true -> false",
        "+ plan team",
        "~ user alice: plan pro -> team, budgets 2/week -> -",
        "~ token alice/laptop: budgets 3/day,gpt-4o=1/5h -> 3/day,4/week,gpt-4o=2/5h",
    ]


async def test_apply_creates_changes_and_removes_plans_and_budgets(db: Database) -> None:
    current, made = await stored(db)
    free, pro = current.plans or ()
    admin, alice = current.users or ()
    admin_key, laptop = current.tokens or ()
    desired = replace(
        current,
        plans=(
            replace(free, default=True),
            replace(pro, rpm=None, budgets=parsed("30/month", "gpt-4o=10/day"), default=False),
            PlanSpec(name="team", models=("gpt-4o", "o3"), group="vip", budgets=parsed("50/month")),
        ),
        users=(admin, replace(alice, plan="team", budgets=())),
        tokens=(admin_key, replace(laptop, budgets=parsed("3/day", "4/week", "gpt-4o=2/5h"))),
    )
    await apply(db, desired)
    assert await lines(db, desired) == []

    team = await plans.get_plan(db, "team")
    assert (team.models, team.group) == (("gpt-4o", "o3"), "vip")
    assert await stored_budgets(db, PLAN, team.id) == {"month * 50"}
    changed = await plans.get_plan(db, "pro")
    assert (changed.id, changed.rpm, changed.models) == (made["pro"], None, ("gpt-4o",))
    assert await stored_budgets(db, PLAN, made["pro"]) == {"month * 30", "day gpt-4o 10"}
    default = await plans.default_plan(db)
    assert default is not None and default.id == made["free"]
    on = await plans.plan_of_user(db, made["alice"])
    assert on is not None and on.id == team.id
    assert await stored_budgets(db, USER, made["alice"]) == set()
    assert await stored_budgets(db, TOKEN, made["alice_token"]) == {
        "day * 3",
        "week * 4",
        "5h gpt-4o 2",
    }


async def test_a_new_amount_moves_the_current_window_and_keeps_what_it_spent(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budgets, "clock_now", lambda: NOON)  # when apply sets the amount
    monkeypatch.setattr(plans, "now", lambda: NOON)
    current, made = await stored(db)
    [rule] = [r for r in await budgets.list_budgets(db, PLAN, made["pro"]) if r.period == "5h"]
    past = {"b": rule.id, "s": made["alice"], "x": parse_usd("5"), "end": NOON - 3 * 3600}
    await db.execute(
        "INSERT INTO budget_windows"
        " (budget_id, subject_id, seq, starts_at, ends_at, amount, remaining, used)"
        " VALUES (:b, :s, 1, :end - 18000, :end, :x, 0, :x)",
        past,
    )  # spent in full, five hours that ended three hours ago
    window = await budgets.open_window(db, rule, made["alice"], NOON, "UTC")
    assert window is not None and window.starts_at == NOON
    await spend(db, window.id, parse_usd("2"))

    free, pro = current.plans or ()
    raised = replace(pro, budgets=parsed("8/5h", "20/month", "gpt-4o=10/day"))
    desired = replace(current, plans=(free, raised))
    assert await lines(db, desired) == [
        "~ plan pro: budgets 5/5h,20/month,gpt-4o=10/day -> 8/5h,20/month,gpt-4o=10/day"
    ]
    await apply(db, desired)
    found = await db.fetch_all(
        "SELECT budget_id, seq, amount, remaining, used FROM budget_windows ORDER BY seq"
    )
    five = parse_usd("5")
    assert [tuple(row.values()) for row in found] == [
        (rule.id, 1, five, 0, five),  # a past window is history: untouched
        (rule.id, 2, parse_usd("8"), parse_usd("6"), parse_usd("2")),  # 3 left + 3 more
    ]

    dropped = replace(current, plans=(free, replace(pro, budgets=parsed("20/month"))))
    await apply(db, dropped)
    assert await db.fetch_value("SELECT COUNT(*) FROM budget_windows") == 0
    assert await stored_budgets(db, PLAN, made["pro"]) == {"month * 20"}


async def test_users_move_between_plans_and_new_users_are_on_the_plan_the_file_says(
    db: Database,
) -> None:
    current, made = await stored(db)
    admin, alice = current.users or ()
    desired = replace(
        current,
        users=(
            admin,
            replace(alice, plan="free"),
            UserSpec(name="bob", budgets=parsed("1/day")),  # no plan, though pro is the default
            UserSpec(name="carol", plan="pro"),
        ),
    )
    assert await lines(db, desired) == [
        "~ user alice: plan pro -> free",
        "+ user bob",
        "+ user carol",
    ]
    await apply(db, desired)
    assert await lines(db, desired) == []
    users = {
        user.name: user for user in (await read_manifest(db, BOX, with_keys=False)).users or ()
    }
    assert [(name, users[name].plan) for name in sorted(users)] == [
        ("admin", None),
        ("alice", "free"),
        ("bob", None),
        ("carol", "pro"),
    ]
    assert users["bob"].budgets == parsed("1/day")

    off = replace(desired, users=(admin, replace(alice, plan=None), *(desired.users or ())[2:]))
    await apply(db, off)
    assert await plans.plan_of_user(db, made["alice"]) is None


async def test_the_default_plan_moves_and_goes_as_the_file_says(db: Database) -> None:
    current, _ = await stored(db)
    free, pro = current.plans or ()
    unmarked = replace(current, plans=(free, replace(pro, default=False)))
    assert await lines(db, unmarked) == ["~ plan pro: default true -> false"]
    await apply(db, unmarked)
    assert await get_setting(db, plans.DEFAULT_PLAN_SETTING) is None
    await apply(db, current)
    assert await get_setting(db, plans.DEFAULT_PLAN_SETTING) == "pro"

    team = PlanSpec(name="team", default=True)
    moved = replace(current, plans=(free, replace(pro, default=False), team))
    assert await lines(db, moved) == ["~ plan pro: default true -> false", "+ plan team: default"]
    await apply(db, moved)
    assert await get_setting(db, plans.DEFAULT_PLAN_SETTING) == "team"
    assert await lines(db, moved) == []


async def test_a_renamed_plan_keeps_its_id_users_budgets_and_being_the_default(
    db: Database,
) -> None:
    current, made = await stored(db)
    free, pro = current.plans or ()
    admin, alice = current.users or ()
    renamed = replace(pro, name="max", renamed_from="pro")
    desired = replace(current, plans=(free, renamed), users=(admin, replace(alice, plan="max")))
    assert await lines(db, desired) == ["~ plan pro -> max (renamed)"]
    await apply(db, desired)
    assert await lines(db, desired) == []  # the file keeps renamed_from: still nothing
    plan = await plans.get_plan(db, "max")
    assert plan.id == made["pro"] and len(plan.budgets) == 3
    on = await plans.plan_of_user(db, made["alice"])
    assert on is not None and on.id == made["pro"]
    default = await plans.default_plan(db)
    assert default is not None and default.name == "max"

    # Users the file does not manage follow a rename by the plan's id.
    again = Manifest(plans=(free, replace(renamed, name="ultra", renamed_from="max")))
    assert await lines(db, again) == ["~ plan max -> ultra (renamed)"]
    await apply(db, again)
    assert (await read_manifest(db, BOX, with_keys=False)).users == replace(
        current, users=(admin, replace(alice, plan="ultra"))
    ).users


async def test_prune_deletes_plans_and_what_it_deletes_takes_its_budgets_along(
    db: Database,
) -> None:
    current, _ = await stored(db)
    admin, _alice = current.users or ()
    admin_key, _laptop = current.tokens or ()
    desired = replace(current, plans=(), users=(admin,), tokens=(admin_key,))
    assert await lines(db, desired, prune=False) == []
    assert await lines(db, desired) == [
        "- token alice/laptop",
        "- user alice",
        "- plan free",
        "- plan pro",
    ]
    await apply(db, desired)
    assert await lines(db, desired) == []
    assert await db.fetch_value("SELECT COUNT(*) FROM plans") == 0
    assert await db.fetch_value("SELECT COUNT(*) FROM budgets") == 0
    assert await get_setting(db, plans.DEFAULT_PLAN_SETTING) is None


async def test_a_plan_pruned_under_users_the_file_does_not_manage_leaves_them_on_none(
    db: Database,
) -> None:
    current, made = await stored(db)
    free, _pro = current.plans or ()
    desired = Manifest(plans=(free,))
    assert await lines(db, desired) == ["- plan pro"]
    await apply(db, desired)
    assert await plans.plan_of_user(db, made["alice"]) is None
    assert await get_setting(db, plans.DEFAULT_PLAN_SETTING) is None


async def test_sections_that_are_absent_leave_plans_and_budgets_alone(db: Database) -> None:
    current, _ = await stored(db)
    assert await lines(db, Manifest(users=current.users, tokens=current.tokens)) == []
    assert await lines(db, Manifest(groups=current.groups)) == []


async def test_a_wrong_plan_or_budget_is_refused_before_anything_is_written(
    db: Database,
) -> None:
    current, _ = await stored(db)
    free, pro = current.plans or ()
    admin, alice = current.users or ()
    admin_key, laptop = current.tokens or ()
    [main] = current.channels or ()
    refusals = [
        (
            replace(current, plans=(free,)),
            "user 'alice': no plan 'pro' (add it to plans)",
        ),
        (
            Manifest(users=(admin, replace(alice, plan="gold"))),
            "user 'alice': no plan 'gold' (add it to plans)",
        ),
        (
            replace(
                current,
                groups={"default": Decimal(1)},
                users=(admin, replace(alice, group="default")),
                channels=(replace(main, groups=("default",)),),
            ),
            "plan 'pro': no group 'vip' (add it to groups)",
        ),
        (
            Manifest(plans=(replace(free, default=True), pro)),
            "plans 'free' and 'pro' are both the default (one plan at most)",
        ),
        (
            Manifest(plans=(pro, replace(free, name="max", renamed_from="pro"))),
            "plan 'max': renamed_from 'pro', which another plan of the file already is",
        ),
        (
            Manifest(tokens=(admin_key, replace(laptop, budgets=parsed("1/day", "2/1d")))),
            "token alice/laptop: a second daily budget (one per period and model)",
        ),
        (
            Manifest(plans=(free, replace(pro, budgets=(BudgetSpec(-1, "day"),)))),
            "plan 'pro': a budget cannot be negative: remove it to lift the limit",
        ),
        (
            Manifest(users=(admin, replace(alice, budgets=(BudgetSpec(1, "fortnight"),)))),
            "user 'alice': unknown budget period 'fortnight': use day, week, month or a"
            " number of hours such as 5h",
        ),
    ]
    before = await rows(db)
    for desired, message in refusals:
        with pytest.raises(InvalidRequest) as caught:
            await plan_changes(db, BOX, desired, prune=True)
        assert caught.value.message == message, message
    assert await rows(db) == before


async def test_one_refused_write_undoes_the_plans_and_budgets_written_before_it(
    db: Database,
) -> None:
    current, _ = await stored(db)
    admin, alice = current.users or ()
    free, pro = current.plans or ()
    before = await rows(db)
    desired = replace(
        current,
        plans=(free, replace(pro, budgets=parsed("99/month")), PlanSpec("team")),
        users=(
            admin,
            replace(alice, plan="team", budgets=parsed("9/day")),
            UserSpec("zoe", invite_code=admin.invite_code),  # refused when written
        ),
    )
    plan = await plan_changes(db, BOX, desired, prune=False)
    with pytest.raises(InvalidRequest, match="is taken by user 'admin'"):
        await apply_plan(db, BOX, plan)
    assert await rows(db) == before
