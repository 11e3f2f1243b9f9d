"""`burncloud price` commands: model prices (USD per 1M tokens, per request, per unit),
context tiers, aliases, and channels' own cost prices (``--channel ID``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.output import emit, print_json, print_line, print_record
from burncloud.cli.price_options import (
    AudioInputOption,
    AudioOutputOption,
    CachedOption,
    CacheWrite1hOption,
    CacheWriteOption,
    ChannelOption,
    ImageInputOption,
    ImageOutputOption,
    InputOption,
    OutputOption,
    RequestOption,
    parse_amount,
    parse_rates,
)
from burncloud.cli.price_views import LIST_COLUMNS, describe, list_row, record
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.services import price_edits, prices
from burncloud.services.price_coverage import channel_incomplete_kinds, incomplete_kinds
from burncloud.services.pricing import UNIT_BLOCKS, Price, Tier, UnitPrice

app = typer.Typer(
    no_args_is_help=True,
    help="Model prices (USD per 1M tokens, per request, per unit), tiers and aliases.",
)

ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="Model name.")]
AliasOption = Annotated[
    str | None,
    typer.Option("--alias", metavar="OTHER", help="Bill MODEL at OTHER's price instead."),
]
AboveOption = Annotated[
    int,
    typer.Option(
        "--above",
        metavar="TOKENS",
        help="The tier applies when the prompt has more than TOKENS tokens.",
        show_default=False,
    ),
]
DeleteOption = Annotated[bool, typer.Option("--delete", help="Remove it instead.")]


def _text(flag: str, metavar: str, help: str) -> Any:
    return typer.Option(flag, metavar=metavar, help=help, show_default=False)


@app.command("list")
def list_(channel: ChannelOption = None, db: DbOption = None, as_json: JsonOption = False) -> None:
    """List every model's price in USD per 1M tokens (or a --channel's cost prices).

    An alias shows the amounts it resolves to and, in the alias column, the model it
    follows. 'incomplete' names the token kinds the model's channels report that its price
    leaves to bill at the input (or output) price.
    """

    async def action(session: Session) -> None:
        if channel is not None:
            found = await prices.list_channel_prices(session.db, channel)
            gaps = await channel_incomplete_kinds(session.db, channel, found)
        else:
            found = await prices.list_prices(session.db)
            gaps = await incomplete_kinds(session.db, found)
        rows = [{**price.to_json(), "incomplete": gaps[price.model]} for price in found]
        if as_json:
            print_json(rows)
        else:
            emit([list_row(row) for row in rows], as_json=False, columns=LIST_COLUMNS)

    run_read(db, action)


@app.command("get")
def get(
    model: ModelArg, channel: ChannelOption = None, db: DbOption = None, as_json: JsonOption = False
) -> None:
    """Show one model's price: every kind, tier and unit (an alias shows what it resolves to)."""

    async def action(session: Session) -> None:
        price = await prices.get_price(session.db, model, channel)
        if as_json:
            print_json(price.to_json())
        else:
            print_record(record(price))

    run_read(db, action)


@app.command("set")
def set_(
    model: ModelArg,
    input: InputOption = None,
    output: OutputOption = None,
    cached: CachedOption = None,
    cache_write: CacheWriteOption = None,
    cache_write_1h: CacheWrite1hOption = None,
    request: RequestOption = None,
    audio_input: AudioInputOption = None,
    audio_output: AudioOutputOption = None,
    image_input: ImageInputOption = None,
    image_output: ImageOutputOption = None,
    alias: AliasOption = None,
    channel: ChannelOption = None,
    db: DbOption = None,
) -> None:
    """Set MODEL's prices (--input and --output, USD per 1M tokens; the other kinds bill at
    the input or output price unless given), keeping its tiers and units; or make it an
    --alias of another model."""
    texts = {
        "input": input,
        "output": output,
        "cached": cached,
        "cache_write": cache_write,
        "cache_write_1h": cache_write_1h,
        "request": request,
        "audio_input": audio_input,
        "audio_output": audio_output,
        "image_input": image_input,
        "image_output": image_output,
    }
    if alias is not None and (channel is not None or any(texts.values())):
        raise fail("--alias cannot be combined with prices or --channel")
    if alias is None and (input is None or output is None):
        raise fail("price set needs --input and --output (or --alias OTHER)")

    async def action(session: Session) -> Price:
        rates = None if alias is not None else parse_rates(texts)
        async with session.db.transaction() as tx:
            if rates is None:
                return await prices.set_alias(tx, model, alias or "")
            return await price_edits.set_rates(tx, model, rates, channel)

    print_line(describe(run(db, action), channel))


