"""`burncloud bill replay`: what the logged requests would have cost at other prices."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.files import chosen_format
from burncloud.cli.logs import moment
from burncloud.cli.output import print_json, print_line, print_record, print_table
from burncloud.cli.price_catalog import READ_FORMATS, PricesFileFormat, read_prices_file
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run_read
from burncloud.services.bill_replay import REPLAY_BY, Replay, ReplayRow, replay_bills
from burncloud.services.clock import now

app = typer.Typer(no_args_is_help=True, help="Bills: replay logged requests at other prices.")

COLUMNS = [
    ("requests", "requests"),
    ("unpriced", "unpriced"),
    ("logged", "logged"),
    ("replayed", "replayed"),
    ("difference", "difference"),
    ("upstream", "upstream cost"),
    ("margin", "margin"),
    ("replayed_margin", "replayed margin"),
]


@app.command("replay")
def replay(
    prices: Annotated[
        Path,
        typer.Option("--prices", metavar="FILE", help="The price file to bill at (a catalog)."),
    ],
    file_format: PricesFileFormat = None,
    since: Annotated[
        str,
        typer.Option("--since", metavar="30d|DATE|TIME", help="Replay requests from then on."),
    ] = "30d",
    by: Annotated[
        str,
        typer.Option(
            "--by", metavar="|".join(REPLAY_BY), autocompletion=one_of(REPLAY_BY), help="Sum by."
        ),
    ] = "model",
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Bill the logged requests again at the prices in FILE and compare; changes nothing.

    Per model or user: requests, logged and replayed revenue (USD) and their difference,
    upstream cost (as logged) and the margin before and after. A request is billed at the
    group ratio it was logged with (older rows: its user's group's ratio now). Requests of
    models FILE does not price are counted as unpriced and left out of the sums.
    """
    if by not in REPLAY_BY:
        raise fail(f"--by must be one of {', '.join(REPLAY_BY)}, not {by!r}")
    start = moment(since, "--since", now())
    table = read_prices_file(prices, chosen_format(file_format, prices, READ_FORMATS)).prices

    async def action(session: Session) -> None:
        result = await replay_bills(session.db, table, start, by)
        if as_json:
            print_json(result.to_json())
            return
        _print_human(result)

    run_read(db, action)


def _print_human(result: Replay) -> None:
    total = _cells(result.total)
    print_record({header: total[key] for key, header in COLUMNS})
    if result.unpriced_models:
        models = ", ".join(result.unpriced_models)
        print_line(
            f"(the file has no price for {models}: {result.total.unpriced} requests left out)"
        )
    print()
    rows = [{"label": row.label, **_cells(row)} for row in result.rows]
    print_table(rows, [("label", result.by), *COLUMNS])


def _cells(row: ReplayRow) -> dict[str, Any]:
    """A row's cells: USD as the JSON gives it, "unknown" for a margin no cost supports."""
    data = row.to_json()
    unknown = f" + {row.unknown_cost} unknown" if row.unknown_cost else ""
    known = data["margin"] is not None
    return {
        "requests": row.requests,
        "unpriced": row.unpriced,
        "logged": data["logged_revenue"],
        "replayed": data["replayed_revenue"],
        "difference": data["difference"],
        "upstream": f"{data['upstream_cost']}{unknown}" if known else "unknown",
        "margin": data["margin"] if known else "unknown",
        "replayed_margin": data["replayed_margin"] if known else "unknown",
    }
