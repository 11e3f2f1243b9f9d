"""`burncloud audit`: the trail of configuration changes: when, who, what, old -> new."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.logs import utc
from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run_read
from burncloud.errors import InvalidRequest
from burncloud.services.audit import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    AuditEntry,
    AuditFilter,
    list_changes,
    parse_object,
    parse_since,
)
from burncloud.services.clock import now

app = typer.Typer(
    no_args_is_help=True,
    help="The audit trail: every configuration change, from the CLI, the admin API or the"
    " dashboard, with who made it and each field's old and new value (secrets masked).",
)

COLUMNS = [
    ("time", "time"),
    ("actor", "actor"),
    ("object", "object"),
    ("action", "action"),
    ("changes", "changes"),
]


@app.command("list")
def list_(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="7d|DATE|TIME",
            help="Only changes from then on: a window back from now (12h, 7d), a date"
            " (2025-06-15, 00:00 UTC) or a time (2025-06-15T12:00:00Z).",
        ),
    ] = None,
    object_: Annotated[
        str | None,
        typer.Option(
            "--object",
            metavar="KIND[:ID]",
            help="Only one kind of object (channel, token, user, group, plan, budget, alert,"
            " price, channel-price, redemption, setting) or one object (channel:3,"
            " price:gpt-4o).",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help=f"At most N changes (1 to {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List configuration changes, newest first."""
    try:
        filters = _filters(since, object_)
    except InvalidRequest as exc:
        raise fail(exc.message) from None
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(f"--limit must be from 1 to {MAX_LIMIT}")

    async def action(session: Session) -> list[AuditEntry]:
        return await list_changes(session.db, filters, limit)

    entries = run_read(db, action)
    rows = [entry.to_json() if as_json else _human(entry) for entry in entries]
    emit(rows, as_json=as_json, columns=COLUMNS)


def _filters(since: str | None, object_: str | None) -> AuditFilter:
    kind, object_id = parse_object(object_) if object_ is not None else (None, None)
    start = parse_since(since, now()) if since is not None else None
    return AuditFilter(since=start, kind=kind, object_id=object_id)


def _human(entry: AuditEntry) -> dict[str, Any]:
    """An entry's table cells: the object by kind:id and, when it says more, its name."""
    shown = entry.object if entry.name in ("", entry.object_id) else f"{entry.object} {entry.name}"
    return {
        "time": utc(entry.at),
        "actor": entry.actor,
        "object": shown,
        "action": entry.action,
        "changes": entry.describe(),
    }