@app.command("tier")
def tier(
    model: ModelArg,
    above: AboveOption,
    input: InputOption = None,
    output: OutputOption = None,
    cached: CachedOption = None,
    cache_write: CacheWriteOption = None,
    cache_write_1h: CacheWrite1hOption = None,
    request: RequestOption = None,
    audio_input: AudioInputOption = None,
    audio_output: AudioOutputOption = None,
    image_input: ImageInputOption = None,
    image_output: ImageOutputOption = None,
    delete: DeleteOption = False,
    channel: ChannelOption = None,
    db: DbOption = None,
) -> None:
    """Set MODEL's context tier: above TOKENS prompt tokens, the prices it names (USD per
    1M tokens) replace the base ones. --delete removes the tier."""
    texts = {
        "input": input,
        "output": output,
        "cached": cached,
        "cache_write": cache_write,
        "cache_write_1h": cache_write_1h,
        "request": request,
        "audio_input": audio_input,
        "audio_output": audio_output,
        "image_input": image_input,
        "image_output": image_output,
    }
    named = any(text is not None for text in texts.values())
    if delete and named:
        raise fail("--delete takes no prices")
    if not delete and not named:
        raise fail("price tier needs the prices it sets, e.g. --input and --output (or --delete)")

    async def action(session: Session) -> Price:
        async with session.db.transaction() as tx:
            if delete:
                return await price_edits.delete_tier(tx, model, above, channel)
            new = Tier(above, parse_rates(texts))
            return await price_edits.set_tier(tx, model, new, channel)

    print_line(describe(run(db, action), channel))


@app.command("unit")
def unit(
    model: ModelArg,
    per: Annotated[
        str,
        typer.Option(
            "--per",
            metavar="UNIT",
            help="image, minute (of audio), characters (1M), search (1,000) or call (1,000).",
            show_default=False,
            autocompletion=one_of(UNIT_BLOCKS),
        ),
    ],
    usd: Annotated[
        str | None, _text("--usd", "USD", "The price of one image, minute, 1M or 1,000 units.")
    ] = None,
    size: Annotated[str | None, _text("--size", "WxH", "An image's size, e.g. 1024x1024.")] = None,
    quality: Annotated[
        str | None, _text("--quality", "Q", "An image's quality, e.g. standard or hd.")
    ] = None,
    tool: Annotated[
        str | None, _text("--tool", "KIND", "A tool call's kind, e.g. web_search.")
    ] = None,
    delete: DeleteOption = False,
    channel: ChannelOption = None,
    db: DbOption = None,
) -> None:
    """Set MODEL's price per unit: per image (by --size and --quality), per minute of
    audio, per 1M characters, per 1,000 searches, per 1,000 tool calls (by --tool)."""
    if delete and usd is not None:
        raise fail("--delete takes no --usd")
    if not delete and usd is None:
        raise fail("price unit needs --usd (or --delete)")

    async def action(session: Session) -> Price:
        variant = price_edits.unit_variant(per, size, quality, tool)
        async with session.db.transaction() as tx:
            if delete:
                return await price_edits.delete_unit(tx, model, per, variant, channel)
            new = UnitPrice(per, parse_amount("--usd", usd or ""), variant)
            return await price_edits.set_unit(tx, model, new, channel)

    print_line(describe(run(db, action), channel))


@app.command("delete")
def delete(model: ModelArg, channel: ChannelOption = None, db: DbOption = None) -> None:
    """Delete MODEL's price (refused while other models alias it), or a --channel's cost price."""

    async def action(session: Session) -> None:
        async with session.db.transaction() as tx:
            await prices.delete_price(tx, model, channel)

    run(db, action)
    if channel is None:
        print_line(f"deleted the price of {model}")
    else:
        print_line(f"deleted channel {channel}'s cost price of {model}")
