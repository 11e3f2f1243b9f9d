"""`burncloud channel` commands: upstream accounts, their keys, models and routing weights."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from burncloud.cli.output import emit, print_json
from burncloud.cli.session import DbOption, JsonOption, Session, run
from burncloud.services.channel_types import CHANNEL_TYPES, parse_pairs
from burncloud.services.channels import (
    Channel,
    add_channel,
    delete_channel,
    disable_channel,
    enable_channel,
    get_channel,
    list_channels,
    update_channel,
)

app = typer.Typer(no_args_is_help=True, help="Manage channels (upstream provider accounts).")

IdArgument = Annotated[int, typer.Argument(metavar="ID", help="Channel id.", show_default=False)]
_TYPES = ", ".join(CHANNEL_TYPES)
_HELP = {
    "type": f"Channel type: {_TYPES}.",
    "name": "A name for the channel.",
    "key": "The upstream API key ('-' reads it from stdin).",
    "base-url": "Upstream base URL (default: the provider's; required for azure and "
    "openai-compatible).",
    "models": "Models the channel serves, comma-separated (repeatable).",
    "group": "Groups that may use the channel, comma-separated (repeatable).",
    "weight": "Weight inside its priority tier (0 = round robin).",
    "priority": "Priority tier: higher tiers are tried first.",
    "map": "Model mapping FROM=TO, FROM one of --models (repeatable).",
    "config": "Provider config KEY=VALUE, e.g. region=us-east-1 (repeatable).",
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
    ("key_hint", "Key"),
    ("base_url", "Base URL"),
    ("latency", "Latency"),
    ("used", "Used"),
]


def _option(flag: str, metavar: str, *, show_default: bool = False) -> Any:
    return typer.Option(f"--{flag}", metavar=metavar, help=_HELP[flag], show_default=show_default)


@app.command("add")
def add(
    type_: Annotated[str, _option("type", "TYPE")],
    name: Annotated[str, _option("name", "NAME")],
    key: Annotated[str, _option("key", "KEY")],
    models: Annotated[list[str], _option("models", "A,B")],
    base_url: Annotated[str | None, _option("base-url", "URL")] = None,
    group: Annotated[list[str] | None, _option("group", "G,H")] = None,
    weight: Annotated[int, _option("weight", "W", show_default=True)] = 1,
    priority: Annotated[int, _option("priority", "P", show_default=True)] = 0,
    maps: Annotated[list[str] | None, _option("map", "FROM=TO")] = None,
    config: Annotated[list[str] | None, _option("config", "KEY=VALUE")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add a channel; its key is stored encrypted and shown only masked."""
    plain_key = _read_key(key)

    async def action(session: Session) -> Channel:
        return await add_channel(
            session.db,
            await session.secret_box(),
            type=type_,
            name=name,
            key=plain_key,
            models=models,
            base_url=base_url,
            groups=group or ["default"],
            weight=weight,
            priority=priority,
            model_map=parse_pairs(maps or [], "map"),
            config=parse_pairs(config or [], "config"),
        )

    channel = run(db, action)
    if as_json:
        print_json({"id": channel.id})
    else:
        print(f"Added channel {channel.id}")


@app.command("list")
def list_(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List every channel with its status, models and key hint."""
    channels = run(db, lambda session: list_channels(session.db))
    if as_json:
        print_json([channel.to_json() for channel in channels])
    else:
        emit([_table_row(channel) for channel in channels], as_json=False, columns=_COLUMNS)


@app.command("show")
def show(channel_id: IdArgument, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show one channel (its key only as a hint)."""
    channel = run(db, lambda session: get_channel(session.db, channel_id))
    emit(channel.to_json(), as_json=as_json)


@app.command("update")
def update(
    channel_id: IdArgument,
    type_: Annotated[str | None, _option("type", "TYPE")] = None,
    name: Annotated[str | None, _option("name", "NAME")] = None,
    key: Annotated[str | None, _option("key", "KEY")] = None,
    models: Annotated[list[str] | None, _option("models", "A,B")] = None,
    base_url: Annotated[str | None, _option("base-url", "URL")] = None,
    group: Annotated[list[str] | None, _option("group", "G,H")] = None,
    weight: Annotated[int | None, _option("weight", "W")] = None,
    priority: Annotated[int | None, _option("priority", "P")] = None,
    maps: Annotated[list[str] | None, _option("map", "FROM=TO")] = None,
    config: Annotated[list[str] | None, _option("config", "KEY=VALUE")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a channel's settings; --map and --config replace the whole map ('' clears)."""
    plain_key = _read_key(key) if key is not None else None

    async def action(session: Session) -> Channel:
        return await update_channel(
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
        )

    channel = run(db, action)
    if as_json:
        print_json(channel.to_json())
    else:
        print(f"Updated channel {channel.id}")


@app.command("enable")
def enable(channel_id: IdArgument, db: DbOption = None) -> None:
    """Put a channel back in rotation."""
    run(db, lambda session: enable_channel(session.db, channel_id))
    print(f"Enabled channel {channel_id}")


@app.command("disable")
def disable(
    channel_id: IdArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, shown in `channel list`.")] = "",
    db: DbOption = None,
) -> None:
    """Take a channel out of rotation."""
    run(db, lambda session: disable_channel(session.db, channel_id, reason))
    print(f"Disabled channel {channel_id}")


@app.command("delete")
def delete(channel_id: IdArgument, db: DbOption = None) -> None:
    """Delete a channel and its abilities."""
    run(db, lambda session: delete_channel(session.db, channel_id))
    print(f"Deleted channel {channel_id}")


def _read_key(key: str) -> str:
    """The key as given, or the first line of stdin for '-' (keeps it out of shell history)."""
    return sys.stdin.readline().strip() if key == "-" else key


def _table_row(channel: Channel) -> dict[str, Any]:
    status = channel.status
    if channel.status_reason:
        status += f" ({channel.status_reason})"
    latency = f"{channel.latency_ms} ms" if channel.latency_ms is not None else ""
    return {**channel.to_json(), "status": status, "latency": latency}
