"""`burncloud price` commands: model prices in USD per 1M tokens, and aliases."""

from __future__ import annotations

from typing import Annotated

import typer

from burncloud.cli.output import emit
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.errors import InvalidRequest
from burncloud.money import format_usd, parse_usd
from burncloud.services import prices
from burncloud.services.pricing import Price

app = typer.Typer(
    no_args_is_help=True,
    help="Model prices in USD per 1M tokens (input, output, cached input) and aliases.",
)

COLUMNS = [
    ("model", "model"),
    ("input", "input"),
    ("output", "output"),
    ("cached", "cached"),
    ("alias", "alias"),
]

ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Model name.")]
InputOption = Annotated[
    str | None, typer.Option("--input", metavar="USD", help="Input price, USD per 1M tokens.")
]
OutputOption = Annotated[
    str | None, typer.Option("--output", metavar="USD", help="Output price, USD per 1M tokens.")
]
CachedOption = Annotated[
    str | None,
    typer.Option("--cached", metavar="USD", help="Cached-input price per 1M (default: input)."),
]
AliasOption = Annotated[
    str | None,
    typer.Option("--alias", metavar="OTHER", help="Bill MODEL at OTHER's price instead."),
]


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List every model's price in USD per 1M tokens.

    An alias shows the amounts it resolves to and, in the alias column, the model it follows.
    """

    async def action(session: Session) -> None:
        rows = [price.to_json() for price in await prices.list_prices(session.db)]
        emit(rows, as_json=as_json, columns=COLUMNS)

    run_read(db, action)


@app.command("get")
def get(model: ModelArg, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show one model's price (an alias shows the amounts it resolves to)."""

    async def action(session: Session) -> None:
        emit((await prices.get_price(session.db, model)).to_json(), as_json=as_json)

    run_read(db, action)


@app.command("set")
def set_(
    model: ModelArg,
    input: InputOption = None,
    output: OutputOption = None,
    cached: CachedOption = None,
    alias: AliasOption = None,
    db: DbOption = None,
) -> None:
    """Set MODEL's price (--input and --output, optional --cached) or make it an --alias."""
    if alias is not None and (input, output, cached) != (None, None, None):
        raise fail("--alias cannot be combined with --input, --output or --cached")
    if alias is None and (input is None or output is None):
        raise fail("price set needs --input and --output (or --alias OTHER)")

    async def action(session: Session) -> None:
        amounts = None if alias is not None else _amounts(input, output, cached)
        async with session.db.transaction() as tx:
            if amounts is None:
                price = await prices.set_alias(tx, model, alias or "")
            else:
                price = await prices.set_price(tx, model, *amounts)
        print(_describe(price))

    run(db, action)


@app.command("delete")
def delete(model: ModelArg, db: DbOption = None) -> None:
    """Delete MODEL's price (refused while other models alias it)."""

    async def action(session: Session) -> None:
        async with session.db.transaction() as tx:
            await prices.delete_price(tx, model)
        print(f"deleted the price of {model}")

    run(db, action)


def _amounts(
    input: str | None, output: str | None, cached: str | None
) -> tuple[int, int, int | None]:
    """The --input, --output and --cached options as nano-USD per 1M tokens."""
    return (
        _amount("--input", input or ""),
        _amount("--output", output or ""),
        None if cached is None else _amount("--cached", cached),
    )


def _describe(price: Price) -> str:
    """One line saying what a model now costs."""
    alias = f"alias of {price.alias_of}, " if price.alias_of else ""
    cached = "" if price.cached is None else f", cached {format_usd(price.cached)}"
    return (
        f"{price.model}: {alias}input {format_usd(price.input)}, "
        f"output {format_usd(price.output)}{cached} USD per 1M tokens"
    )


def _amount(option: str, text: str) -> int:
    """Parse a USD-per-1M option into nano-USD, naming the option in any error."""
    try:
        return parse_usd(text)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{option}: {exc.message}") from None
