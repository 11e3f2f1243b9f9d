"""`burncloud log`: list recent requests, follow them as the routers write them, or show one
request's bill."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from fractions import Fraction
from typing import Annotated, Any

import typer

from burncloud.cli.output import emit, print_json, print_line, print_tsv
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd
from burncloud.services.clock import now
from burncloud.services.log_bills import LoggedBill, exact_usd, logged_bill
from burncloud.services.log_follow import LogFollower
from burncloud.services.log_retention import Pruned, count_older, prune_logs
from burncloud.services.logs import MAX_LIMIT, LogFilter, named_lines
from burncloud.services.stats import LogLine, parse_window
from burncloud.services.users import resolve_user

app = typer.Typer(
    no_args_is_help=True,
    help="Request logs: list recent ones, follow new ones, show a bill, prune old ones.",
)

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
TIME_FORMS = (
    "a window back from now like 15m, a date like 2025-06-15 (00:00 UTC)"
    " or a time like 2025-06-15T12:00:00Z"
)

ModelOption = Annotated[
    str | None, typer.Option("--model", metavar="MODEL", help="Only requests for this model.")
]
TokenOption = Annotated[
    int | None, typer.Option("--token", metavar="ID", help="Only requests with this token id.")
]


def _time_option(flag: str, meaning: str) -> Any:
    return typer.Option(flag, metavar="30s|15m|1h|24h|7d|DATE|TIME", help=meaning)


@app.command("list")
def list_(
    since: Annotated[
        str | None, _time_option("--since", "Only requests from then on (default: any age).")
    ] = None,
    until: Annotated[
        str | None, _time_option("--until", "Only requests from before then (default: now).")
    ] = None,
    model: ModelOption = None,
    token: TokenOption = None,
    user: Annotated[
        str | None,
        typer.Option("--user", metavar="ID|NAME", help="Only requests of this user."),
    ] = None,
    channel: Annotated[
        int | None,
        typer.Option("--channel", metavar="ID", help="Only requests served by this channel."),
    ] = None,
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
    at = now()
    start = moment(since, "--since", at) if since is not None else None
    end = moment(until, "--until", at) if until is not None else None
    if not 1 <= limit <= MAX_LIMIT:
        raise fail(f"--limit must be from 1 to {MAX_LIMIT}")

    async def action(session: Session) -> None:
        user_id = (await resolve_user(session.db, user)).id if user is not None else None
        filters = LogFilter(
            since=start,
            until=end,
            model=model,
            token_id=token,
            user_id=user_id,
            channel_id=channel,
            status=status,
        )
        found = await named_lines(session.db, filters, limit=limit)
        rows = [line.to_json() if as_json else human(line) for line in found]
        emit(rows, as_json=as_json, columns=COLUMNS)

    run_read(db, action)


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
        print_tsv((header for _, header in COLUMNS), flush=True)
        printed = 0
        while True:
            for line in await follower.poll():
                cells = human(line)
                print_tsv((cells[key] for key, _ in COLUMNS), flush=True)
                printed += 1
                if max_rows is not None and printed >= max_rows:
                    return
            await asyncio.sleep(interval)

    try:
        run_read(db, action)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a tail ends: exit 0, no traceback


@app.command("show")
def show(
    request_id: Annotated[str, typer.Argument(help="The request's id (its x-request-id).")],
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a logged request's bill: a line per priced quantity at the price it was billed
    at, the group ratio, the total (its cost), the upstream cost and the margin."""

    async def action(session: Session) -> None:
        bill = await logged_bill(session.db, request_id)
        if as_json:
            print_json(bill.to_json())
            return
        for line in bill_text(bill):
            print_line(line)

    run_read(db, action)


def bill_text(bill: LoggedBill) -> list[str]:
    """The lines `log show` prints for ``bill`` (values from clients not yet escaped)."""
    entry = bill.entry
    channel = "no channel" if entry.channel_id is None else f"channel #{entry.channel_id}"
    text = [
        f"request {entry.request_id}: {entry.model} on {channel}, status {entry.status},"
        f" at {utc(entry.created_at)}"
    ]
    if entry.estimated:
        text.append("usage estimated: the upstream reported none, so the router counted it")
    if not bill.priced:
        text.append("not priced: no price version (served free, or logged before versions)")
    else:
        text.append(f"billed at price version {entry.price_version}:")
        text += [f"  {line.describe()}" for line in bill.lines] or ["  nothing to bill"]
        text += _ratio_text(bill)
    text.append(f"total ${format_usd(entry.cost)}")
    upstream = entry.upstream_cost
    text.append("upstream cost " + ("unknown" if upstream is None else f"${format_usd(upstream)}"))
    margin, share = bill.margin, bill.margin_share()
    shown = "unknown" if margin is None else _dollars(margin)
    text.append(f"margin {shown}" + (f" ({share})" if share else ""))
    return text


def _dollars(units: int) -> str:
    return f"-${format_usd(-units)}" if units < 0 else f"${format_usd(units)}"


def _ratio_text(bill: LoggedBill) -> list[str]:
    """The subtotal, the group ratio and the rounding, where they make the total differ
    from the lines' sum."""
    subtotal, exact = exact_usd(bill.subtotal)
    if bill.ratio is None:
        return [f"subtotal ${subtotal}: these lines do not explain the cost below"]
    if bill.subtotal * Fraction(bill.ratio) == bill.entry.cost:
        if bill.ratio == 1:
            return []
        return [f"subtotal ${subtotal}", _ratio_line(bill)]
    text = [f"subtotal ${subtotal}" + ("" if exact else " (to 1e-15 USD)")]
    if bill.ratio != 1:
        text.append(_ratio_line(bill))
    return [*text, "rounded once, half up, to a whole nano-dollar:"]


@app.command("prune")
def prune(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="90d|12h|30s", help="Delete the rows older than this."
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the rows only; delete nothing.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Delete request log rows older than a window, in small batches; the per-minute and
    per-hour totals stay, so stats and the dashboard read the same (routers do this in the
    background past BURNCLOUD_LOG_RETENTION_DAYS)."""
    before = now() - window_seconds(older_than, "--older-than")

    async def count(session: Session) -> int:
        return await count_older(session.db, before)

    async def delete(session: Session) -> Pruned:
        return await prune_logs(session.db, before)

    if dry_run:
        rows = run_read(db, count)
        print_line(f"{rows} log rows are older than {older_than} (dry run, nothing deleted)")
        return
    pruned = run(db, delete)
    print_line(
        f"deleted {pruned.rows} log rows older than {older_than},"
        f" {_bytes(pruned.bytes_freed)} freed"
    )


def _bytes(count: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"


def _ratio_line(bill: LoggedBill) -> str:
    if not bill.ratio_inferred:
        return f"group ratio x{bill.ratio}"
    return f"group ratio x{bill.ratio} (inferred: the shortest ratio that gives this cost)"


def window_seconds(text: str, flag: str = "--since") -> int:
    """A window option (``--since``, ``--older-than``) in seconds, or the one-line error."""
    try:
        return parse_window(text)
    except InvalidRequest as exc:
        raise fail(f"{flag}: {exc.message}") from None


def moment(text: str, flag: str, at: int) -> int:
    """A ``--since`` or ``--until`` as unix seconds: a window back from ``at``, a date (its
    00:00 UTC) or a date and time (UTC unless it says otherwise); else the one-line error."""
    with contextlib.suppress(InvalidRequest):
        return at - parse_window(text)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{flag}: invalid time {text!r}: use {TIME_FORMS}") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


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
