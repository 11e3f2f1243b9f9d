"""`burncloud channel balance`: an upstream account's balance, checked now and stored.

The check goes over httpx (the relay's aiohttp pool is the router's), with no proxy from
the environment (a proxy would connect for us, past the address guard) and no redirect,
after the channel's base URL passed the address guard. What it stores is what `channel
list`, the dashboard and the upstream-balance alert read; the routers refresh it
periodically on their own (`--balance-every`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from burncloud.cli.output import emit, print_json, print_line
from burncloud.cli.session import DbOption, JsonOption, Session, fail, run
from burncloud.errors import UpstreamError
from burncloud.services.balances_api import Getter, Reply
from burncloud.services.balances_api.reading import read_capped
from burncloud.services.channels import Channel, UrlCheck, get_channel, list_channels
from burncloud.services.upstream_balance import (
    StoredBalance,
    api_of,
    check_all,
    check_balance,
)

if TYPE_CHECKING:
    import httpx

TIMEOUT = 30.0  # seconds for one balance request, its answer read
COLUMNS = [
    ("channel_id", "ID"),
    ("name", "Name"),
    ("api", "API"),
    ("balance", "Balance"),
    ("checked", "Checked"),
    ("note", "Note"),
]


def balance(
    channel_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Channel id.", show_default=False)
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Check every channel that has a balance API.")
    ] = False,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a channel's upstream balance now (or --all) and store it with its time.

    The balance API is the one set with `channel update ID --balance-api`, else the one the
    base URL's host is known for (OpenRouter, DeepSeek, SiliconFlow, Moonshot). Exit code 0
    when every check succeeded, 1 otherwise.
    """
    if (channel_id is None) == (not every):
        raise fail("give a channel ID or --all (not both)")
    if channel_id is None:
        channels, checked = run(db, _check_every)
        _print_all(channels, checked, as_json)
        failed = any(stored.error for stored in checked.values())
    else:
        channel, stored = run(db, lambda session: _check_one(session, channel_id))
        if as_json:
            print_json({**stored.to_json(), "name": channel.name})
        else:
            print_line(balance_line(channel, stored))  # holds the upstream's error text
        failed = bool(stored.error)
    if failed:
        raise typer.Exit(code=1)


def balance_line(channel: Channel, stored: StoredBalance) -> str:
    """``channel 3 "deepseek": 110.00 CNY (deepseek, checked 2025-05-01T12:00:00Z)``, or
    the failure with the last amount read."""
    head = f'channel {channel.id} "{channel.name}": '
    when = f"{stored.api}, checked {_time(stored.checked_at)}"
    if not stored.error:
        return f"{head}{stored.amount_text()} ({when})"
    last = "" if stored.amount is None else f"; last read {stored.amount_text()}"
    return f"{head}balance check failed ({when}): {stored.error}{last}"


def httpx_getter(client: httpx.AsyncClient, seconds: float = TIMEOUT) -> Getter:
    """A balance GET over ``client``: the whole call, answer read, within ``seconds``; no
    answer is an UpstreamError without the URL."""
    import httpx

    async def get(url: str, headers: Mapping[str, str]) -> Reply:
        try:
            async with asyncio.timeout(seconds):
                async with client.stream("GET", url, headers=dict(headers)) as response:
                    return Reply(response.status_code, await read_capped(response.aiter_bytes()))
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise UpstreamError("the upstream is unreachable (could not connect)") from None
        except (TimeoutError, httpx.TimeoutException):
            raise UpstreamError(f"the upstream did not answer within {seconds:g} s") from None
        except httpx.HTTPError as exc:
            name = type(exc).__name__
            raise UpstreamError(f"the upstream connection failed ({name})") from None

    return get


async def _check_one(session: Session, channel_id: int) -> tuple[Channel, StoredBalance]:
    import httpx  # imported here: httpx would slow each CLI start-up

    box = await session.secret_box()
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        stored = await check_balance(
            session.db,
            box,
            channel_id,
            httpx_getter(client),
            alert_below=session.settings.balance_alert_below,
            check_url=_url_check(session),
        )
    return await get_channel(session.db, channel_id), stored


async def _check_every(session: Session) -> tuple[list[Channel], dict[int, StoredBalance]]:
    import httpx

    box = await session.secret_box()
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        checked = await check_all(
            session.db,
            box,
            httpx_getter(client),
            alert_below=session.settings.balance_alert_below,
            check_url=_url_check(session),
        )
    return await list_channels(session.db), {stored.channel_id: stored for stored in checked}


def _print_all(
    channels: list[Channel], checked: Mapping[int, StoredBalance], as_json: bool
) -> None:
    names = {channel.id: channel.name for channel in channels}
    if as_json:
        print_json([{**one.to_json(), "name": names.get(key, "")} for key, one in checked.items()])
        return
    rows = [_row(channel, checked.get(channel.id)) for channel in channels]
    emit(rows, as_json=False, columns=COLUMNS)


def _row(channel: Channel, stored: StoredBalance | None) -> dict[str, Any]:
    """A channel's line in `channel balance --all`: its check, or why it had none."""
    row: dict[str, Any] = {"channel_id": channel.id, "name": channel.name, "api": "-"}
    if stored is None:
        why = "no balance API" if api_of(channel) is None else f"{channel.status}: not checked"
        return {**row, "balance": "-", "checked": "-", "note": why}
    note = f"failed: {stored.error}" if stored.error else ""
    return {
        **row,
        "api": stored.api,
        "balance": stored.amount_text(),
        "checked": _time(stored.checked_at),
        "note": note,
    }


def _url_check(session: Session) -> UrlCheck:
    """The address guard under this environment's BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS."""
    # Imported here: aiohttp, which the guard shares with the router, slows each CLI start.
    from burncloud.gateway.egress.upstream_guard import check_base_url

    return partial(check_base_url, allow_private=session.settings.allow_private_upstreams)


def _time(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
