"""`burncloud stats`: a window's totals and its breakdown by model, channel, token, user or
user group, with revenue (what callers paid), upstream cost and margin, and the keys and
users whose limit runs out soonest at their recent spend rate."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.logs import utc, window_seconds
from burncloud.cli.output import print_json, print_record, print_table
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run_read
from burncloud.money import format_usd
from burncloud.services.clock import now
from burncloud.services.forecast import LOOKBACK_HOURS, RunningOut, format_runway, running_out
from burncloud.services.margins import Margin
from burncloud.services.stats import GROUPINGS, GroupRow, Totals, breakdown, window_totals

COLUMNS = [
    ("requests", "requests"),
    ("errors", "errors"),
    ("prompt_tokens", "tokens in"),
    ("completion_tokens", "tokens out"),
    ("cost", "spend"),
    ("upstream_cost", "upstream"),
    ("margin", "margin"),
    ("margin_percent", "margin %"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
]
RUNNING_OUT_SHOWN = 5
RUNNING_OUT_COLUMNS = [
    ("kind", "kind"),
    ("id", "id"),
    ("name", "name"),
    ("limit", "limit"),
    ("remaining", "left"),
    ("spend_per_hour", "spend/h"),
    ("runs_out", "runs out in"),
]


def stats(
    since: Annotated[
        str, typer.Option("--since", metavar="30s|15m|1h|24h|7d", help="The window to total.")
    ] = "24h",
    by: Annotated[
        str,
        typer.Option(
            "--by",
            metavar="|".join(GROUPINGS),
            autocompletion=one_of(GROUPINGS),
            help="Break down by.",
        ),
    ] = "model",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Requests, tokens, spend, upstream cost and margin, error rate and latency
    percentiles, a breakdown, and the keys and users running out soonest."""
    seconds = window_seconds(since)
    if by not in GROUPINGS:
        raise fail(f"--by must be one of {', '.join(GROUPINGS)}, not {by!r}")

    async def action(session: Session) -> None:
        at = now()
        totals = await window_totals(session.db, at - seconds)
        rows = await breakdown(session.db, at - seconds, by)
        soonest = await running_out(session.db, at, limit=RUNNING_OUT_SHOWN)
        if as_json:
            print_json(
                {
                    "totals": totals.to_json(),
                    "by": by,
                    "rows": [r.to_json() for r in rows],
                    "running_out": [r.to_json() for r in soonest],
                }
            )
            return
        print_record(_human_totals(totals))
        if totals.sampled < totals.requests:
            print(f"(latency percentiles over the newest {totals.sampled} requests)")
        print()
        names = [("label", by)] if by in ("model", "group") else [("key", "id"), ("label", by)]
        print_table([_human_row(row) for row in rows], [*names, *COLUMNS])
        _print_running_out(soonest)

    run_read(db, action)


def _print_running_out(soonest: list[RunningOut]) -> None:
    """The keys and users that run out soonest, by the limit each reaches first; nothing
    when none runs out at its recent rate."""
    if not soonest:
        return
    print()
    print(f"running out, at the spend rate of the last {LOOKBACK_HOURS} h:")
    rows = [{**r.to_json(), "runs_out": format_runway(r.runway.runs_out_in)} for r in soonest]
    print_table(rows, RUNNING_OUT_COLUMNS)


def _human_totals(totals: Totals) -> dict[str, Any]:
    return {
        "since": utc(totals.since),
        "requests": totals.requests,
        "errors": f"{totals.errors} ({totals.error_rate:.1%})",
        "tokens in": totals.prompt_tokens,
        "tokens out": totals.completion_tokens,
        "spend": f"{format_usd(totals.cost)} USD",
        "upstream": _upstream(totals.margin, " USD"),
        "margin": _margin(totals.margin, " USD", with_percent=True),
        "latency p50": _ms(totals.latency_p50_ms),
        "latency p95": _ms(totals.latency_p95_ms),
        "latency p99": _ms(totals.latency_p99_ms),
    }


def _human_row(row: GroupRow) -> dict[str, Any]:
    """The row as the table shows it: the margin's parts with their unknown requests."""
    percent = row.margin.percent
    return {
        **row.to_json(),
        "upstream_cost": _upstream(row.margin),
        "margin": _margin(row.margin),
        "margin_percent": "-" if percent is None else f"{percent}%",
    }


def _upstream(margin: Margin, unit: str = "") -> str:
    """ "0.3 USD", "0.3 USD + 4 unknown" or "unknown"."""
    upstream = margin.upstream
    return margin.with_unknown("" if upstream is None else format_usd(upstream) + unit)


def _margin(margin: Margin, unit: str = "", *, with_percent: bool = False) -> str:
    """ "0.7 USD (70.0%)", the same + N unknown, or "unknown"."""
    amount, percent = margin.margin, margin.percent
    shown = "" if amount is None else format_usd(amount) + unit
    if with_percent and percent is not None:
        shown += f" ({percent}%)"
    return margin.with_unknown(shown)


def _ms(value: int | None) -> str:
    return "-" if value is None else f"{value} ms"
