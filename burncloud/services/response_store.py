"""The Responses API's state burncloud keeps: which response is whose, and where it lives.

A response an upstream made and stores itself (passthrough) is remembered only by the
channel that holds it, so that ``GET``/``DELETE`` and ``previous_response_id`` go back
there. A response burncloud made by conversion is stored whole: the Response object and the
conversation input up to it (earlier turns' input and output items, then its own input),
so that a chain of ``previous_response_id`` reads one row. Rows belong to a user, expire
after the retention the gateway is configured with, and are pruned in the background; a
converted row over ``MAX_STORED_BYTES`` of JSON is not stored (a later
``previous_response_id`` to it is answered like any unknown id).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from burncloud.db.base import Executor, Row
from burncloud.errors import InvalidRequest, NotFound
from burncloud.services.clock import now as clock_now

log = logging.getLogger("burncloud.responses")

JSON = dict[str, Any]
CONVERTED, PASSTHROUGH = "converted", "passthrough"
DAY = 86_400
MAX_STORED_BYTES = 8 * 1024 * 1024  # input items and Response object together, as JSON
PAGE_LIMIT, MAX_PAGE_LIMIT = 20, 100  # OpenAI's default and largest input_items page
ORDERS = ("asc", "desc")
PRUNE_BATCH = 500  # rows per DELETE: no long write lock for the log writer to wait behind

_UPSERT = (
    "INSERT INTO responses (id, user_id, token_id, channel_id, kind, created_at, expires_at,"
    " input_items, response) VALUES (:id, :user, :token, :channel, :kind, :created, :expires,"
    " :items, :response) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id,"
    " token_id = excluded.token_id, channel_id = excluded.channel_id, kind = excluded.kind,"
    " created_at = excluded.created_at, expires_at = excluded.expires_at,"
    " input_items = excluded.input_items, response = excluded.response"
    " WHERE responses.user_id = excluded.user_id"  # an id never changes hands
)


class ResponseNotFound(NotFound):
    """``GET``/``DELETE`` of a response id the caller has none of (unknown, another
    user's, expired, deleted): OpenAI's 404, which says nothing of why."""

    type = "invalid_request_error"

    def __init__(self, response_id: str) -> None:
        super().__init__(f"Response with id '{_shown(response_id)}' not found.")


class PreviousResponseNotFound(InvalidRequest):
    """A ``previous_response_id`` the caller has none of: OpenAI's 400."""

    code = "previous_response_not_found"

    def __init__(self, response_id: str) -> None:
        super().__init__(f"Previous response with id '{_shown(response_id)}' not found.")


def _shown(response_id: str) -> str:
    """A client's id as an error message may quote it: printable, and not a page long."""
    printable = "".join(char for char in response_id if char.isprintable())
    return printable if len(printable) <= 128 else printable[:125] + "..."


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One row: a converted response's items and Response object, or a passthrough's
    channel (``input_items`` empty and ``response`` None)."""

    id: str
    user_id: int
    token_id: int | None
    channel_id: int | None
    kind: str
    created_at: int
    expires_at: int
    input_items: tuple[JSON, ...] = ()
    response: JSON | None = None

    @property
    def converted(self) -> bool:
        return self.kind == CONVERTED

    def history(self) -> list[JSON]:
        """What a next turn with ``previous_response_id`` continues: the input items, then
        the Response's output items."""
        output = self.response.get("output") if self.response else None
        return [*self.input_items, *(output if isinstance(output, list) else ())]

    @classmethod
    def from_row(cls, row: Row) -> StoredResponse:
        items = orjson.loads(row["input_items"]) if row["input_items"] is not None else []
        response = orjson.loads(row["response"]) if row["response"] is not None else None
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            token_id=row["token_id"],
            channel_id=row["channel_id"],
            kind=row["kind"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            input_items=tuple(items),
            response=response,
        )


def items_of_input(value: str | Sequence[JSON]) -> list[JSON]:
    """A request's ``input`` as items: a string is one user message."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value)


async def save_converted(
    db: Executor,
    response_id: str,
    user_id: int,
    token_id: int | None,
    channel_id: int | None,
    input_items: Sequence[JSON],
    response: JSON,
    now: int,
    retention_days: int,
) -> bool:
    """Store a converted response with the whole conversation input up to it (its items
    given ids and OpenAI's item shape: ``normalize_items``); False, storing nothing, when
    the two are larger than ``MAX_STORED_BYTES`` together."""
    items = orjson.dumps(normalize_items(response_id, input_items))
    whole = orjson.dumps(response)
    if len(items) + len(whole) > MAX_STORED_BYTES:
        log.info(
            "response %s not stored: %d bytes of state, over the limit of %d",
            response_id,
            len(items) + len(whole),
            MAX_STORED_BYTES,
        )
        return False
    row = _row(response_id, user_id, token_id, channel_id, CONVERTED, now, retention_days)
    await db.execute(_UPSERT, {**row, "items": items.decode(), "response": whole.decode()})
    return True


async def remember_passthrough(
    db: Executor,
    response_id: str,
    user_id: int,
    token_id: int | None,
    channel_id: int,
    now: int,
    retention_days: int,
) -> None:
    """Remember that ``channel_id`` made (and holds) response ``response_id``."""
    row = _row(response_id, user_id, token_id, channel_id, PASSTHROUGH, now, retention_days)
    await db.execute(_UPSERT, {**row, "items": None, "response": None})


def _row(
    response_id: str,
    user_id: int,
    token_id: int | None,
    channel_id: int | None,
    kind: str,
    now: int,
    retention_days: int,
) -> JSON:
    return {
        "id": response_id,
        "user": user_id,
        "token": token_id,
        "channel": channel_id,
        "kind": kind,
        "created": now,
        "expires": now + retention_days * DAY,
    }


async def find(
    db: Executor, response_id: str, user_id: int, *, now: int | None = None
) -> StoredResponse | None:
    """The user's unexpired response ``response_id``; None for an unknown, expired or
    another user's id (the caller cannot tell which)."""
    row = await db.fetch_one(
        "SELECT * FROM responses WHERE id = :id AND user_id = :user AND expires_at > :now",
        {"id": response_id, "user": user_id, "now": clock_now() if now is None else now},
    )
    return None if row is None else StoredResponse.from_row(row)


async def delete(db: Executor, response_id: str, user_id: int, *, now: int | None = None) -> bool:
    """Delete the user's unexpired response ``response_id``; whether there was one."""
    deleted = await db.execute(
        "DELETE FROM responses WHERE id = :id AND user_id = :user AND expires_at > :now",
        {"id": response_id, "user": user_id, "now": clock_now() if now is None else now},
    )
    return deleted > 0


async def prune(db: Executor, now: int) -> int:
    """Delete the rows expired by ``now``, a batch at a time; how many."""
    total = 0
    while True:
        deleted = await db.execute(
            "DELETE FROM responses WHERE id IN"
            " (SELECT id FROM responses WHERE expires_at <= :now LIMIT :n)",
            {"now": now, "n": PRUNE_BATCH},
        )
        total += deleted
        if deleted < PRUNE_BATCH:
            return total


def normalize_items(response_id: str, items: Sequence[JSON]) -> list[JSON]:
    """``items`` as OpenAI lists them: every item with an ``id`` (one made from
    ``response_id`` and the item's place where it had none, so saving is deterministic) and
    messages in the typed form (``type: message``, content parts, a status)."""
    return [
        {"id": item.get("id") or _item_id(response_id, index), **_typed(item)}
        for index, item in enumerate(items)
    ]


def _item_id(response_id: str, index: int) -> str:
    digest = hashlib.sha256(f"{response_id}\x00{index}".encode()).hexdigest()
    return f"msg_{digest[:48]}"


def _typed(item: JSON) -> JSON:
    """A message in the typed form OpenAI lists; any other item as it is."""
    if item.get("type", "message") != "message" or "role" not in item:
        return item
    assistant = item["role"] == "assistant"
    content = item.get("content")
    if isinstance(content, str):
        part: JSON = {"type": "output_text", "text": content, "annotations": []}
        content = [part if assistant else {"type": "input_text", "text": content}]
    return {
        **item,
        "type": "message",
        "content": content,
        "status": item.get("status") or "completed",
    }


def input_items_page(
    stored: StoredResponse,
    after: str | None = None,
    before: str | None = None,
    limit: int = PAGE_LIMIT,
    order: str = "desc",
) -> JSON:
    """One page of a converted response's input items in OpenAI's list shape: in ``order``,
    those after the item ``after`` (from the start of the list) and before ``before`` (the
    page nearest to it when only ``before`` is given). InvalidRequest for a limit outside
    1..100, an unknown order, or a cursor that names no item."""
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        raise InvalidRequest(f"Invalid 'limit': expected an integer from 1 to {MAX_PAGE_LIMIT}.")
    if order not in ORDERS:
        raise InvalidRequest(f"Invalid 'order': expected one of {', '.join(ORDERS)}.")
    items = list(stored.input_items if order == "asc" else reversed(stored.input_items))
    start = 0 if after is None else _place(items, after, "after") + 1
    end = len(items) if before is None else _place(items, before, "before")
    window = items[start:end]
    page = window[-limit:] if after is None and before is not None else window[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(window) > len(page),
    }


def _place(items: list[JSON], item_id: str, param: str) -> int:
    for index, item in enumerate(items):
        if item.get("id") == item_id:
            return index
    raise InvalidRequest(f"Invalid '{param}': no input item with id '{_shown(item_id)}'.")
