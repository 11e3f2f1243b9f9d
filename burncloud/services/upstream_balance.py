"""Upstream balances: checking a channel's account balance, storing it, and its low-balance alert.

A check reads the balance through the channel's balance API (``balance_apis``: set on the
channel, or known from its host) with one of its keys (the first enabled one; an
auto-disabled one when none is, as "out of credit" is what a balance check watches), over
the caller's GET (``balances_api.Getter``). Its outcome goes to ``channel_balances``: the
amount as decimal text with its currency, details and time, or, when the check failed, the
error (the key and base URL masked) beside the last amount read. Balances are
observations, not configuration: nothing here is audited or bumps the config version.

The ``upstream-balance`` alert goes once per crossing: the first check that finds the
amount below the channel's threshold (``balance_alert_below``, else the caller's default,
in the balance's currency) raises it and sets ``alerted_below``; a check at or above the
threshold re-arms it. The row is locked while this is decided (SQLite writes one at a
time), and the event's dedupe key names the crossing by the check before it, so routers
racing on one crossing raise one event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from burncloud.crypto import SecretBox, public_error_text
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, UpstreamError
from burncloud.services.alerts.events import UPSTREAM_BALANCE, Event
from burncloud.services.alerts.outbox import raise_event
from burncloud.services.balance_apis import BALANCE_APIS, balance_api_of
from burncloud.services.balances_api import Access, Balance, Getter, read_balance
from burncloud.services.balances_api.reading import decimal_text
from burncloud.services.channel_keys import key_secret, list_keys, usable_key
from burncloud.services.channels import Channel, UrlCheck, get_channel, list_channels
from burncloud.services.clock import now as clock_now

ERROR_LIMIT = 300  # characters of a failed check's reason kept
CURRENCY_CONFIG = "balance_currency"  # channel config naming a proxy's currency
Clock = Callable[[], int]


@dataclass(frozen=True, slots=True)
class StoredBalance:
    """A channel's last balance check: ``amount`` None until one succeeded; ``error`` why the
    last check failed ('' when it did not), the amount then being the one before."""

    channel_id: int
    api: str
    amount: Decimal | None
    currency: str
    details: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    checked_at: int = 0
    alerted_below: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> StoredBalance:
        amount = row["amount"]
        return cls(
            channel_id=int(row["channel_id"]),
            api=row["api"],
            amount=None if amount is None else Decimal(amount),
            currency=row["currency"],
            details=orjson.loads(row["details"]),
            error=row["error"],
            checked_at=int(row["checked_at"]),
            alerted_below=bool(row["alerted_below"]),
        )

    def to_json(self) -> dict[str, Any]:
        """The check as JSON; the amount as a decimal string (None: never read)."""
        return {
            "channel_id": self.channel_id,
            "api": self.api,
            "amount": None if self.amount is None else decimal_text(self.amount),
            "currency": self.currency,
            "details": self.details,
            "error": self.error,
            "checked_at": self.checked_at,
            "alerted_below": self.alerted_below,
        }

    def amount_text(self) -> str:
        """``110.00 CNY``, or '-' before the first successful check."""
        if self.amount is None:
            return "-"
        return f"{decimal_text(self.amount)} {self.currency}".strip()

    def cell(self) -> str:
        """The balance in one short cell (``channel list``, the dashboard): ``110.00 CNY``,
        marked ``low`` below its alert threshold and ``stale`` when the last check failed;
        ``check failed`` when none succeeded yet."""
        if self.amount is None:
            return "check failed" if self.error else "-"
        marks = [mark for mark, on in (("low", self.alerted_below), ("stale", self.error)) if on]
        return self.amount_text() + (f" ({', '.join(marks)})" if marks else "")


@dataclass(frozen=True, slots=True)
class DueCheck:
    """A channel whose balance check is due, its balance API and its interval (seconds)."""

    channel: Channel
    api: str
    every: int


async def check_balance(
    db: Database,
    box: SecretBox,
    channel_id: int,
    get: Getter,
    *,
    alert_below: Decimal,
    check_url: UrlCheck | None = None,
    clock: Clock = clock_now,
) -> StoredBalance:
    """Check channel ``channel_id``'s balance now and store the outcome (a failure too, as
    its error); NotFound for no such channel, InvalidRequest when it has no balance API.
    ``alert_below`` is the threshold for a channel without its own; ``check_url`` the
    address guard, applied to the base URL before anything is sent."""
    channel = await get_channel(db, channel_id)
    api = balance_api_of(channel.balance_api, channel.base_url)
    if api is None:
        raise InvalidRequest(no_balance_api(channel))
    outcome = await _read(db, box, channel, api, get, check_url, clock())
    return await record_check(db, channel, api, outcome, alert_below, clock())


async def check_all(
    db: Database,
    box: SecretBox,
    get: Getter,
    *,
    alert_below: Decimal,
    check_url: UrlCheck | None = None,
    concurrency: int = 4,
    clock: Clock = clock_now,
) -> list[StoredBalance]:
    """Check every channel with a balance API but the operator-disabled ones (at most
    ``concurrency`` at once); their outcomes, in channel id order."""
    found = [one for one in await list_channels(db) if one.status != "disabled" and api_of(one)]
    gate = asyncio.Semaphore(max(concurrency, 1))

    async def one(channel: Channel) -> StoredBalance:
        async with gate:
            return await check_balance(
                db, box, channel.id, get, alert_below=alert_below, check_url=check_url, clock=clock
            )

    return list(await asyncio.gather(*(one(channel) for channel in found)))


async def stored_balances(db: Executor) -> dict[int, StoredBalance]:
    """Every channel's last check, by channel id (``channel list``, the dashboard)."""
    rows = await db.fetch_all("SELECT * FROM channel_balances ORDER BY channel_id")
    return {int(row["channel_id"]): StoredBalance.from_row(row) for row in rows}


