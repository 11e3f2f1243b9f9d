"""`burncloud price export` and `price import`: every price as a catalog file, and syncing
the stored prices with one (ours in YAML or JSON, or LiteLLM's price file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.files import TextFormatOption, chosen_format, read_text_file, write_text_file
from burncloud.cli.output import print_line
from burncloud.cli.session import DbOption, Session, fail, run, run_read
from burncloud.errors import InvalidRequest
from burncloud.services.price_catalog import FILE_FORMATS, Catalog, dump_catalog
from burncloud.services.price_sync import READ_FORMATS, read_catalog, sync_prices, wanted_catalog
from burncloud.services.tokens import split_list

PricesFileFormat = Annotated[
    str | None,
    typer.Option(
        "--format",
        metavar="|".join(READ_FORMATS),
        autocompletion=one_of(READ_FORMATS),
        help="The file's format (default: from its extension, else yaml).",
        show_default=False,
    ),
]


def export(
    file_format: TextFormatOption = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="FILE", help="Write to FILE instead of stdout."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write every price, tier, unit, alias and channel cost price as a catalog file.

    Amounts are USD (per 1M tokens, per request, or per the unit's block) as decimal
    strings; models sorted. A channel is keyed by its name, or by #ID when channels share
    that name.
    """
    chosen = chosen_format(file_format, output, FILE_FORMATS)

    async def action(session: Session) -> None:
        catalog, _ = await read_catalog(session.db)
        text = dump_catalog(catalog, chosen)
        if output is None:
            typer.echo(text, nl=False)
            return
        write_text_file(output, text)
        print_line(f"wrote {_count(catalog)} to {output}")

    run_read(db, action)


def import_(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The catalog file to import.")],
    file_format: PricesFileFormat = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the changes; apply nothing.")
    ] = False,
    prune: Annotated[
        bool,
        typer.Option("--prune", help="Also delete the stored prices the file does not name."),
    ] = False,
    only: Annotated[
        str | None,
        typer.Option(
            "--only", metavar="MODEL,...", help="LiteLLM: only these models (and their targets)."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Make the stored prices what FILE says, in one transaction, and print the diff.

    Prices the file names are added or replaced whole (tiers and units included); prices
    it does not name are kept, unless --prune deletes them. Nothing is applied when any
    entry is wrong.
    """
    chosen = chosen_format(file_format, file, READ_FORMATS)
    wanted = read_prices_file(file, chosen, only)

    async def action(session: Session) -> None:
        diff = await sync_prices(session.db, wanted, prune=prune, dry_run=dry_run)
        for change in diff.changes:
            print_line(change.describe())
        outcome = "dry run, nothing applied" if dry_run else "applied"
        print_line(f"{diff.summary()} ({outcome})" if diff.changes else diff.summary())

    run_read(db, action) if dry_run else run(db, action)


def read_prices_file(path: Path, file_format: str, only: str | None = None) -> Catalog:
    """The catalog a price file holds (LiteLLM's: its prices, after printing what it could
    not take); the one-line error if the file cannot be read or is not one."""
    text = read_text_file(path)
    try:
        wanted, litellm = wanted_catalog(text, file_format, split_list(only or ""))
    except InvalidRequest as exc:
        raise fail(f"{path}: {exc.message}") from None
    if litellm is not None:
        print_line(litellm.report())
    return wanted


def _count(catalog: Catalog) -> str:
    aliases = sum(1 for price in catalog.prices.values() if price.alias_of is not None)
    channel_prices = sum(len(table) for table in catalog.channels.values())
    return (
        f"{len(catalog.prices) - aliases} prices, {aliases} aliases"
        f" and {channel_prices} channel cost prices"
    )
