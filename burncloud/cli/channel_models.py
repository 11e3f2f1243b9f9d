"""`burncloud channel models ID`: a channel's models and their prices, what its upstream
offers (``--fetch``), and bringing the two in step (``--sync [--add-only] [--dry-run]``);
and ``parse_interval`` for ``channel update --auto-sync 24h``.

The upstream is asked over httpx (imported only when it is), each URL through the address
guard under BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS. Models without a price are listed as such:
the router serves each only once it is priced.
"""

from __future__ import annotations

import re
import sys
from contextlib import AbstractAsyncContextManager
from functools import partial
from typing import Annotated, Any

import typer

from burncloud.cli.output import emit, print_json, print_line
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run, run_read
from burncloud.errors import InvalidRequest
from burncloud.services.channels import MIN_AUTO_SYNC, get_channel
from burncloud.services.model_listing import (
    JsonGetter,
    UpstreamModels,
    fetch_upstream_models,
    httpx_getter,
)
from burncloud.services.model_sync import (
    ChannelModel,
    OfferedModel,
    SyncResult,
    channel_models,
    offered_models,
    sync_channel_models,
)
from burncloud.services.stats import parse_window

ChannelId = Annotated[int, typer.Argument(metavar="ID", help="Channel id.", show_default=False)]
MODEL_COLUMNS = [("model", "Model"), ("upstream", "Upstream model"), ("price", "Price")]
OFFERED_COLUMNS = [("model", "Upstream model"), ("served_as", "Channel model"), ("price", "Price")]
_OFF = frozenset({"0", "off", "never"})
_SECONDS = re.compile(r"\d+")


def models(
    channel_id: ChannelId,
    fetch: Annotated[
        bool, typer.Option("--fetch", help="List what the upstream offers now.")
    ] = False,
    sync: Annotated[
        bool,
        typer.Option("--sync", help="Add the upstream's new models, remove those it dropped."),
    ] = False,
    add_only: Annotated[
        bool, typer.Option("--add-only", help="With --sync: keep the models it dropped.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --sync: show the diff, change nothing.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List a channel's models and whether each is priced; --fetch lists what its upstream
    offers, --sync brings the channel in step and prints the diff. A model without a
    price is never served until priced (`burncloud price set MODEL ...`)."""
    if fetch and sync:
        raise fail("--fetch lists, --sync changes: give one of them")
    if (add_only or dry_run) and not sync:
        raise fail("--add-only and --dry-run go with --sync")
    if sync:
        _sync(channel_id, add_only, dry_run, db, as_json)
    elif fetch:
        _fetch(channel_id, db, as_json)
    else:
        _list(channel_id, db, as_json)


def parse_interval(text: str) -> int:
    """Seconds between automatic syncs for ``--auto-sync``: ``24h``, ``30m``, ``7d``, a
    number of seconds, or 0 / ``off`` (no automatic sync); InvalidRequest otherwise."""
    text = text.strip().lower()
    if text in _OFF:
        return 0
    try:
        seconds = int(text) if _SECONDS.fullmatch(text) else parse_window(text)
    except InvalidRequest:
        raise InvalidRequest(
            f"invalid --auto-sync {text!r}: use an interval like 24h, 30m or 7d, or off"
        ) from None
    if seconds < MIN_AUTO_SYNC:
        raise InvalidRequest(f"--auto-sync must be at least {MIN_AUTO_SYNC // 60}m (or off)")
    return seconds


def _list(channel_id: int, db: str | None, as_json: bool) -> None:
    found = run_read(db, lambda session: channel_models(session.db, channel_id))
    if as_json:
        print_json({"channel_id": channel_id, "models": [m.to_json() for m in found]})
        return
    emit([_model_row(m) for m in found], as_json=False, columns=MODEL_COLUMNS)
    _unpriced_note(sum(not m.priced for m in found))


def _fetch(channel_id: int, db: str | None, as_json: bool) -> None:
    async def action(session: Session) -> tuple[UpstreamModels, list[OfferedModel]]:
        channel = await get_channel(session.db, channel_id)  # before the key box: NotFound
        box = await session.secret_box()
        async with _getter(session) as getter:
            upstream = await fetch_upstream_models(session.db, box, channel_id, getter)
        return upstream, await offered_models(session.db, channel, upstream)

    upstream, offered = run_read(db, action)
    if as_json:
        print_json({**upstream.to_json(), "models": [m.to_json() for m in offered]})
        return
    emit([_offered_row(m) for m in offered], as_json=False, columns=OFFERED_COLUMNS)
    if upstream.source == "config":
        _note("Azure lists no deployments to an api-key: these are the models its config names")
    if upstream.ignored:
        _note(f"ignored {len(upstream.ignored)} id(s) with spaces, commas or control codes")
    _unpriced_note(sum(not m.priced for m in offered))


def _sync(channel_id: int, add_only: bool, dry_run: bool, db: str | None, as_json: bool) -> None:
    async def action(session: Session) -> SyncResult:
        await get_channel(session.db, channel_id)  # before the key box: NotFound
        box = await session.secret_box()
        async with _getter(session) as getter:
            return await sync_channel_models(
                session.db, box, channel_id, getter, add_only=add_only, dry_run=dry_run
            )

    result = (run_read if dry_run else run)(db, action)
    if as_json:
        print_json(result.to_json())
        return
    for line in sync_lines(result):
        print_line(line)
    _unpriced_note(sum(model in result.unpriced for model in result.added), new=True)


def sync_lines(result: SyncResult) -> list[str]:
    """The diff, a line a model (``+`` added, ``-`` removed, ``=`` dropped by the upstream
    but kept), then the outcome."""
    unpriced = set(result.unpriced)
    kept = [m for m in result.vanished if m not in result.removed]
    lines = [f"+ {m}{' (unpriced)' if m in unpriced else ''}" for m in result.added]
    lines += [f"- {m}" for m in result.removed]
    lines += [f"= {m} (the upstream dropped it; kept)" for m in kept]
    head = f'channel {result.channel_id} "{result.name}"'
    counts = f"{len(result.added)} added, {len(result.removed)} removed"
    if not (result.added or result.removed):
        outcome = f"{len(kept)} dropped upstream, kept" if kept else "in step with its upstream"
        return [*lines, f"{head}: {outcome} ({len(result.models)} models)"]
    if result.dry_run:
        return [*lines, f"{head}: dry run, nothing changed ({counts} on --sync)"]
    return [*lines, f"{head}: {counts}; {len(result.models)} models"]


def _getter(session: Session) -> AbstractAsyncContextManager[JsonGetter]:
    """An httpx getter whose every URL passes the address guard first."""
    # Imported here: the guard's aiohttp would slow every command.
    from burncloud.gateway.egress.upstream_guard import check_base_url

    allow = session.settings.allow_private_upstreams
    return httpx_getter(partial(check_base_url, allow_private=allow))


def _model_row(model: ChannelModel) -> dict[str, Any]:
    return {**model.to_json(), "price": _price(model.priced)}


def _offered_row(model: OfferedModel) -> dict[str, Any]:
    return {**model.to_json(), "served_as": model.served_as or "-", "price": _price(model.priced)}


def _price(priced: bool) -> str:
    return "priced" if priced else "unpriced"


def _unpriced_note(count: int, new: bool = False) -> None:
    if count:
        what = "new model(s) have" if new else "model(s) have"
        _note(f"{count} {what} no price: never served until priced (`burncloud price set`)")


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)
