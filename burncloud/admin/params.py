"""What an admin request carries: its JSON body and query parameters, typed.

Only the JSON shape is checked here (which fields, of which JSON type); whether a value
is acceptable is for the services to judge, exactly as for the CLI. JSON numbers are read
as exact decimals, never binary floats, so ``{"amount": 0.1}`` means 0.1 USD.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import overload

from quart import request
from werkzeug.exceptions import RequestEntityTooLarge

from burncloud.errors import InvalidRequest, RequestTooLarge
from burncloud.protocols.shapes import JSON
from burncloud.services.logs import MAX_BIGINT
from burncloud.services.tokens import split_list


async def read_body(*allowed: str) -> JSON:
    """The body's JSON object without null fields ({} when empty); 400 if malformed or unknown."""
    try:
        data = await request.get_data()
    except RequestEntityTooLarge:
        raise RequestTooLarge("the request body is too large") from None
    if not data.strip():
        return {}
    try:
        body = json.loads(data, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        expected = ", ".join(allowed) if allowed else "no fields"
        raise InvalidRequest(f"unknown field {unknown[0]!r}: expected {expected}")
    return {name: value for name, value in body.items() if value is not None}


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def text(body: JSON, name: str) -> str | None:
    """A string field, or None when absent."""
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"{name} must be a string")
    return value


def required_text(body: JSON, name: str) -> str:
    """A string field that must be present."""
    value = text(body, name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


@overload
def integer(body: JSON, name: str) -> int | None: ...
@overload
def integer(body: JSON, name: str, default: int) -> int: ...
def integer(body: JSON, name: str, default: int | None = None) -> int | None:
    """An integer field a BIGINT column can hold, or ``default`` when absent."""
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) > MAX_BIGINT:
        raise InvalidRequest(f"{name} must be an integer from {-MAX_BIGINT} to {MAX_BIGINT}")
    return value


def decimal_text(body: JSON, name: str) -> str | None:
    """A decimal (money, a ratio) sent as a string or a JSON number, as text; None if absent."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidRequest(f'{name} must be a decimal string such as "1.5"')
    return str(value)


def required_decimal(body: JSON, name: str) -> str:
    """A decimal field that must be present, as text."""
    value = decimal_text(body, name)
    if value is None:
        raise InvalidRequest(f"{name} is required")
    return value


def ref(body: JSON, name: str) -> str | None:
    """A reference given as a string or an integer (a user id or name, a unix time)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidRequest(f"{name} must be a string or an integer")
    return str(value)


def names(body: JSON, name: str) -> list[str] | None:
    """A list of strings, sent as a JSON list or a comma-separated string; None if absent."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return list(split_list(value))
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequest(f"{name} must be a list of strings or a comma-separated string")
    return value


def string_map(body: JSON, name: str) -> dict[str, str] | None:
    """A JSON object field, or None when absent (the services check its entries)."""
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"{name} must be a JSON object")
    return value


def query_text(name: str) -> str | None:
    """A query parameter, or None when absent or empty."""
    value = request.args.get(name)
    return value if value else None


def query_int(name: str) -> int | None:
    """An integer query parameter, or None when absent or empty."""
    value = query_text(name)
    if value is None:
        return None
    digits = value.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or int(digits) > MAX_BIGINT:
        raise InvalidRequest(f"query parameter {name} must be an integer")
    return int(value)
