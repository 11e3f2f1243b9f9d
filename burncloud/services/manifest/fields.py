"""Reading a manifest document's fields: each value read with the path it sits at, so every
error is one line that starts with where it is (``channels[2].weight: expected a whole
number >= 0, got 'x'``).

A reader is a function ``(value, path) -> result``; ``checked`` chains one with a service's
own check (``clean_name``, ``parse_ips``...), whose message gets the path in front.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from burncloud.errors import InvalidRequest
from burncloud.money import UNLIMITED, parse_usd
from burncloud.services.budgets import BudgetSpec
from burncloud.services.key_scopes import ADMIN, RELAY, parse_scopes, scopes_text
from burncloud.services.manifest.budget_lists import repeated_budget, sorted_budgets
from burncloud.services.manifest.env_refs import field_path, item_path
from burncloud.services.tokens import MAX_EXPIRY, expiry_seconds
from burncloud.services.users import MAX_LIMIT, parse_limit

T = TypeVar("T")
U = TypeVar("U")
Reader = Callable[[Any, str], T]

NEVER = "never"
UNLIMITED_TEXT = "unlimited"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_LIMIT = f"a whole number from 1 to {MAX_LIMIT} (or -1 for no limit)"


class Entry:
    """One object of the document (a mapping) and its path; refuses fields not in ``known``."""

    __slots__ = ("data", "where")

    def __init__(self, value: Any, where: str, known: tuple[str, ...]) -> None:
        self.data = mapping(value, where)
        self.where = where
        for name in self.data:
            if name not in known:
                listed = ", ".join(known)
                raise InvalidRequest(
                    f"{field_path(where, name)}: unknown field (expected one of: {listed})"
                )

    def need(self, name: str, read: Reader[T]) -> T:
        """The field read by ``read``; InvalidRequest when it is missing."""
        if name not in self.data:
            raise InvalidRequest(f"{field_path(self.where, name)}: required field is missing")
        return read(self.data[name], field_path(self.where, name))

    def get(self, name: str, read: Reader[T], default: T) -> T:
        """The field read by ``read``, or ``default`` when it is missing."""
        if name not in self.data:
            return default
        return read(self.data[name], field_path(self.where, name))

    def maybe(self, name: str, read: Reader[T]) -> T | None:
        """The field read by ``read``; None when it is missing or null."""
        value = self.data.get(name)
        return None if value is None else read(value, field_path(self.where, name))


def shown(value: Any) -> str:
    """A value as an error message quotes it, on one line."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int | Decimal | date):
        return str(value)
    return repr(value)


def expected(what: str, value: Any, where: str) -> InvalidRequest:
    """The error for a value that is not ``what``."""
    return InvalidRequest(f"{where}: expected {what}, got {shown(value)}")


def checked(read: Reader[T], check: Callable[[T], U]) -> Reader[U]:
    """``read`` followed by ``check``, whose InvalidRequest gets the path in front."""

    def reader(value: Any, where: str) -> U:
        result = read(value, where)
        try:
            return check(result)
        except InvalidRequest as exc:
            raise InvalidRequest(f"{where}: {exc.message}") from None

    return reader


