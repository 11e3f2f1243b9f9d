"""`burncloud channel` commands: upstream accounts, their keys, models and routing weights."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from burncloud.cli import channel_balance, channel_keys, channel_models, channel_probe
from burncloud.cli.channel_keys import KeysFileOption, read_keys
from burncloud.cli.channel_options import (
    AutoSyncOption,
    BalanceApiOption,
    BalanceBelowOption,
    BalanceEveryOption,
    ConcurrencyOption,
    DropParamOption,
    KeySelectionOption,
    RpmOption,
    SetHeaderOption,
    SetParamOption,
    TagOption,
    TpmOption,
    UnsetHeaderOption,
    UnsetParamOption,
    channel_changes,
    override_specs,
)
from burncloud.cli.channel_probe import CAPABILITY_HELP, parse_capability_options
from burncloud.cli.completions import one_of
from burncloud.cli.output import emit, print_json, print_line
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.money import format_usd
from burncloud.providers.registry import CHANNEL_KINDS, ENDPOINT_NAMES
from burncloud.services.capabilities import (
    CapabilityRow,
    capability_rows,
    describe,
    set_capabilities,
)
from burncloud.services.channel_keys import ChannelKey, list_keys
from burncloud.services.channel_overrides import changed_overrides, overrides_from
from burncloud.services.channel_types import parse_pairs, served_endpoints
from burncloud.services.channels import (
    Channel,
    UrlCheck,
    add_channel,
    delete_channel,
    disable_channel,
    enable_channel,
    get_channel,
    list_channels,
    set_status_by_tag,
    tagged_channels,
    update_channel,
)
from burncloud.services.upstream_balance import StoredBalance, stored_balance, stored_balances

if TYPE_CHECKING:
    from burncloud.services.channel_test import ChannelTestResult

app = typer.Typer(no_args_is_help=True, help="Manage channels (upstream provider accounts).")
app.add_typer(channel_keys.app, name="keys")
app.command("models")(channel_models.models)
app.command("balance")(channel_balance.balance)
app.command("probe")(channel_probe.probe)

IdArgument = Annotated[int, typer.Argument(metavar="ID", help="Channel id.", show_default=False)]
_TYPES = ", ".join(CHANNEL_KINDS)
_HELP = {
    "type": f"Channel type: {_TYPES}.",
    "name": "A name for the channel.",
    "key": "An upstream API key ('-' reads it from stdin; repeatable; on update the keys"
    " given replace every key).",
    "base-url": "Upstream base URL (default: the provider's; required for azure and "
    "openai-compatible).",
    "models": "Models the channel serves, comma-separated (repeatable).",
    "group": "Groups that may use the channel, comma-separated (repeatable).",
    "weight": "Weight inside its priority tier (0 = round robin).",
    "priority": "Priority tier: higher tiers are tried first.",
    "map": "Model mapping FROM=TO, FROM one of --models (repeatable).",
    "config": "Provider config KEY=VALUE, e.g. region=us-east-1 (repeatable).",
    "endpoints": f"Endpoints an openai-compatible channel serves instead of its kind's:"
    f" some of {','.join(ENDPOINT_NAMES)} ('' on update: the kind's again).",
    "cost-ratio": "What the upstream charges us, as a share of the list price (0.3 = 30%);"
    " a cost price of its own (`price set MODEL --channel ID`) wins.",
}
_COLUMNS = [
    ("id", "ID"),
    ("name", "Name"),
    ("type", "Type"),
    ("status", "Status"),
    ("models", "Models"),
    ("groups", "Groups"),
    ("priority", "Priority"),
    ("weight", "Weight"),
    ("cost_ratio", "Cost ratio"),
    ("key_hint", "Key"),
    ("base_url", "Base URL"),
    ("latency", "Latency"),
    ("success_rate", "Success"),
    ("spend", "Spend (USD)"),
    ("balance", "Balance"),
]
_TEST_COLUMNS = [
    ("channel_id", "ID"),
    ("name", "Name"),
    ("type", "Type"),
    ("model", "Model"),
    ("result", "Result"),
    ("status", "Status"),
    ("latency", "Latency"),
    ("error", "Error"),
]
REASON_WIDTH = 40


def _option(flag: str, metavar: str, *, show_default: bool = False) -> Any:
    values = {"type": one_of(CHANNEL_KINDS), "endpoints": one_of(ENDPOINT_NAMES)}.get(flag)
    return typer.Option(
        f"--{flag}",
        metavar=metavar,
        help=_HELP[flag],
        show_default=show_default,
        autocompletion=values,
    )


@app.command("add")
def add(
    type_: Annotated[str, _option("type", "TYPE")],
    name: Annotated[str, _option("name", "NAME")],
    models: Annotated[list[str], _option("models", "A,B")],
    key: Annotated[list[str] | None, _option("key", "KEY")] = None,
    keys_file: KeysFileOption = None,
    base_url: Annotated[str | None, _option("base-url", "URL")] = None,
    group: Annotated[list[str] | None, _option("group", "G,H")] = None,
    weight: Annotated[int, _option("weight", "W", show_default=True)] = 1,
    priority: Annotated[int, _option("priority", "P", show_default=True)] = 0,
    maps: Annotated[list[str] | None, _option("map", "FROM=TO")] = None,
    config: Annotated[list[str] | None, _option("config", "KEY=VALUE")] = None,
    cost_ratio: Annotated[str, _option("cost-ratio", "R", show_default=True)] = "1",
    endpoints: Annotated[list[str] | None, _option("endpoints", "A,B")] = None,
    key_selection: KeySelectionOption = None,
    tag: TagOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    max_concurrency: ConcurrencyOption = None,
    auto_sync: AutoSyncOption = None,
    balance_api: BalanceApiOption = None,
    balance_every: BalanceEveryOption = None,
    balance_alert_below: BalanceBelowOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a channel with one key or many (--key repeated, --keys-file); keys are stored
    encrypted and shown only masked."""
    plain_keys = read_keys(key, keys_file)
    if not plain_keys:
        raise fail("give the channel a key: --key KEY (repeatable) or --keys-file FILE")
    options = channel_changes(
        key_selection=key_selection,
        tags=tag,
        rpm=rpm,
        tpm=tpm,
        max_concurrency=max_concurrency,
        auto_sync=auto_sync,
        balance_api=balance_api,
        balance_every=balance_every,
        balance_alert_below=balance_alert_below,
    )

    async def action(session: Session) -> Channel:
        return await add_channel(
            session.db,
            await session.secret_box(),
            type=type_,
            name=name,
            key=plain_keys,
            models=models,
            base_url=base_url,
            groups=group or ["default"],
            weight=weight,
            priority=priority,
            model_map=parse_pairs(maps or [], "map"),
            config=parse_pairs(config or [], "config"),
            cost_ratio=cost_ratio,
            endpoints=endpoints,
            check_url=url_check(session) if base_url else None,
            **options,
        )

    channel = run(db, action)
    if as_json:
        print_json({"id": channel.id})
    else:
        print(f"Added channel {channel.id}")


