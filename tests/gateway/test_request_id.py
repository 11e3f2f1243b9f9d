"""A client's X-Request-ID is kept only when it is 1 to 128 characters of printable ASCII."""

from __future__ import annotations

import re

import pytest

from burncloud.gateway.relay.request_id import request_id

FRESH = re.compile(r"[0-9a-f]{32}")


def scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"type": "http", "headers": list(headers)}


@pytest.mark.parametrize(
    "value",
    [b"req-1", b"a", b"x" * 128, b"[link=http://evil.example]id[/link]", b"!~"],
)
def test_a_plain_client_id_is_kept(value: bytes) -> None:
    assert request_id(scope((b"x-request-id", value))) == value.decode()


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"x" * 129,
        b"req\x1b]8;;http://evil.example\x1b\\",  # ESC: ASCII, but a terminal command
        b"req\x7f",
        b"req\x00",
        b"two words",
        b"tab\there",
        b"caf\xc3\xa9",
        b"\xe2\x80\xaereq",  # U+202E, the right-to-left override
    ],
)
def test_anything_else_gets_a_fresh_id(value: bytes) -> None:
    assert FRESH.fullmatch(request_id(scope((b"x-request-id", value))))


def test_without_the_header_each_request_gets_its_own_id() -> None:
    first, second = request_id(scope()), request_id(scope((b"x-other", b"req-1")))
    assert FRESH.fullmatch(first) and FRESH.fullmatch(second) and first != second


def test_the_first_request_id_header_decides() -> None:
    assert request_id(scope((b"x-request-id", b"one"), (b"x-request-id", b"two"))) == "one"
    refused = request_id(scope((b"x-request-id", b"bad\x1b"), (b"x-request-id", b"two")))
    assert FRESH.fullmatch(refused)
