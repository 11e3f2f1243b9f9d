"""`burncloud import oneapi|newapi DSN` and `burncloud import litellm FILE`: move in from
another gateway in one command.

An importer reads the peer (read-only) into a manifest and a report; the report and the
plan are printed, and without ``--dry-run`` the plan is applied in one transaction (with
the peer's logs, when asked, in the same one). The manifest is matched by name like any
`burncloud apply`, so a second import changes nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from burncloud.cli.channels import url_check
from burncloud.cli.files import read_text_file
from burncloud.cli.logs import moment
from burncloud.cli.manifest import print_plan
from burncloud.cli.output import print_line
from burncloud.cli.session import DbOption, Session, fail, run, run_planning
from burncloud.db.base import Executor
from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.money import format_usd
from burncloud.services.clock import now

if TYPE_CHECKING:
    from burncloud.services.manifest.model import NewKey, Plan
    from burncloud.services.migration.oneapi.importer import PeerImport
    from burncloud.services.migration.oneapi.logs import LogRow
    from burncloud.services.migration.report import Migration

app = typer.Typer(no_args_is_help=True)

LOG_BATCH = 2_000
PEERS = {"oneapi": "the One API database", "newapi": "the New API database"}
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the report and the plan only.")]
DsnArgument = Annotated[
    str,
    typer.Argument(
        metavar="DSN",
        help="The peer's database: a SQLite file, mysql://user:pass@host/db (or its"
        " SQL_DSN form user:pass@tcp(host:3306)/db) or postgres://...",
    ),
]
WithLogs = Annotated[
    bool, typer.Option("--with-logs", help="Also import the request logs (in batches).")
]
Since = Annotated[
    str | None,
    typer.Option("--since", metavar="30d|DATE", help="With --with-logs: only logs from then on."),
]
LogWriter = Callable[[Executor], Awaitable[int]]


@app.command("oneapi")
def oneapi(
    dsn: DsnArgument,
    dry_run: DryRun = False,
    with_logs: WithLogs = False,
    since: Since = None,
    db: DbOption = None,
) -> None:
    """Import channels, users, tokens (their keys keep working), balances, redemption
    codes, group ratios and prices from a One API database."""
    _import_peer("oneapi", dsn, dry_run, with_logs, since, db)


@app.command("newapi")
def newapi(
    dsn: DsnArgument,
    dry_run: DryRun = False,
    with_logs: WithLogs = False,
    since: Since = None,
    db: DbOption = None,
) -> None:
    """Import channels, users, tokens (their keys keep working), balances, redemption
    codes, group ratios and prices (model prices and cache ratios too) from a New API
    database."""
    _import_peer("newapi", dsn, dry_run, with_logs, since, db)


@app.command("litellm")
def litellm(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="LiteLLM's proxy config.yaml.")],
    dry_run: DryRun = False,
    db: DbOption = None,
) -> None:
    """Import the channels of a LiteLLM proxy config (model_list, its keys and
    os.environ/ references, rpm/tpm, order and weight) and the router settings that have
    an equivalent."""
    from burncloud.services.migration.litellm.config import read_litellm_config

    text = read_text_file(file)
    try:
        migration = read_litellm_config(text, os.environ)
    except InvalidRequest as exc:
        raise fail(f"{file}: {exc.message}") from None
    print_report(migration)

    async def plan_only(session: Session) -> Plan:
        return await _plan(session, migration)

    async def plan_and_apply(session: Session) -> tuple[Plan, list[NewKey]]:
        return await _apply(session, migration, None)

    _finish(str(file), dry_run, db, plan_only, plan_and_apply)


def _import_peer(
    flavor: str, dsn: str, dry_run: bool, with_logs: bool, since: str | None, db: str | None
) -> None:
    """Read the peer first (a wrong DSN fails before our database is opened), print the
    report, then plan and apply; the logs are read again, batch by batch, in the apply."""
    if since is not None and not with_logs:
        raise fail("--since chooses which logs --with-logs imports: add --with-logs")
    start = moment(since, "--since", now()) if since is not None else None
    loaded = _read_peer(dsn, flavor)
    print_report(loaded.migration)

    async def plan_only(session: Session) -> Plan:
        plan = await _plan(session, loaded.migration)
        if with_logs:
            count = 0
            async for rows in _peer_logs(dsn, flavor, loaded, start):
                count += len(rows)
            print_line(f"logs: {count} to import (dry run: none written)")
        return plan

    async def plan_and_apply(session: Session) -> tuple[Plan, list[NewKey]]:
        logs = _log_writer(dsn, flavor, loaded, start) if with_logs else None
        return await _apply(session, loaded.migration, logs)

    _finish(PEERS[flavor], dry_run, db, plan_only, plan_and_apply)


def _read_peer(dsn: str, flavor: str) -> PeerImport:
    """The peer database read and mapped; its one-line error otherwise."""
    from burncloud.services.migration.oneapi.importer import load_peer
    from burncloud.services.migration.oneapi.peer_db import open_peer

    async def read() -> PeerImport:
        async with open_peer(dsn) as peer:
            return await load_peer(peer, flavor)

    try:
        return asyncio.run(read())
    except BurncloudError as exc:
        raise fail(exc.message) from None


def _finish(
    source: str,
    dry_run: bool,
    db: str | None,
    plan_only: Callable[[Session], Awaitable[Plan]],
    plan_and_apply: Callable[[Session], Awaitable[tuple[Plan, list[NewKey]]]],
) -> None:
    if dry_run:
        plan = run_planning(db, plan_only)
        print_line("plan:")
        print_plan(plan, source, "dry run, nothing applied")
        return
    plan, new_keys = run(db, plan_and_apply)
    print_line("plan:")
    print_plan(plan, source, "applied")
    for new in new_keys:
        print_line(f"new key for token {new.user}/{new.token} (shown once): {new.key}")


async def _plan(session: Session, migration: Migration) -> Plan:
    from burncloud.services.manifest.plan import plan_changes

    box = await session.secret_box()
    plan = await plan_changes(session.db, box, migration.manifest, prune=False)
    _note_money_kept(migration, plan)
    return plan


async def _apply(
    session: Session, migration: Migration, logs: LogWriter | None
) -> tuple[Plan, list[NewKey]]:
    from burncloud.services.manifest.apply import apply_plan
    from burncloud.services.manifest.plan import plan_changes

    box = await session.secret_box()
    plan = await plan_changes(session.db, box, migration.manifest, prune=False)
    _note_money_kept(migration, plan)
    if plan.is_empty and logs is None:
        return plan, []
    new_keys = await apply_plan(session.db, box, plan, check_url=url_check(session), also=logs)
    return plan, new_keys


def _note_money_kept(migration: Migration, plan: Plan) -> None:
    """Say which users and tokens already exist here: a balance or quota is set when an
    object is created, so theirs stay as they are here, and the money totals above count
    the peer's amounts for them."""
    created = {(c.what, c.name) for c in plan.changes if c.op == "+"}
    manifest = migration.manifest
    users = [u.name for u in manifest.users or () if ("user", u.name) not in created]
    tokens = [
        f"{t.user}/{t.name}"
        for t in manifest.tokens or ()
        if t.quota >= 0 and ("token", f"{t.user}/{t.name}") not in created
    ]
    for what, names in (("users", users), ("tokens", tokens)):
        if names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            print_line(
                f"note: {len(names)} {what} exist here already ({shown}): their money stays"
                " as it is here, not the peer's (burncloud quota add to move it)"
            )