@app.command("list")
def list_(
    tag: Annotated[
        str | None, typer.Option("--tag", metavar="T", help="Only channels tagged T.")
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List every channel (or those tagged T) with its status, models, key hint and
    upstream balance as last checked."""

    async def action(session: Session) -> tuple[list[Channel], dict[int, StoredBalance]]:
        found = await (
            list_channels(session.db) if tag is None else tagged_channels(session.db, tag)
        )
        return found, await stored_balances(session.db)

    channels, balances = run_read(db, action)
    if as_json:
        print_json(
            [
                {**channel.to_json(), "balance": _balance_json(balances.get(channel.id))}
                for channel in channels
            ]
        )
    else:
        rows = [_table_row(channel, balances.get(channel.id)) for channel in channels]
        emit(rows, as_json=False, columns=_COLUMNS)


def _balance_json(stored: StoredBalance | None) -> dict[str, Any] | None:
    return None if stored is None else stored.to_json()


@dataclass(frozen=True, slots=True)
class _Shown:
    """What `channel show` reads about one channel."""

    channel: Channel
    keys: list[ChannelKey]
    capabilities: list[CapabilityRow]
    balance: StoredBalance | None


@app.command("show")
def show(channel_id: IdArgument, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show one channel (its keys only as hints), the endpoints it serves, its overrides,
    capabilities and upstream balance, its last test and its spend."""

    async def action(session: Session) -> _Shown:
        channel = await get_channel(session.db, channel_id)
        return _Shown(
            channel,
            await list_keys(session.db, channel_id),
            await capability_rows(session.db, channel_id),
            await stored_balance(session.db, channel_id),
        )

    found = run_read(db, action)
    channel, keys, balance = found.channel, found.keys, found.balance
    shown = {
        **channel.to_json(),
        "endpoints": list(served_endpoints(channel.type, channel.config)),
        "keys": [key.to_json() for key in keys],
        "capabilities": [row.to_json() for row in found.capabilities],
        "balance": None if balance is None else balance.to_json(),
    }
    if as_json:
        print_json(shown)
        return
    shown["keys"] = ", ".join(_key_line(key) for key in keys)
    shown["overrides"] = "; ".join(overrides_from(channel.overrides).describe()) or "-"
    shown["capabilities"] = "; ".join(describe(found.capabilities)) or "-"
    shown["balance"] = "-" if balance is None else balance.cell()
    emit({**shown, "success_rate": _success_rate(channel)}, as_json=False)


def _key_line(key: ChannelKey) -> str:
    """``12 sk-...ab12 enabled`` (``w3`` when its weight is not 1)."""
    weight = f" w{key.weight}" if key.weight != 1 else ""
    return f"{key.id} {key.key_hint} {key.status}{weight}"


@app.command("test")
def test(
    channel_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Channel id.", show_default=False)
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Test every channel.")] = False,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            metavar="MODEL",
            help="Model to ask for (default: the first).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Send one tiny chat request ("hi", max_tokens 1) through a channel (or --all).

    Records latency and success/failure on the channel; never enables or disables it.
    Exit code 0 when every tested channel answered, 1 otherwise, so scripts can check it.
    """
    if (channel_id is None) == (not every):
        raise fail("give a channel ID or --all (not both)")
    if every and model is not None:
        raise fail("--model needs a channel ID (--all tests each channel's first model)")
    if channel_id is None:
        results = run(db, _test_all)
        _print_results(results, as_json)
    else:
        results = [run(db, lambda session: _test_one(session, channel_id, model))]
        if as_json:
            print_json(results[0].to_json())
        else:
            print_line(_result_line(results[0]))  # holds the upstream's error text
    if not all(result.ok for result in results):
        raise typer.Exit(code=1)


@app.command("update")
def update(
    channel_id: IdArgument,
    type_: Annotated[str | None, _option("type", "TYPE")] = None,
    name: Annotated[str | None, _option("name", "NAME")] = None,
    key: Annotated[list[str] | None, _option("key", "KEY")] = None,
    keys_file: KeysFileOption = None,
    models: Annotated[list[str] | None, _option("models", "A,B")] = None,
    base_url: Annotated[str | None, _option("base-url", "URL")] = None,
    group: Annotated[list[str] | None, _option("group", "G,H")] = None,
    weight: Annotated[int | None, _option("weight", "W")] = None,
    priority: Annotated[int | None, _option("priority", "P")] = None,
    maps: Annotated[list[str] | None, _option("map", "FROM=TO")] = None,
    config: Annotated[list[str] | None, _option("config", "KEY=VALUE")] = None,
    cost_ratio: Annotated[str | None, _option("cost-ratio", "R")] = None,
    endpoints: Annotated[list[str] | None, _option("endpoints", "A,B")] = None,
    key_selection: KeySelectionOption = None,
    tag: TagOption = None,
    rpm: RpmOption = None,
    tpm: TpmOption = None,
    max_concurrency: ConcurrencyOption = None,
    auto_sync: AutoSyncOption = None,
    balance_api: BalanceApiOption = None,
    balance_every: BalanceEveryOption = None,
    balance_alert_below: BalanceBelowOption = None,
    set_header: SetHeaderOption = None,
    unset_header: UnsetHeaderOption = None,
    set_param: SetParamOption = None,
    drop_param: DropParamOption = None,
    unset_param: UnsetParamOption = None,
    capability: Annotated[
        list[str] | None,
        typer.Option(
            "--capability", metavar="[MODEL:]NAME=VALUE", help=CAPABILITY_HELP, show_default=False
        ),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a channel's settings; --map and --config replace the whole map ('' clears);
    --key/--keys-file replace every key (`channel keys` adds and removes single keys);
    the override options change one override each, the others stay."""
    plain_key = read_keys(key, keys_file) if key is not None or keys_file is not None else None
    options = channel_changes(
        key_selection=key_selection,
        tags=tag,
        rpm=rpm,
        tpm=tpm,
        max_concurrency=max_concurrency,
        auto_sync=auto_sync,
        balance_api=balance_api,
        balance_every=balance_every,
        balance_alert_below=balance_alert_below,
    )
    overriding = override_specs(set_header, unset_header, set_param, drop_param, unset_param)
    specs = parse_capability_options(capability) if capability else []
    basics = (type_, name, plain_key, models, base_url, group, weight, priority, maps, config)
    only_capabilities = bool(specs) and not options and overriding is None
    only_capabilities = only_capabilities and all(
        value is None for value in (*basics, cost_ratio, endpoints)
    )

    async def action(session: Session) -> Channel:
        if overriding is not None:
            old = overrides_from((await get_channel(session.db, channel_id)).overrides)
            options["overrides"] = changed_overrides(old, **overriding).to_data()
        if only_capabilities:
            await set_capabilities(session.db, channel_id, specs)
            return await get_channel(session.db, channel_id)
        channel = await update_channel(
            session.db,
            await session.secret_box() if plain_key is not None else None,
            channel_id,
            type=type_,
            name=name,
            key=plain_key,
            models=models,
            base_url=base_url,
            groups=group,
            weight=weight,
            priority=priority,
            model_map=parse_pairs(maps, "map") if maps is not None else None,
            config=parse_pairs(config, "config") if config is not None else None,
            cost_ratio=cost_ratio,
            endpoints=endpoints,
            check_url=url_check(session) if base_url else None,
            **options,
        )
        if specs:  # after the update: a model it adds may be named
            await set_capabilities(session.db, channel_id, specs)
        return channel

    channel = run(db, action)
    if as_json:
        print_json(channel.to_json())
    else:
        print(f"Updated channel {channel.id}")


OptionalIdArgument = Annotated[
    int | None, typer.Argument(metavar="[ID]", help="Channel id.", show_default=False)
]
ByTagOption = Annotated[
    str | None,
    typer.Option("--tag", metavar="T", help="Every channel tagged T instead of one ID."),
]


@app.command("enable")
def enable(
    channel_id: OptionalIdArgument = None, tag: ByTagOption = None, db: DbOption = None
) -> None:
    """Put a channel (or every channel tagged T) back in rotation."""
    if tag is not None:
        _by_tag(db, channel_id, tag, "enabled", "")
        return
    run(db, lambda session: enable_channel(session.db, _one_id(channel_id)))
    print(f"Enabled channel {channel_id}")


@app.command("disable")
def disable(
    channel_id: OptionalIdArgument = None,
    tag: ByTagOption = None,
    reason: Annotated[str, typer.Option("--reason", help="Why, shown in `channel list`.")] = "",
    db: DbOption = None,
) -> None:
    """Take a channel (or every channel tagged T) out of rotation."""
    if tag is not None:
        _by_tag(db, channel_id, tag, "disabled", reason)
        return
    run(db, lambda session: disable_channel(session.db, _one_id(channel_id), reason))
    print(f"Disabled channel {channel_id}")


def _one_id(channel_id: int | None) -> int:
    if channel_id is None:
        raise fail("give a channel ID or --tag T")
    return channel_id


def _by_tag(db: str | None, channel_id: int | None, tag: str, status: str, reason: str) -> None:
    """Set the status of every channel tagged ``tag`` and name them."""
    if channel_id is not None:
        raise fail("give a channel ID or --tag T (not both)")
    changed = run(db, lambda session: set_status_by_tag(session.db, tag, status, reason))
    ids = ", ".join(str(channel.id) for channel in changed)
    print(f"{status.capitalize()} {len(changed)} channel(s) tagged {tag!r}: {ids}")


@app.command("delete")
def delete(channel_id: IdArgument, db: DbOption = None) -> None:
    """Delete a channel and its abilities."""
    run(db, lambda session: delete_channel(session.db, channel_id))
    print(f"Deleted channel {channel_id}")


def url_check(session: Session) -> UrlCheck:
    """The base-URL guard under this environment's BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS."""
    # Imported here: aiohttp, which the guard shares with the router, slows each CLI start.
    from burncloud.gateway.egress.upstream_guard import check_base_url

    return partial(check_base_url, allow_private=session.settings.allow_private_upstreams)


async def _test_one(session: Session, channel_id: int, model: str | None) -> ChannelTestResult:
    import httpx  # imported here: every provider and httpx would slow each CLI start-up

    from burncloud.services.channel_test import test_channel

    box = await session.secret_box()
    async with httpx.AsyncClient() as client:
        return await test_channel(session.db, box, channel_id, model, client=client)


async def _test_all(session: Session) -> list[ChannelTestResult]:
    import httpx

    from burncloud.services.channel_test import test_all_channels

    box = await session.secret_box()
    async with httpx.AsyncClient() as client:
        return await test_all_channels(session.db, box, client)


def _result_line(result: ChannelTestResult) -> str:
    """``channel 3 "main": ok 200 in 412 ms (gpt-4o-mini)`` or ``... failed 401 in ...: why``."""
    head = f'channel {result.channel_id} "{result.name}": '
    code = f" {result.status}" if result.status is not None else ""
    timing = f"{code} in {result.latency_ms} ms"
    if result.ok:
        return f"{head}ok{timing} ({_model_label(result)})"
    return f"{head}failed{timing}: {result.error}"


def _print_results(results: list[ChannelTestResult], as_json: bool) -> None:
    if as_json:
        print_json([result.to_json() for result in results])
        return
    rows = [
        {
            **result.to_json(),
            "model": _model_label(result),
            "result": "ok" if result.ok else "failed",
            "latency": f"{result.latency_ms} ms",
        }
        for result in results
    ]
    emit(rows, as_json=False, columns=_TEST_COLUMNS)


def _model_label(result: ChannelTestResult) -> str:
    if result.upstream_model == result.model:
        return result.model
    return f"{result.model} -> {result.upstream_model}"


def _table_row(channel: Channel, balance: StoredBalance | None) -> dict[str, Any]:
    status = channel.status
    if channel.status_reason:
        status += f" ({_shorten(channel.status_reason, REASON_WIDTH)})"
    latency = f"{channel.latency_ms} ms" if channel.latency_ms is not None else "-"
    return {
        **channel.to_json(),
        "status": status,
        "latency": latency,
        "success_rate": _success_rate(channel),
        "spend": format_usd(channel.used),
        "balance": "" if balance is None else balance.cell(),
    }


def _success_rate(channel: Channel) -> str:
    """Successes over all tests as a percentage, rounded down to 0.1 % ("-" if untested);
    rounding down keeps one failure in a thousand from showing as 100 %."""
    total = channel.success_count + channel.failure_count
    if total == 0:
        return "-"
    tenths = channel.success_count * 1000 // total
    whole, fraction = divmod(tenths, 10)
    return f"{whole}%" if fraction == 0 else f"{whole}.{fraction}%"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
