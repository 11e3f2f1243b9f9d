"""`burncloud alert` commands: webhooks for budgets, forecasts, channels, errors and the
fleet, and the log of their deliveries.

The routers deliver (``services.alerts``); `alert test` raises a test event in the same
outbox and attempts it at once from here, leaving a failed attempt to the routers' retries.
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.output import emit, print_json, print_line
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.services.alerts import hooks
from burncloud.services.alerts.events import EVENTS, SUBSCRIBABLE, TEST
from burncloud.services.alerts.history import DeliveryRecord, list_deliveries
from burncloud.services.alerts.hooks import FORMATS, Hook

if TYPE_CHECKING:  # aiohttp is imported only by `alert test`: it would slow every CLI start
    from burncloud.services.alerts.delivery import HookTrial

app = typer.Typer(no_args_is_help=True)

COLUMNS = [
    ("id", "id"),
    ("format", "format"),
    ("url", "url"),
    ("events", "events"),
    ("thresholds", "thresholds"),
    ("signed", "signed"),
    ("created", "created"),
]
LOG_COLUMNS = [
    ("id", "id"),
    ("time", "time"),
    ("event", "event"),
    ("alert", "alert"),
    ("status", "status"),
    ("attempts", "attempts"),
    ("result", "result"),
    ("text", "text"),
]
_EVENT_LIST = "\n".join(f"  {kind}: {meaning}." for kind, meaning in EVENTS.items() if kind != TEST)

IdArg = Annotated[int, typer.Argument(metavar="ID", help="Alert id (from `alert list`).")]


@app.command("add", help=f"Add a webhook for some events. The events:\n\n{_EVENT_LIST}")
def add(
    url: Annotated[
        str,
        typer.Option(
            "--url",
            metavar="URL",
            help="Where to POST (http or https); stored encrypted, shown as its origin only.",
        ),
    ],
    on: Annotated[
        str,
        typer.Option(
            "--on",
            metavar="EVENT[,EVENT...]",
            help=f"The events to send: {', '.join(SUBSCRIBABLE)}, or all.",
        ),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            autocompletion=one_of(FORMATS),
            help="json (the event object), slack, discord or telegram (a message).",
        ),
    ] = "json",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            metavar="S|-",
            help="Signing secret, 16 characters or more ('-' reads it from stdin); a json"
            " alert without one gets one made, shown once.",
        ),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            "--threshold",
            metavar="P,P...",
            help="Budget thresholds in percent (default 50,80,95,100).",
        ),
    ] = None,
    chat_id: Annotated[
        str | None,
        typer.Option(
            "--chat-id",
            metavar="ID",
            help="Telegram only: the chat to post in (or chat_id=... in the URL's query).",
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    if secret == "-":
        secret = sys.stdin.readline().strip()

    async def action(session: Session) -> tuple[Hook, str | None]:
        return await hooks.add_hook(
            session.db,
            await session.secret_box(),
            url=url,
            events=on,
            format=format,
            thresholds=threshold,
            secret=secret,
            chat_id=chat_id,
            check_url=_url_check(session),
        )

    hook, generated = run(db, action)
    if as_json:
        print_json({**hook.to_json(), **({"secret": generated} if generated else {})})
        return
    print_line(
        f"Added alert {hook.id}: {', '.join(hook.events)} -> {hook.url_hint} ({hook.format})"
    )
    if generated is not None:
        print("Its signing secret (X-Burncloud-Signature) is shown only now:", file=sys.stderr)
        print(generated)


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List the alerts (never their URL's path or secret)."""
    found = run_read(db, lambda session: hooks.list_hooks(session.db))
    if as_json:
        print_json([hook.to_json() for hook in found])
        return
    emit([_hook_row(hook) for hook in found], as_json=False, columns=COLUMNS)


@app.command("test")
def test(hook_id: IdArg, db: DbOption = None) -> None:
    """Send an alert a test event now, through the outbox; a failed attempt is retried by
    the routers, like any delivery."""

    async def action(session: Session) -> HookTrial:
        from burncloud.gateway.egress.upstream_guard import UpstreamResolver
        from burncloud.services.alerts.delivery import Courier, open_session

        settings = session.settings
        box = await session.secret_box()
        async with open_session(UpstreamResolver(settings.allow_private_upstreams)) as http:
            owner = f"cli:{socket.gethostname()}:{os.getpid()}"
            courier = Courier(
                http,
                box,
                owner,
                settings.alert_timeout,
                settings.alert_retry_seconds,
                check_url=_url_check(session),
            )
            return await courier.test(session.db, hook_id)

    trial = run(db, action)
    outcome = trial.outcome
    if not outcome.delivered:
        raise fail(
            f"alert {hook_id}: the test delivery failed ({outcome.error or 'no answer'});"
            f" it stays {trial.status}: see `burncloud alert log`"
        )
    print(f"Delivered test event {trial.event_id} to alert {hook_id}: HTTP {outcome.status}.")


@app.command("log")
def log(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only deliveries given up after a day of retries.")
    ] = False,
    hook_id: Annotated[
        int | None, typer.Option("--alert", metavar="ID", help="Only this alert's deliveries.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many, newest first.")] = 50,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """The deliveries, newest first: when, what, to which alert, and how it went."""

    async def action(session: Session) -> list[DeliveryRecord]:
        status = "failed" if failed else None
        return await list_deliveries(session.db, status=status, hook_id=hook_id, limit=limit)

    found = run_read(db, action)
    if as_json:
        print_json([record.to_json() for record in found])
        return
    emit([_delivery_row(record) for record in found], as_json=False, columns=LOG_COLUMNS)


@app.command("delete")
def delete(hook_id: IdArg, db: DbOption = None) -> None:
    """Delete an alert; its deliveries still pending are never sent."""
    dropped = run(db, lambda session: hooks.delete_hook(session.db, hook_id))
    note = f" ({dropped} pending deliveries dropped)" if dropped else ""
    print(f"Deleted alert {hook_id}{note}.")


def _url_check(session: Session) -> hooks.UrlCheck:
    """The address guard channel base URLs pass, under BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS."""
    from burncloud.cli.channels import url_check

    return url_check(session)


def _hook_row(hook: Hook) -> dict[str, Any]:
    return {
        "id": hook.id,
        "format": hook.format,
        "url": hook.url_hint,
        "events": ",".join(hook.events),
        "thresholds": ",".join(map(str, hook.thresholds)) if "budget" in hook.events else "",
        "signed": "yes" if hook.signed else "no",
        "created": _when(hook.created_at),
    }


def _delivery_row(record: DeliveryRecord) -> dict[str, Any]:
    status = record.status
    if record.next_attempt_at is not None and record.attempts:
        status += f" (next {_when(record.next_attempt_at)})"
    return {
        "id": record.id,
        "time": _when(record.created_at),
        "event": record.event,
        "alert": record.hook_id,
        "status": status,
        "attempts": record.attempts,
        "result": record.result,
        "text": record.text,
    }


def _when(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