async def stored_balance(db: Executor, channel_id: int) -> StoredBalance | None:
    """Channel ``channel_id``'s last check; None before its first."""
    row = await db.fetch_one(
        "SELECT * FROM channel_balances WHERE channel_id = :c", {"c": channel_id}
    )
    return None if row is None else StoredBalance.from_row(row)


async def due_checks(db: Executor, default_every: int, now: int) -> list[DueCheck]:
    """The channels whose balance is due for a check at ``now``: each with a balance API,
    not operator-disabled, checked every ``balance_every`` seconds (``default_every`` when
    unset; 0 never) and not checked for that long."""
    checked = {
        int(row["channel_id"]): int(row["checked_at"])
        for row in await db.fetch_all("SELECT channel_id, checked_at FROM channel_balances")
    }
    due = []
    for channel in await list_channels(db):
        api = api_of(channel)
        every = default_every if channel.balance_every is None else channel.balance_every
        if api is None or every <= 0 or channel.status == "disabled":
            continue
        if channel.id not in checked or checked[channel.id] + every <= now:
            due.append(DueCheck(channel, api, every))
    return due


async def claim_check(db: Database, channel_id: int, api: str, every: int, now: int) -> bool:
    """Take channel ``channel_id``'s check for this interval (its ``checked_at`` moves to
    ``now``), for one router of the fleet: whether this caller got it."""
    taken = await db.execute(
        "UPDATE channel_balances SET checked_at = :now"
        " WHERE channel_id = :c AND checked_at <= :due",
        {"now": now, "c": channel_id, "due": now - every},
    )
    if taken:
        return True
    first = await db.execute(
        "INSERT INTO channel_balances (channel_id, api, checked_at) VALUES (:c, :api, :now)"
        " ON CONFLICT (channel_id) DO NOTHING",
        {"c": channel_id, "api": api, "now": now},
    )
    return first > 0


def api_of(channel: Channel) -> str | None:
    """The channel's balance API: the one set, else the one its host is known for."""
    return balance_api_of(channel.balance_api, channel.base_url)


def no_balance_api(channel: Channel) -> str:
    """Why a channel cannot be checked, and how to make it checkable."""
    return (
        f"channel {channel.id} ({channel.name}) has no balance API: its base URL's host is not"
        f" one burncloud knows; set one with `burncloud channel update {channel.id}"
        f" --balance-api NAME` (NAME one of {', '.join(BALANCE_APIS)})"
    )


def threshold_of(channel: Channel, default: Decimal) -> Decimal:
    """The amount under which the channel's balance raises the alert."""
    return default if channel.balance_alert_below is None else Decimal(channel.balance_alert_below)


async def record_check(
    db: Database,
    channel: Channel,
    api: str,
    outcome: Balance | str,
    alert_below: Decimal,
    at: int,
) -> StoredBalance:
    """Store a check's outcome (a Balance, or why it failed) taken at ``at``, raising the
    upstream-balance alert when the amount newly fell below the threshold."""
    async with db.transaction() as tx:
        before = await _locked_row(tx, channel.id)
        if isinstance(outcome, str):
            row = await _write_failure(tx, channel.id, api, outcome, at)
        else:
            threshold = threshold_of(channel, alert_below)
            below = outcome.amount < threshold
            newly = below and (before is None or not before["alerted_below"])
            row = await _write_balance(tx, channel.id, api, outcome, at, below)
            if newly:
                since = 0 if before is None else int(before["checked_at"])
                await raise_event(tx, low_balance_event(channel, outcome, threshold, since), at)
    return StoredBalance.from_row(row)


