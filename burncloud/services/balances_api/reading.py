"""What every balance API shares: the request's headers, reading the answer, the Balance.

A balance endpoint is one authenticated GET (two for ``openai-billing``) that answers a
small JSON object. The caller supplies the GET (``Getter``: httpx in the CLI, the router's
transport in the router), so the readers are plain code over bytes, testable without a
socket. Whatever goes wrong becomes an ``UpstreamError`` whose message is one line naming
the provider and never the URL; the caller masks the key in it before storing it.
Amounts are read as exact decimals: JSON numbers with ``parse_float=Decimal``, strings as
written.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import urlsplit

from burncloud.errors import UpstreamError

MAX_ANSWER = 64 * 1024  # bytes of a balance answer read at most
MESSAGE_LIMIT = 200  # characters of an upstream's own error message quoted


@dataclass(frozen=True, slots=True)
class Balance:
    """An upstream account's balance: ``amount`` in ``currency``; ``details`` what else the
    provider said (JSON-ready: numbers as decimal strings)."""

    amount: Decimal
    currency: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Access:
    """What a reader needs: the channel's base URL and key, today (UTC) for the endpoints
    that take a date range, and a currency the operator set (``--config
    balance_currency=USD``) for a proxy whose host says nothing about its site."""

    base_url: str
    key: str
    today: date
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """An HTTP answer: its status and (at most MAX_ANSWER bytes of) its body."""

    status: int
    body: bytes


class Getter(Protocol):
    async def __call__(self, url: str, headers: Mapping[str, str]) -> Reply:
        """GET ``url``; UpstreamError with one line (never the URL) when no answer came."""
        ...


async def send(get: Getter, url: str, access: Access) -> Reply:
    """GET ``url`` with the key as a Bearer token, as every balance API wants it."""
    headers = {"Authorization": f"Bearer {access.key}", "Accept": "application/json"}
    return await get(url, headers)


async def read_capped(chunks: AsyncIterator[bytes], limit: int = MAX_ANSWER) -> bytes:
    """A body from its chunks; UpstreamError once it passes ``limit`` bytes (a balance is
    a few hundred: anything that large is not one)."""
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise UpstreamError(f"the upstream's answer is larger than {limit // 1024} KiB")
    return bytes(body)


def read_object(reply: Reply, who: str) -> dict[str, Any]:
    """The JSON object of a 200 answer; UpstreamError for another status, a body that is not
    an object, or an OpenAI-style ``{"error": ...}`` sent with a 200 (One API does)."""
    if reply.status != 200:
        raise UpstreamError(_refusal(reply, who))
    data = _parse(reply.body)
    if not isinstance(data, dict):
        raise UpstreamError(f"{who} answered something that is not a JSON object")
    if data.get("error"):
        raise UpstreamError(f"{who} answered with an error: {_message(data)}")
    return data


def object_at(data: Mapping[str, Any], name: str, who: str) -> dict[str, Any]:
    """``data[name]`` when it is an object; UpstreamError naming the field otherwise."""
    value = data.get(name)
    if not isinstance(value, dict):
        raise UpstreamError(f"{who} answered without the {name!r} object")
    return value


def amount_at(data: Mapping[str, Any], name: str, who: str) -> Decimal:
    """``data[name]`` as a finite decimal (a JSON number or a numeric string)."""
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        raise UpstreamError(f"{who} answered without a number in {name!r}")
    try:
        amount = Decimal(value)
    except (InvalidOperation, ValueError):
        raise UpstreamError(f"{who} answered {name!r} that is not a number") from None
    if not amount.is_finite():
        raise UpstreamError(f"{who} answered {name!r} that is not a finite number")
    return amount


def decimal_text(amount: Decimal) -> str:
    """An amount as plain decimal text, never in exponent form (``1E+2`` is ``100``)."""
    return format(amount, "f")


def api_root(base_url: str) -> str:
    """The base URL without a final ``/v1``: the balance paths are written from the root
    (DeepSeek's sits outside /v1, the others add /v1 themselves)."""
    base = base_url.rstrip("/")
    return base.removesuffix("/v1")


def host_of(base_url: str) -> str:
    """The base URL's host, lower case ('' when it has none)."""
    return (urlsplit(base_url).hostname or "").lower()


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None


def _refusal(reply: Reply, who: str) -> str:
    """One line for a non-200 answer: who refused what, with the upstream's own words."""
    said = _message(_parse(reply.body)) or _first_line(reply.body)
    tail = f": {said}" if said else ""
    if reply.status in (401, 403):
        return f"{who} refused the key ({reply.status}){tail}"
    if reply.status == 404:
        return (
            f"{who} has no balance endpoint at this base URL (404): check the channel's"
            " base URL and --balance-api"
        )
    return f"{who} answered {reply.status}{tail}"


def _message(data: Any) -> str:
    """The error message in an upstream's JSON error body, however it nests it."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    for said in (error, data.get("message"), data.get("msg")):
        if isinstance(said, str) and said.strip():
            return _clip(said)
    return ""


def _first_line(body: bytes) -> str:
    text = body[:MESSAGE_LIMIT].decode("utf-8", "replace").strip()
    return _clip(text.splitlines()[0]) if text else ""


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 3] + "..."
