"""Webhooks: where alerts go, in which format, for which events, signed with which secret.

A webhook URL often is a credential (Slack's and Discord's carry their token in the path,
Telegram's the bot token), so it is sealed with the installation's SecretBox like a
channel key and shown only as its origin (``https://hooks.slack.com/...``). The signing
secret is sealed too and never shown again after ``add_hook`` returns it. A URL passes the
caller's ``check_url`` first (the gateway's address guard, as for channel base URLs),
outside the transaction, as it may resolve a name. Telegram's chat id comes from
``chat_id`` or, when that is not given, from the URL's ``chat_id`` query parameter, which
is then taken out of the URL (the chat id goes in the message body).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from burncloud.crypto import SecretBox
from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.alerts.events import BUDGET, EVENTS, SUBSCRIBABLE, TEST
from burncloud.services.audit import record_change, row_fields
from burncloud.services.clock import now as clock_now

FORMATS = ("json", "slack", "discord", "telegram")
DEFAULT_THRESHOLDS = (50, 80, 95, 100)
MAX_URL = 2048
MIN_SECRET = 16
_UNAUDITED = frozenset({"id", "created_at"})
SECRET_PREFIX = "whsec_"
UrlCheck = Callable[[str], Awaitable[None]]  # raises InvalidRequest for a refused URL
_CHAT_ID = re.compile(r"-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,63}")


@dataclass(frozen=True, slots=True)
class Hook:
    """A webhook as listed: never its URL or secret, only the URL's origin."""

    id: int
    format: str
    url_hint: str
    events: tuple[str, ...]
    thresholds: tuple[int, ...]
    signed: bool
    chat_id: str
    created_at: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Hook:
        return cls(
            id=int(row["id"]),
            format=row["format"],
            url_hint=row["url_hint"],
            events=tuple(row["events"].split(",")),
            thresholds=tuple(int(t) for t in row["thresholds"].split(",")),
            signed=row["secret_enc"] is not None,
            chat_id=row["chat_id"],
            created_at=int(row["created_at"]),
        )

    def wants(self, kind: str) -> bool:
        """Whether this hook subscribed to events of ``kind``."""
        return kind in self.events

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "format": self.format,
            "url": self.url_hint,
            "events": list(self.events),
            "thresholds": list(self.thresholds) if BUDGET in self.events else None,
            "signed": self.signed,
            "chat_id": self.chat_id or None,
            "created_at": self.created_at,
        }


@dataclass(frozen=True, slots=True)
class Target:
    """What a delivery needs of its hook, unsealed (never logged or shown)."""

    url: str
    format: str
    secret: str | None
    chat_id: str


@dataclass(frozen=True, slots=True)
class _Spec:
    url: str
    format: str
    events: tuple[str, ...]
    thresholds: tuple[int, ...]
    chat_id: str


async def add_hook(
    db: Database,
    box: SecretBox,
    *,
    url: str,
    events: str | Sequence[str],
    format: str = "json",
    thresholds: str | Sequence[int | str] | None = None,
    secret: str | None = None,
    chat_id: str | None = None,
    check_url: UrlCheck | None = None,
) -> tuple[Hook, str | None]:
    """Create a webhook; with it the signing secret generated for a ``json`` hook given
    none (shown this once), else None. An unsigned hook of another format sends no
    signature (Slack, Discord and Telegram do not check one)."""
    spec = _clean(url, events, format, thresholds, chat_id)
    await guard_url(check_url, spec.url)
    generated = None
    if secret is None and spec.format == "json":
        secret = generated = SECRET_PREFIX + secrets.token_urlsafe(32)
    sealed_secret = None if secret is None else box.encrypt(_clean_secret(secret))
    async with db.transaction() as tx:
        row = await tx.fetch_one(
            "INSERT INTO alert_hooks (url_enc, url_hint, format, events, thresholds,"
            " secret_enc, chat_id, created_at) VALUES (:url, :hint, :format, :events,"
            " :thresholds, :secret, :chat, :t) RETURNING *",
            {
                "url": box.encrypt(spec.url),
                "hint": url_hint(spec.url),
                "format": spec.format,
                "events": ",".join(spec.events),
                "thresholds": ",".join(str(t) for t in spec.thresholds),
                "secret": sealed_secret,
                "chat": spec.chat_id,
                "t": clock_now(),
            },
        )
        assert row is not None
        await record_change(tx, "alert", row["id"], row["url_hint"], None, _audited(row))
    return Hook.from_row(row), generated


async def list_hooks(db: Executor) -> list[Hook]:
    """Every webhook, by id."""
    rows = await db.fetch_all("SELECT * FROM alert_hooks ORDER BY id")
    return [Hook.from_row(row) for row in rows]


async def get_hook(db: Executor, hook_id: int) -> Hook:
    """One webhook; NotFound if there is none with ``hook_id``."""
    row = await db.fetch_one("SELECT * FROM alert_hooks WHERE id = :id", {"id": hook_id})
    if row is None:
        raise _not_found(hook_id)
    return Hook.from_row(row)


