"""Plans: budgets, a model allow-list, rate limits and a group shared by many users.

A user on a plan (``users.plan_id``) counts its requests against each of the plan's
budgets in windows of its own, may use only the plan's models (when it names any), gets
the plan's RPM and TPM where the user has no limit of its own, and is priced by the plan's
group when the plan names one. Nothing is copied onto the users: the router resolves a
user's plan in its snapshot, so changing a plan changes every user on it from the next
request. New users get the default plan (``plan default NAME``, else
``BURNCLOUD_DEFAULT_PLAN``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from burncloud.db.base import Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.audit import record_change, row_fields
from burncloud.services.budget_periods import describe_period, parse_period
from burncloud.services.budgets import (
    PLAN,
    BudgetRule,
    BudgetSpec,
    list_budgets,
    remove_budget,
    remove_budgets,
    set_budget,
)
from burncloud.services.clock import now
from burncloud.services.logs import MAX_BIGINT
from burncloud.services.settings import (
    bump_config_version,
    delete_setting,
    get_setting,
    set_setting,
)
from burncloud.services.tokens import parse_models, split_list
from burncloud.services.users import parse_limit, require_group, resolve_user, user_fields

DEFAULT_PLAN_SETTING = "default_plan"
_UNAUDITED = frozenset({"id", "created_at", "updated_at"})
MAX_NAME_LENGTH = 64


@dataclass(frozen=True, slots=True)
class Plan:
    id: int
    name: str
    models: tuple[str, ...]
    rpm: int | None
    tpm: int | None
    group: str | None
    budgets: tuple[BudgetRule, ...] = field(default=())

    @classmethod
    def from_row(cls, row: Row, budgets: Sequence[BudgetRule] = ()) -> Plan:
        return cls(
            id=int(row["id"]),
            name=row["name"],
            models=split_list(row["models"]),
            rpm=row["rpm"],
            tpm=row["tpm"],
            group=row["group_name"],
            budgets=tuple(budgets),
        )

    def allows(self, model: str) -> bool:
        return not self.models or model in self.models

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "models": list(self.models),
            "rpm": self.rpm,
            "tpm": self.tpm,
            "group": self.group,
            "budgets": [rule.to_json() for rule in self.budgets],
        }


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """What ``update_plan`` changes; None leaves a field as it is."""

    name: str | None = None  # a new name
    models: Sequence[str] | None = None
    rpm: int | None = None  # -1: no limit
    tpm: int | None = None
    group: str | None = None  # '': the users' own groups
    budgets: Sequence[BudgetSpec] = ()  # set (add or change)
    drop_budgets: Sequence[tuple[str, str]] = ()  # (period, model) to remove


async def create_plan(
    tx: Executor,
    name: str,
    *,
    budgets: Sequence[BudgetSpec] = (),
    models: Sequence[str] = (),
    rpm: int | None = None,
    tpm: int | None = None,
    group: str | None = None,
) -> Plan:
    """Create a plan; InvalidRequest if the name is taken or a value is invalid."""
    name = await _free_name(tx, name)
    specs = _unique(budgets)
    if group:
        await require_group(tx, group)
    at = now()
    plan_id = await tx.fetch_value(
        "INSERT INTO plans (name, models, rpm, tpm, group_name, created_at, updated_at)"
        " VALUES (:n, :m, :rpm, :tpm, :g, :t, :t) RETURNING id",
        {
            "n": name,
            "m": ",".join(parse_models(models)),
            "rpm": _limit(rpm, "rpm"),
            "tpm": _limit(tpm, "tpm"),
            "g": group or None,
            "t": at,
        },
    )
    await record_change(tx, "plan", int(plan_id), name, None, await _fields(tx, int(plan_id)))
    for spec in specs:
        await set_budget(tx, PLAN, int(plan_id), spec.amount, spec.period, spec.model, now=at)
    await bump_config_version(tx)
    return await get_plan(tx, str(plan_id))


async def update_plan(tx: Executor, ref: str, changes: PlanChanges) -> Plan:
    """Change a plan; every user on it sees the change from its next request."""
    plan = await get_plan(tx, ref)
    values: dict[str, Any] = {}
    if changes.name is not None and changes.name.strip() != plan.name:
        values["name"] = await _free_name(tx, changes.name)
    if changes.models is not None:
        values["models"] = ",".join(parse_models(changes.models))
    if changes.rpm is not None:
        values["rpm"] = _limit(changes.rpm, "rpm")
    if changes.tpm is not None:
        values["tpm"] = _limit(changes.tpm, "tpm")
    if changes.group is not None:
        if changes.group:
            await require_group(tx, changes.group)
        values["group_name"] = changes.group or None
    at = now()
    if values:
        before = await _fields(tx, plan.id)
        assignments = ", ".join(f"{column} = :{column}" for column in values)
        await tx.execute(
            f"UPDATE plans SET {assignments}, updated_at = :t WHERE id = :id",
            {**values, "t": at, "id": plan.id},
        )
        name = values.get("name", plan.name)
        await record_change(tx, "plan", plan.id, name, before, await _fields(tx, plan.id))
    if "name" in values and await get_setting(tx, DEFAULT_PLAN_SETTING) == plan.name:
        await set_setting(tx, DEFAULT_PLAN_SETTING, values["name"])
    for period, model in changes.drop_budgets:
        if not await remove_budget(tx, PLAN, plan.id, period, model):
            what = f"{describe_period(parse_period(period))} budget" + (
                f" for {model}" if model else ""
            )
            raise NotFound(f"plan {plan.name!r} has no {what}")
    for spec in _unique(changes.budgets):
        await set_budget(tx, PLAN, plan.id, spec.amount, spec.period, spec.model, now=at)
    await bump_config_version(tx)
    return await get_plan(tx, str(plan.id))


async def get_plan(db: Executor, ref: str) -> Plan:
    """The plan named by ``ref`` (a name or an id), with its budgets; NotFound if none."""
    ref = ref.strip()
    row = None
    if ref.isascii() and ref.isdigit() and int(ref) <= MAX_BIGINT:
        row = await db.fetch_one("SELECT * FROM plans WHERE id = :id", {"id": int(ref)})
    if row is None:
        row = await db.fetch_one("SELECT * FROM plans WHERE name = :n", {"n": ref})
    if row is None:
        raise NotFound(f"no plan {ref!r}: `burncloud plan list` shows them")
    return Plan.from_row(row, await list_budgets(db, PLAN, int(row["id"])))


async def list_plans(db: Executor) -> list[tuple[Plan, int]]:
    """Every plan with how many users are on it, by name."""
    rows = await db.fetch_all(
        "SELECT p.*, (SELECT COUNT(*) FROM users u WHERE u.plan_id = p.id) AS users"
        " FROM plans p ORDER BY p.name"
    )
    return [
        (Plan.from_row(row, await list_budgets(db, PLAN, int(row["id"]))), int(row["users"]))
        for row in rows
    ]


async def load_plans(db: Executor) -> dict[int, Plan]:
    """Every plan by id, with its budgets (the router's snapshot)."""
    budgets: dict[int, list[BudgetRule]] = {}
    rows = await db.fetch_all("SELECT * FROM budgets WHERE scope = 'plan' ORDER BY id")
    for row in rows:
        rule = BudgetRule.from_row(row)
        budgets.setdefault(rule.scope_id, []).append(rule)
    plans = await db.fetch_all("SELECT * FROM plans")
    return {int(row["id"]): Plan.from_row(row, budgets.get(int(row["id"]), ())) for row in plans}


async def delete_plan(tx: Executor, ref: str) -> int:
    """Delete a plan and its budgets; its users go back to no plan. How many were on it."""
    plan = await get_plan(tx, ref)
    on_it = await tx.fetch_all("SELECT id FROM users WHERE plan_id = :id", {"id": plan.id})
    for row in on_it:
        await _move_user(tx, int(row["id"]), None)
    await remove_budgets(tx, PLAN, plan.id)
    before = await _fields(tx, plan.id)
    await tx.execute("DELETE FROM plans WHERE id = :id", {"id": plan.id})
    await record_change(tx, "plan", plan.id, plan.name, before, None)
    if await get_setting(tx, DEFAULT_PLAN_SETTING) == plan.name:
        await delete_setting(tx, DEFAULT_PLAN_SETTING)
    await bump_config_version(tx)
    return len(on_it)


async def assign_plan(tx: Executor, user_ref: str, plan_ref: str | None) -> Plan | None:
    """Put a user on a plan (None: take it off its plan); the plan."""
    user = await resolve_user(tx, user_ref)
    plan = None if plan_ref is None else await get_plan(tx, plan_ref)
    await _move_user(tx, user.id, None if plan is None else plan.id)
    await bump_config_version(tx)
    return plan


async def plan_of_user(db: Executor, user_id: int) -> Plan | None:
    """The plan a user is on, if any."""
    plan_id = await db.fetch_value("SELECT plan_id FROM users WHERE id = :id", {"id": user_id})
    return None if plan_id is None else await get_plan(db, str(plan_id))


async def set_default_plan(tx: Executor, ref: str | None) -> Plan | None:
    """Make ``ref`` the plan new users get (None: no default in the database)."""
    if ref is None:
        await delete_setting(tx, DEFAULT_PLAN_SETTING)
        return None
    plan = await get_plan(tx, ref)
    await set_setting(tx, DEFAULT_PLAN_SETTING, plan.name)
    return plan


async def default_plan(db: Executor, fallback: str | None = None) -> Plan | None:
    """The plan new users get: ``plan default``'s, else ``fallback``
    (``BURNCLOUD_DEFAULT_PLAN``); InvalidRequest if that names no plan."""
    name = await get_setting(db, DEFAULT_PLAN_SETTING) or fallback
    if not name:
        return None
    try:
        return await get_plan(db, name)
    except NotFound:
        raise InvalidRequest(
            f"the default plan {name!r} does not exist: create it or change the default"
        ) from None


async def put_on_default_plan(tx: Executor, user_id: int, fallback: str | None) -> Plan | None:
    """Put a new user on the default plan, if there is one."""
    plan = await default_plan(tx, fallback)
    if plan is not None:
        await _move_user(tx, user_id, plan.id)
    return plan


async def _move_user(tx: Executor, user_id: int, plan_id: int | None) -> None:
    """Put a user on plan ``plan_id`` (None: no plan), recorded in the audit trail."""
    before = await user_fields(tx, user_id)
    await tx.execute("UPDATE users SET plan_id = :p WHERE id = :id", {"p": plan_id, "id": user_id})
    if before is not None:
        after = await user_fields(tx, user_id)
        await record_change(tx, "user", user_id, str(before["name"]), before, after)


async def _fields(tx: Executor, plan_id: int) -> dict[str, Any] | None:
    """A plan's columns as the audit trail compares them (its budgets are audited apart)."""
    row = await tx.fetch_one("SELECT * FROM plans WHERE id = :id", {"id": plan_id})
    return None if row is None else row_fields(row, _UNAUDITED)


def check_plan_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise InvalidRequest("a plan needs a name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"a plan name has at most {MAX_NAME_LENGTH} characters")
    if cleaned.isdigit():
        raise InvalidRequest(f"a plan name cannot be all digits (read as an id): {cleaned!r}")
    return cleaned


async def _free_name(tx: Executor, name: str) -> str:
    """``name`` checked and not taken by another plan."""
    name = check_plan_name(name)
    if await tx.fetch_value("SELECT id FROM plans WHERE name = :n", {"n": name}) is not None:
        raise InvalidRequest(f"plan {name!r} already exists")
    return name


def _limit(value: int | None, what: str) -> int | None:
    return None if value is None else parse_limit(value, what)


def _unique(specs: Sequence[BudgetSpec]) -> list[BudgetSpec]:
    """The specs, refusing two for the same period and model (which would win?)."""
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        if (spec.period, spec.model) in seen:
            model = f" for {spec.model}" if spec.model else ""
            raise InvalidRequest(f"two {spec.period} budgets{model}: give each period once")
        seen.add((spec.period, spec.model))
    return list(specs)
