"""Bounding the work a request body can cost before the caller is known to be able to pay.

A body of a million tiny JSON values is a few tens of megabytes on the wire and ten times
that as Python objects once parsed: six at once took a worker from 70 MiB to 976 MiB. Two
rules keep that work in proportion:

- A large body (over ``LARGE_BODY`` bytes, or of unknown length) is read only once the
  caller is known to be able to pay for something: a key with nothing left gets its 402
  before a byte of the body is kept.
- A body is parsed only if it holds at most ``MAX_JSON_ELEMENTS`` JSON values, counted
  before parsing from its structural bytes (``, : [ {``; an upper bound, since those in
  strings count too) in one C-speed pass, and only for bodies long enough to exceed it.
  Past the cap the answer is 413 at once. Nesting is bounded by the parser (orjson refuses
  depths over 1024 with a 400).

A million values is far above what real requests hold (a 1M-token prompt of code counts
about 200,000) and parses into at most ~80 MB.
"""

from __future__ import annotations

from burncloud.errors import RequestTooLarge

LARGE_BODY = 1 << 20  # bytes
MAX_JSON_ELEMENTS = 1_000_000
_NOT_STRUCTURAL = bytes(b for b in range(256) if b not in b",:[{")


def is_large(headers: dict[bytes, bytes]) -> bool:
    """Whether the body may be large: a Content-Length over LARGE_BODY, or none at all."""
    declared = headers.get(b"content-length")
    if declared is None:
        return True
    try:
        return int(declared) > LARGE_BODY
    except ValueError:
        return True  # read_body refuses it with its own 400


def json_elements(body: bytes) -> int:
    """An upper bound of the JSON values in ``body`` (each one but the first follows a
    comma, a colon or an opening bracket)."""
    return len(body.translate(None, _NOT_STRUCTURAL)) + 1


def check_json_elements(body: bytes, limit: int = MAX_JSON_ELEMENTS) -> None:
    """RequestTooLarge if ``body`` may hold more than ``limit`` JSON values."""
    if len(body) <= limit:  # each value takes at least one byte
        return
    count = json_elements(body)
    if count > limit:
        raise RequestTooLarge(
            f"the request body holds too many JSON values (about {count:,}; the limit is {limit:,})"
        )