def mapping(value: Any, where: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise expected("a mapping", value, where)
    return value


def items(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise expected("a list", value, where)
    return value


def text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise expected("text", value, where)
    return value


def word(value: Any, where: str) -> str:
    """Non-empty text without whitespace (an invite code)."""
    if not isinstance(value, str) or not value or any(ch.isspace() for ch in value):
        raise expected("a name without spaces", value, where)
    return value


def each(read: Reader[T]) -> Reader[list[T]]:
    """A reader of a list whose items ``read`` reads."""

    def reader(value: Any, where: str) -> list[T]:
        return [read(item, item_path(where, n)) for n, item in enumerate(items(value, where))]

    return reader


def texts(value: Any, where: str) -> list[str]:
    return each(text)(value, where)


def secret(value: Any, where: str) -> str:
    """Text never quoted back in an error (a channel key)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: expected text")
    return value


def key_text(key: Any, where: str) -> str:
    """A mapping key that must be text (YAML reads ``5`` or ``yes`` as other types)."""
    if not isinstance(key, str):
        raise InvalidRequest(f"{where}: the key {shown(key)} must be text (quote it)")
    return key


def text_map(value: Any, where: str) -> dict[str, str]:
    return {
        key_text(key, where): text(item, field_path(where, key))
        for key, item in mapping(value, where).items()
    }


def scalar_map(value: Any, where: str) -> dict[str, str]:
    """Text by text key; numbers are taken as their text (``timeout_connect: 5``)."""
    return {
        key_text(key, where): _scalar_text(item, field_path(where, key))
        for key, item in mapping(value, where).items()
    }


def flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise expected("true or false", value, where)
    return value


def whole(minimum: int | None) -> Reader[int]:
    """A reader of integers of at least ``minimum`` (None: any)."""
    what = "a whole number" if minimum is None else f"a whole number >= {minimum}"

    def reader(value: Any, where: str) -> int:
        if not _is_int(value) or (minimum is not None and value < minimum):
            raise expected(what, value, where)
        return int(value)

    return reader


def limit(value: Any, where: str) -> int | None:
    """A rate limit: 1 up to MAX_LIMIT, or None for -1 (no limit)."""
    if not _is_int(value):
        raise expected(_LIMIT, value, where)
    try:
        return parse_limit(value, "a limit")
    except InvalidRequest:
        raise expected(_LIMIT, value, where) from None


def decimal(value: Any, where: str) -> str | int | Decimal:
    """A decimal number as text, an integer or an exact decimal (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise expected('a decimal number such as "0.8"', value, where)
    return value


def usd(value: Any, where: str) -> int:
    """A USD amount (text, an integer or an exact decimal) as nano-USD."""
    return checked(_amount('a USD amount such as "2.5"'), parse_usd)(value, where)


def usd_or_unlimited(value: Any, where: str) -> int:
    """A USD amount as nano-USD, or UNLIMITED for ``unlimited`` or -1."""
    if value == UNLIMITED_TEXT:
        return UNLIMITED
    read = _amount(f'a USD amount such as "2.5" or {UNLIMITED_TEXT}')
    return checked(read, _unlimited_usd)(value, where)


def sha256(value: Any, where: str) -> str:
    """A SHA-256 hex digest as stored: 64 lowercase hex digits."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise expected("a SHA-256 as 64 lowercase hex digits", value, where)
    return value


def scopes(value: Any, where: str) -> frozenset[str]:
    """A key's scopes: relay, admin or both."""
    names = texts(value, where)
    try:
        return parse_scopes(scopes_text(names))
    except ValueError:
        what = f"[{RELAY}], [{ADMIN}] or both"
        raise InvalidRequest(f"{where}: expected {what}, got {names}") from None


def budgets(value: Any, where: str) -> tuple[BudgetSpec, ...]:
    """A list of budgets (``20/month``, ``gpt-4o=10/5h``), each period and model once;
    sorted (``budget_lists.sorted_budgets``)."""
    specs = each(_budget)(value, where)
    repeat = repeated_budget(specs)
    if repeat is not None:
        n, what = repeat
        raise InvalidRequest(f"{item_path(where, n)}: {what}")
    return sorted_budgets(specs)


def _budget(value: Any, where: str) -> BudgetSpec:
    if not isinstance(value, str):
        raise expected('a budget such as "20/month" or "gpt-4o=10/5h"', value, where)
    return checked(text, BudgetSpec.parse)(value, where)


def expiry(value: Any, where: str) -> int | None:
    """An expiry as unix seconds, or None for ``never`` or -1. Also a unix time, an ISO date
    (valid through its last second, UTC) or an ISO date and time (UTC without an offset);
    a time that has passed is kept (an imported token may have expired)."""
    if value == NEVER or (_is_int(value) and value == -1):
        return None
    at = _expiry_at(value, where)
    if not 0 <= at <= MAX_EXPIRY:
        raise expected("a time from 1970 to 9999", value, where)
    return at


def _expiry_at(value: Any, where: str) -> int:
    if _is_int(value):
        return int(value)
    if isinstance(value, datetime):
        return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp())
    if isinstance(value, date):
        return expiry_seconds(value.isoformat())
    if isinstance(value, str):
        return checked(text, expiry_seconds)(value, where)
    raise expected(f"{NEVER}, a unix time or a date such as 2027-01-31T00:00:00Z", value, where)


def _amount(what: str) -> Reader[str | int | Decimal]:
    def reader(value: Any, where: str) -> str | int | Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise expected(what, value, where)
        return value

    return reader


def _unlimited_usd(value: str | int | Decimal) -> int:
    return parse_usd(value, allow_unlimited=True)


def _scalar_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise expected("text or a number", value, where)
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