def _log_writer(dsn: str, flavor: str, loaded: PeerImport, since: int | None) -> LogWriter:
    """Write the peer's logs batch by batch inside the import's transaction."""
    from burncloud.services.migration.oneapi.logs import load_id_map, write_imported_logs

    async def write(tx: Executor) -> int:
        ids = await load_id_map(tx)
        written = 0
        async for rows in _peer_logs(dsn, flavor, loaded, since):
            written += await write_imported_logs(tx, rows, ids)
        print_line(f"logs: {written} imported")
        return written

    return write


async def _peer_logs(
    dsn: str, flavor: str, loaded: PeerImport, since: int | None
) -> AsyncIterator[list[LogRow]]:
    """The peer's request logs from ``since``, in batches, over a connection of their own."""
    from burncloud.services.migration.oneapi.logs import read_oneapi_logs
    from burncloud.services.migration.oneapi.peer_db import open_peer

    async with open_peer(dsn) as peer:
        batches = read_oneapi_logs(peer, flavor, since=since, batch=LOG_BATCH, loaded=loaded)
        async for rows in batches:
            yield rows


def print_report(migration: Migration) -> None:
    """The migration report: what maps to what, what is skipped and why, money totals."""
    print_line(f"import from {migration.source}")
    for title, lines in (("mapped", migration.mapped), ("skipped", migration.skipped)):
        if lines:
            print_line(f"{title}:")
            for line in lines:
                print_line(f"  {line.line()}")
    if migration.money:
        print_line("money (before -> after):")
        for total in migration.money:
            exact = "exact" if total.exact else "NOT exact: see notes"
            print_line(f"  {total.what}: {total.before} -> ${format_usd(total.after)} ({exact})")
    for note in migration.notes:
        print_line(f"note: {note}")