def low_balance_event(channel: Channel, balance: Balance, threshold: Decimal, since: int) -> Event:
    """The alert for a balance below its threshold; ``since`` (the check before this one)
    names the crossing in the dedupe key."""
    amount, limit = decimal_text(balance.amount), decimal_text(threshold)
    currency = balance.currency
    return Event(
        kind=UPSTREAM_BALANCE,
        key=f"upstream-balance:{channel.id}:{since}",
        text=(
            f"channel {channel.id} ({channel.name}): upstream balance {amount} {currency}"
            f" is below {limit} {currency}"
        ),
        data={
            "channel_id": channel.id,
            "channel": channel.name,
            "amount": amount,
            "currency": currency,
            "threshold": limit,
        },
    )


async def _read(
    db: Database,
    box: SecretBox,
    channel: Channel,
    api: str,
    get: Getter,
    check_url: UrlCheck | None,
    at: int,
) -> Balance | str:
    """The balance, or why it could not be read (one line, the key and base URL masked)."""
    key = ""
    try:
        key = await balance_key(db, box, channel.id)
        if check_url is not None:
            await check_url(channel.base_url)
        today = datetime.fromtimestamp(at, UTC).date()
        access = Access(channel.base_url, key, today, channel.config.get(CURRENCY_CONFIG))
        return await read_balance(api, access, get)
    except (UpstreamError, InvalidRequest) as exc:
        return _scrub(exc.message, channel.base_url, key)


async def balance_key(db: Executor, box: SecretBox, channel_id: int) -> str:
    """The key a balance check asks with: the first enabled one, else the first that health
    checks took out (out of credit is what a balance shows); never one an operator
    disabled. InvalidRequest when there is none."""
    try:
        return (await usable_key(db, box, channel_id)).key
    except InvalidRequest:
        taken_out = [
            key for key in await list_keys(db, channel_id) if key.status == "auto_disabled"
        ]
        if not taken_out:
            raise
        return await key_secret(db, box, channel_id, taken_out[0].id)


def _scrub(message: str, base_url: str, key: str) -> str:
    text = " ".join(message.split()).replace(base_url, "***")
    return public_error_text(text, key, ERROR_LIMIT) if key else text[:ERROR_LIMIT]


async def _locked_row(tx: Executor, channel_id: int) -> Row | None:
    lock = " FOR UPDATE" if tx.dialect == "postgresql" else ""  # SQLite: one writer at a time
    return await tx.fetch_one(
        f"SELECT * FROM channel_balances WHERE channel_id = :c{lock}", {"c": channel_id}
    )


async def _write_balance(
    tx: Executor, channel_id: int, api: str, balance: Balance, at: int, below: bool
) -> Row:
    row = await tx.fetch_one(
        "INSERT INTO channel_balances (channel_id, api, amount, currency, details, error,"
        " checked_at, alerted_below) VALUES (:c, :api, :amount, :currency, :details, '', :t,"
        " :below) ON CONFLICT (channel_id) DO UPDATE SET api = excluded.api,"
        " amount = excluded.amount, currency = excluded.currency, details = excluded.details,"
        " error = '', checked_at = excluded.checked_at, alerted_below = excluded.alerted_below"
        " RETURNING *",
        {
            "c": channel_id,
            "api": api,
            "amount": decimal_text(balance.amount),
            "currency": balance.currency,
            "details": orjson.dumps(balance.details).decode(),
            "t": at,
            "below": 1 if below else 0,
        },
    )
    assert row is not None
    return row


async def _write_failure(tx: Executor, channel_id: int, api: str, error: str, at: int) -> Row:
    """Store a failed check: the last amount stays, unless it came through another API
    (the operator changed it), which would mislabel it."""
    row = await tx.fetch_one(
        "INSERT INTO channel_balances (channel_id, api, error, checked_at)"
        " VALUES (:c, :api, :error, :t) ON CONFLICT (channel_id) DO UPDATE SET"
        " amount = CASE WHEN channel_balances.api = excluded.api"
        " THEN channel_balances.amount END,"
        " currency = CASE WHEN channel_balances.api = excluded.api"
        " THEN channel_balances.currency ELSE '' END,"
        " details = CASE WHEN channel_balances.api = excluded.api"
        " THEN channel_balances.details ELSE '{}' END,"
        " alerted_below = CASE WHEN channel_balances.api = excluded.api"
        " THEN channel_balances.alerted_below ELSE 0 END,"
        " api = excluded.api, error = excluded.error, checked_at = excluded.checked_at"
        " RETURNING *",
        {"c": channel_id, "api": api, "error": error or "the check failed", "t": at},
    )
    assert row is not None
    return row
