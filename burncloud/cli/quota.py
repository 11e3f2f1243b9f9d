"""`burncloud quota` commands: a token's quota or, with --user, a user's balance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer

from burncloud.cli.budget_options import budget_lines, token_budget_uses, user_budget_uses
from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, run, run_read
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd, parse_signed_usd, parse_usd
from burncloud.services import forecast, quota
from burncloud.services.budgets import BudgetUse
from burncloud.services.clock import now
from burncloud.services.quota import QuotaState

app = typer.Typer(
    no_args_is_help=True,
    help="Token quotas and, with --user, user balances (USD; -1 is unlimited).",
)

# Amounts may be negative ("quota set 3 -1", "quota add 3 -0.5"): without this, click would
# read them as unknown options.
NEGATIVE_NUMBERS = {"ignore_unknown_options": True}

TargetArg = Annotated[
    str, typer.Argument(metavar="TOKEN_ID|USER", help="Token id (with --user: user id or name).")
]
UserFlag = Annotated[
    bool, typer.Option("--user", help="Act on a user's balance instead of a token's quota.")
]


@app.command("show")
def show(
    target: TargetArg, user: UserFlag = False, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Show what a token (or, with --user, a user) has left, the part of it routers hold
    in leases, and what it has used, in USD."""

    async def action(session: Session) -> None:
        if user:
            state = await quota.get_user_balance(session.db, target)
        else:
            state = await quota.get_token_quota(session.db, _token_id(target))
        at = now()
        budgets = await _budgets(session, state, at)
        runway = await _runway(session, state, at, as_json)
        _print(state, as_json, budgets, session.settings.timezone, at, runway)

    run_read(db, action)


async def _runway(session: Session, state: QuotaState, at: int, as_json: bool) -> dict[str, Any]:
    """When a limited quota or balance runs out at its recent spend rate (nothing when
    unlimited): JSON ``spend_per_hour`` and ``runs_out_in`` (seconds, null without recent
    spend); on a terminal a "runs out in" line."""
    if state.unlimited:
        return {}
    found = await forecast.runways(session.db, at, subject=state.kind, ids=[state.id])
    if not found:
        return {}
    if as_json:
        return {
            "spend_per_hour": format_usd(found[0].spend_per_hour),
            "runs_out_in": found[0].runs_out_in,
        }
    return {"runs out in": forecast.describe_runway(found[0])}


async def _budgets(session: Session, state: QuotaState, at: int) -> list[BudgetUse]:
    """Where each budget of the token (with its user's and plan's) or user stands now."""
    zone = session.settings.timezone
    if state.kind == "token":
        owner = await session.db.fetch_value(
            "SELECT user_id FROM tokens WHERE id = :id", {"id": state.id}
        )
        return await token_budget_uses(session.db, state.id, int(owner), zone, at)
    return await user_budget_uses(session.db, state.id, zone, at)


@app.command("add", context_settings=NEGATIVE_NUMBERS)
def add(
    target: TargetArg,
    amount: Annotated[str, typer.Argument(metavar="USD", help="USD to add; negative removes.")],
    user: UserFlag = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add USD to a token's quota (or a user's balance); refused below zero or when unlimited."""

    async def action(session: Session) -> None:
        units = parse_signed_usd(_amount(amount))
        if user:
            state = await quota.add_user_balance(session.db, target, units)
        else:
            state = await quota.add_token_quota(session.db, _token_id(target), units)
        _print(state, as_json)

    run(db, action)


@app.command("set", context_settings=NEGATIVE_NUMBERS)
def set_(
    target: TargetArg,
    amount: Annotated[str, typer.Argument(metavar="USD|-1", help="USD left; -1 for unlimited.")],
    user: UserFlag = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set what a token (or a user) has left, in USD; -1 makes it unlimited."""

    async def action(session: Session) -> None:
        units = parse_usd(_amount(amount), allow_unlimited=True)
        if user:
            state = await quota.set_user_balance(session.db, target, units)
        else:
            state = await quota.set_token_quota(session.db, _token_id(target), units)
        _print(state, as_json)

    run(db, action)


def _token_id(text: str) -> int:
    if not text.strip().isdigit():
        raise InvalidRequest(f"not a token id: {text!r} (for a user, add --user)")
    return int(text)


def _amount(text: str) -> str:
    """Refuse what click let through as a positional because it looked like an option."""
    if text.startswith("--"):
        raise InvalidRequest(f"no such option: {text}")
    return text


def _print(
    state: QuotaState,
    as_json: bool,
    budgets: Sequence[BudgetUse] = (),
    timezone: str = "UTC",
    at: int = 0,
    runway: Mapping[str, Any] | None = None,
) -> None:
    """The state and, for `show`, where each budget stands; on a terminal the part routers
    hold reads "held by routers" (it is included in the quota or balance above it)."""
    record: dict[str, Any] = state.to_json()
    record.update(runway or {})
    if as_json:
        if budgets:
            record["budgets"] = [use.to_json() for use in budgets]
    else:
        record = {key.replace("_", " "): value for key, value in record.items()}
        if state.unlimited:
            record[state.label] = "unlimited"
        record.update(budget_lines(budgets, timezone, at))
    emit(record, as_json=as_json)
