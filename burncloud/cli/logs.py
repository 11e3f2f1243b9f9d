"""`burncloud log`: list recent requests, or follow them as the routers write them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd
from burncloud.services.clock import now
from burncloud.services.log_follow import LogFollower
from burncloud.services.stats import LogLine, parse_window, recent_logs

app = typer.Typer(no_args_is_help=True, help="Request logs: list recent ones, follow new ones.")

MAX_LIMIT = 1000
COLUMNS = [
    ("time", "time"),
    ("token", "token"),
    ("model", "model"),
    ("channel", "channel"),
    ("tokens", "tokens in/out"),
    ("cost", "cost"),
    ("latency", "latency"),
    ("status", "status"),
]

ModelOption = Annotated[
    str | None, typer.Option("--model", metavar="MODEL", help="Only requests for this model.")
]
TokenOption = Annotated[
    int | None, typer.Option("--token", metavar="ID", help="Only requests with this token id.")
]


@app.command("list")
def list_(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="30s|15m|1h|24h|7d", help="Only requests this recent (default: any)."
        ),
    ] = None,
    model: ModelOption = None,
    token: TokenOption = None,
    status: Annotated[
        int | None, typer.Option("--status", metavar="S", help="Only this HTTP status.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", metavar="N", help=f"At most N rows (1 to {MAX_LIMIT}).")
    ] = 100,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List logged requests, newest first."""
    seconds = window_seconds(since) if since is not None else None
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(f"--limit must be from 1 to {MAX_LIMIT}")

    async def action(session: Session) -> None:
        start = now() - seconds if seconds is not None else None
        found = await recent_logs(
            session.db, limit=limit, model=model, token_id=token, status=status, since=start
        )
        rows = [line.to_json() if as_json else human(line) for line in found]
        emit(rows, as_json=as_json, columns=COLUMNS)

    run(db, action)


@app.command("tail")
def tail(
    model: ModelOption = None,
    token: TokenOption = None,
    interval: Annotated[
        float, typer.Option("--interval", metavar="S", min=0.05, help="Seconds between polls.")
    ] = 1.0,
    max_rows: Annotated[
        int | None, typer.Option("--max-rows", hidden=True, help="Stop after N rows (tests).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Print requests as they are logged, oldest first, until Ctrl-C."""

    async def action(session: Session) -> None:
        follower = LogFollower(session.db, model=model, token_id=token)
        await follower.start()
        print("\t".join(header for _, header in COLUMNS), flush=True)
        printed = 0
        while True:
            for line in await follower.poll():
                cells = human(line)
                print("\t".join(str(cells[key]) for key, _ in COLUMNS), flush=True)
                printed += 1
                if max_rows is not None and printed >= max_rows:
                    return
            await asyncio.sleep(interval)

    try:
        run(db, action)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a tail ends: exit 0, no traceback


def window_seconds(text: str) -> int:
    """``--since`` in seconds, or the one-line error."""
    try:
        return parse_window(text)
    except InvalidRequest as exc:
        raise fail(f"--since: {exc.message}") from None


def human(line: LogLine) -> dict[str, Any]:
    """A log line's table cells."""
    return {
        "time": utc(line.created_at),
        "token": line.token_name or _ref(line.token_id),
        "model": line.model,
        "channel": line.channel_name or _ref(line.channel_id),
        "tokens": f"{line.prompt_tokens}/{line.completion_tokens}",
        "cost": format_usd(line.cost),
        "latency": f"{line.latency_ms} ms",
        "status": line.status,
    }


def _ref(rid: int | None) -> str:
    return "" if rid is None else f"#{rid}"


def utc(at: int) -> str:
    """Unix seconds as an ISO 8601 UTC time."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