async def delete_hook(db: Database, hook_id: int) -> int:
    """Delete a webhook and its deliveries; how many were still pending (never sent now)."""
    async with db.transaction() as tx:
        pending = await tx.fetch_value(
            "SELECT COUNT(*) FROM alert_deliveries WHERE hook_id = :id AND status = 'pending'",
            {"id": hook_id},
        )
        row = await tx.fetch_one(
            "DELETE FROM alert_hooks WHERE id = :id RETURNING *", {"id": hook_id}
        )
        if row is None:
            raise _not_found(hook_id)
        await record_change(tx, "alert", hook_id, row["url_hint"], _audited(row), None)
    return int(pending)


def _audited(row: Row) -> dict[str, Any]:
    """A webhook as the audit trail records it: the URL and the secret are sealed columns
    (``url_enc``, ``secret_enc``), masked by their names."""
    return row_fields(row, _UNAUDITED)


async def guard_url(check_url: UrlCheck | None, url: str) -> None:
    """Pass ``url`` through the address guard (channel base URLs pass the same one);
    InvalidRequest naming the webhook URL if it is refused."""
    if check_url is None:
        return
    try:
        await check_url(url)
    except InvalidRequest as exc:
        raise InvalidRequest(exc.message.replace("base URL", "webhook URL")) from None


def unseal_target(box: SecretBox, row: Mapping[str, Any]) -> Target:
    """The URL and secret of the hook ``row`` (an ``alert_hooks`` row, or one with its
    columns), decrypted."""
    secret = row["secret_enc"]
    return Target(
        url=box.decrypt(row["url_enc"]),
        format=row["format"],
        secret=None if secret is None else box.decrypt(secret),
        chat_id=row["chat_id"],
    )


def parse_events(value: str | Sequence[str]) -> tuple[str, ...]:
    """Event names from a comma-separated text or a list; ``all`` is every kind."""
    names = _items(value)
    if not names:
        raise InvalidRequest(f"name at least one event: {', '.join(SUBSCRIBABLE)} (or all)")
    if "all" in names:
        return SUBSCRIBABLE
    for name in names:
        if name == TEST:
            raise InvalidRequest(
                "test is not subscribed to: `alert test ID` sends one to any alert"
            )
        if name not in EVENTS:
            raise InvalidRequest(f"unknown event {name!r}: use {', '.join(SUBSCRIBABLE)} or all")
    return tuple(kind for kind in SUBSCRIBABLE if kind in names)


def parse_thresholds(value: str | Sequence[int | str]) -> tuple[int, ...]:
    """Budget thresholds in percent (1 to 100), sorted, from ``80,100`` or a list."""
    items = _items(value) if isinstance(value, str) else [str(item).strip() for item in value]
    if not items:
        raise InvalidRequest("name at least one threshold, such as 80,100")
    found = set()
    for item in items:
        number = item.removesuffix("%")
        if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= 100:
            raise InvalidRequest(f"threshold {item!r} is not a percent from 1 to 100")
        found.add(int(number))
    return tuple(sorted(found))


def url_hint(url: str) -> str:
    """The URL as shown: its origin, and ``/...`` when it has more (which may be secret)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    return origin + "/..." if parts.path.strip("/") or parts.query else origin


def _clean(
    url: str,
    events: str | Sequence[str],
    format: str,
    thresholds: str | Sequence[int | str] | None,
    chat_id: str | None,
) -> _Spec:
    kind = format.strip().lower()
    if kind not in FORMATS:
        raise InvalidRequest(f"unknown format {format!r}: use {', '.join(FORMATS)}")
    wanted = parse_events(events)
    if thresholds is not None and BUDGET not in wanted:
        raise InvalidRequest("thresholds are for budget alerts: add budget to the events")
    levels = DEFAULT_THRESHOLDS if thresholds is None else parse_thresholds(thresholds)
    url = _clean_url(url)
    if kind == "telegram":
        url, chat = _telegram_chat(url, chat_id)
    elif chat_id is not None:
        raise InvalidRequest("a chat id is for telegram alerts only")
    else:
        chat = ""
    return _Spec(url, kind, wanted, levels, chat)


def _clean_url(url: str) -> str:
    url = url.strip()
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise InvalidRequest(f"a webhook URL has no spaces and at most {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise InvalidRequest("the webhook URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest("a webhook URL starts with http:// or https:// and names a host")
    return url


def _telegram_chat(url: str, chat_id: str | None) -> tuple[str, str]:
    """The URL without its ``chat_id`` parameter, and the chat id to send to."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    in_url = [value for name, value in query if name == "chat_id"]
    chat = (chat_id or (in_url[0] if in_url else "")).strip()
    if not chat:
        raise InvalidRequest(
            "a telegram alert needs a chat id: --chat-id, or chat_id=... in the URL's query"
        )
    if not _CHAT_ID.fullmatch(chat):
        raise InvalidRequest(f"chat id {chat!r} is not a number or an @channel name")
    rest = urlencode([(name, value) for name, value in query if name != "chat_id"])
    return urlunsplit(parts._replace(query=rest)), chat


def _clean_secret(secret: str) -> str:
    secret = secret.strip()
    if len(secret) < MIN_SECRET or any(ch.isspace() for ch in secret):
        raise InvalidRequest(f"a signing secret has at least {MIN_SECRET} characters, no spaces")
    return secret


def _items(value: str | Sequence[str]) -> list[str]:
    parts = value.split(",") if isinstance(value, str) else list(value)
    return [part.strip().lower() for part in parts if part.strip()]


def _not_found(hook_id: int) -> NotFound:
    return NotFound(f"no alert with id {hook_id}")
