"""`burncloud channel keys`: the upstream keys of one channel, each with its own health."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from burncloud.cli.output import emit, print_json
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.services.channel_keys import (
    ChannelKey,
    add_keys,
    list_keys,
    parse_keys_file,
    remove_key,
    set_key_status,
    set_key_weight,
)

app = typer.Typer(no_args_is_help=True, help="Manage a channel's upstream keys.")

ChannelArgument = Annotated[
    int, typer.Argument(metavar="ID", help="Channel id.", show_default=False)
]
KeyArgument = Annotated[
    int, typer.Argument(metavar="KEY_ID", help="Key id (see `channel keys list`).")
]
KeysFileOption = Annotated[
    Path | None,
    typer.Option(
        "--keys-file",
        metavar="FILE",
        help="Read keys from FILE, one per line ('#' comments and blank lines skipped;"
        " '-' reads stdin).",
        show_default=False,
    ),
]
_COLUMNS = [
    ("id", "Key ID"),
    ("key_hint", "Key"),
    ("status", "Status"),
    ("weight", "Weight"),
    ("success_count", "OK"),
    ("failure_count", "Failed"),
    ("used", "Spend (USD)"),
]


def read_keys(keys: list[str] | None, keys_file: Path | None) -> list[str]:
    """The keys given as options (``-`` reads one from stdin) and in a keys file, in order."""
    found = [sys.stdin.readline().strip() if key == "-" else key for key in keys or []]
    if keys_file is not None:
        try:
            text = sys.stdin.read() if str(keys_file) == "-" else keys_file.read_text()
        except OSError as exc:
            raise fail(f"cannot read keys file {keys_file}: {exc.strerror}") from None
        found += parse_keys_file(text)
    return found


@app.command("list")
def list_(channel_id: ChannelArgument, db: DbOption = None, as_json: JsonOption = False) -> None:
    """List a channel's keys (masked), with status, weight and counters."""
    keys = run_read(db, lambda session: list_keys(session.db, channel_id))
    if as_json:
        print_json([key.to_json() for key in keys])
        return
    emit([_row(key) for key in keys], as_json=False, columns=_COLUMNS)


@app.command("add")
def add(
    channel_id: ChannelArgument,
    keys: Annotated[
        list[str] | None,
        typer.Argument(metavar="[KEY]...", help="Keys to add ('-' reads one from stdin)."),
    ] = None,
    keys_file: KeysFileOption = None,
    weight: Annotated[
        int, typer.Option("--weight", metavar="W", help="Weight of each new key in the channel.")
    ] = 1,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Add keys to a channel; a key it already has is refused."""
    plain = read_keys(keys, keys_file)
    if not plain:
        raise fail("give a KEY or --keys-file")

    async def action(session: Session) -> list[ChannelKey]:
        return await add_keys(session.db, await session.secret_box(), channel_id, plain, weight)

    added = run(db, action)
    if as_json:
        print_json([key.to_json() for key in added])
    else:
        ids = ", ".join(str(key.id) for key in added)
        print(f"Added {len(added)} key(s) to channel {channel_id}: {ids}")


@app.command("remove")
def remove(channel_id: ChannelArgument, key_id: KeyArgument, db: DbOption = None) -> None:
    """Remove one key (a channel keeps at least one)."""
    run(db, lambda session: remove_key(session.db, channel_id, key_id))
    print(f"Removed key {key_id} of channel {channel_id}")


@app.command("enable")
def enable(channel_id: ChannelArgument, key_id: KeyArgument, db: DbOption = None) -> None:
    """Put a key back in rotation (also one that health checks disabled)."""
    run(db, lambda session: set_key_status(session.db, channel_id, key_id, "enabled"))
    print(f"Enabled key {key_id} of channel {channel_id}")


@app.command("disable")
def disable(
    channel_id: ChannelArgument,
    key_id: KeyArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, shown in `keys list`.")] = "",
    db: DbOption = None,
) -> None:
    """Take a key out of rotation (not the channel's last enabled one)."""
    run(db, lambda session: set_key_status(session.db, channel_id, key_id, "disabled", reason))
    print(f"Disabled key {key_id} of channel {channel_id}")


@app.command("weight")
def weight(
    channel_id: ChannelArgument,
    key_id: KeyArgument,
    value: Annotated[int, typer.Argument(metavar="W", help="Weight (0: last resort).")],
    db: DbOption = None,
) -> None:
    """Set how often a key is picked within its channel (random selection)."""
    run(db, lambda session: set_key_weight(session.db, channel_id, key_id, value))
    print(f"Key {key_id} of channel {channel_id} has weight {value}")


def _row(key: ChannelKey) -> dict[str, object]:
    data = key.to_json()
    if key.status_reason:
        data["status"] = f"{key.status} ({key.status_reason})"
    return data
