"""Session affinity: the turns of one conversation go to the channel and key that served it
last, while that channel serves, so the provider's prompt cache keeps hitting.

A text-generating request (chat, completions, Responses, Messages, generateContent: the
endpoints that stream) names its conversation by OpenAI's ``prompt_cache_key``, its
``user`` field, Anthropic's ``metadata.user_id`` or an ``X-Session-Id`` header, the first
one present. The name is scoped by the caller (user id, group) and the public model and
hashed: two users who both say ``user: "bob"`` never share a pin, and no store holds what
the client wrote.

The ``AffinityBook`` keeps pins for ``ttl`` seconds since their last use: on this machine
in a table its workers share (``fleet.affinity_store``), and across a fleet in Redis. A
request without a session name costs nothing here; with one it costs one Redis ``GET``
(or, without Redis, one read of the table) before routing. Pins are written after an
answer: to the table at once, to Redis in the background; a pin the fleet wrote less than
``ttl / 60`` ago is not written again (a held pin lives between 59 and 60 minutes of an
hour's TTL after its last use). While Redis is up it alone says where a conversation is
pinned, so a release on one router holds for all; while it is down each machine goes by
its own table (pins made then are not in Redis when it returns: those conversations may
move once). A pinned channel that fails, or is no longer among the request's candidates,
is released unless another channel answered (whose pin replaces it): no conversation is
held to a dead channel.

Priority wins over affinity: the pinned channel goes first within its priority tier, so a
conversation moved to a backup tier returns to the preferred one once that serves again.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from burncloud.gateway.fleet.health import Outcome
from burncloud.gateway.fleet.redis_link import RedisDown, RedisLink
from burncloud.gateway.fleet.shared_state import EMPTY, Record, SharedState, StateFull
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.snapshot import Candidate, Upstream

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("burncloud.affinity")

KeyOrder = Callable[[Candidate], Sequence[Upstream]]  # a channel's keys in the order to try

SESSION_HEADER = b"x-session-id"
REFRESH_SHARE = 1 / 60  # a pin younger than this share of the TTL is not rewritten in Redis
TAG_LENGTH = 12  # hex digits of the session hash shown in the route trace


@dataclass(frozen=True, slots=True)
class Sticky:
    """The channel and key a conversation is pinned to."""

    channel_id: int
    key_id: int
    # When the fleet's copy (Redis) was written, by the writer's clock; 0.0 when the pin
    # came from this machine's table. Not part of the pin's identity.
    since: float = field(default=0.0, compare=False)


@dataclass(frozen=True, slots=True)
class Session:
    """A conversation, scoped by its caller and model: the hash names it everywhere."""

    key: str  # the store's key: "aff:" and the hash
    tag: str  # the hash's first digits, for the route trace


def session_id(data: Mapping[str, Any], headers: Mapping[bytes, bytes]) -> str | None:
    """The conversation's name as the client gave it, None when it gave none."""
    metadata = data.get("metadata")
    for value in (
        data.get("prompt_cache_key"),
        data.get("user"),
        metadata.get("user_id") if isinstance(metadata, dict) else None,
    ):
        if isinstance(value, str) and value:
            return value
    header = headers.get(SESSION_HEADER)
    if header:
        text = header.decode("latin-1").strip()
        return text or None
    return None


def scoped_session(user_id: int, group: str, model: str, name: str) -> Session:
    """The session ``name`` of one user, group and public model."""
    scope = f"{user_id}\x1f{group}\x1f{model}\x1f{name}".encode(errors="surrogatepass")
    digest = hashlib.blake2b(scope, digest_size=16).hexdigest()
    return Session("aff:" + digest, digest[:TAG_LENGTH])


def sticky_order(ordered: list[Candidate], sticky: Sticky | None) -> tuple[list[Candidate], bool]:
    """``ordered`` with the pinned channel first in its priority tier, and whether that
    made it the first candidate of all (a pick from affinity)."""
    if sticky is None:
        return ordered, False
    for index, candidate in enumerate(ordered):
        if candidate.upstream.id == sticky.channel_id:
            start = index
            while start > 0 and ordered[start - 1].priority == candidate.priority:
                start -= 1
            moved = [*ordered[:start], candidate, *ordered[start:index], *ordered[index + 1 :]]
            return moved, start == 0
    return ordered, False


def preferred_key(candidate: Candidate, sticky: Sticky | None) -> int | None:
    """The key of ``candidate`` to try first: the pinned one while it is enabled, else None
    (the channel's own key selection decides)."""
    if sticky is None or candidate.upstream.id != sticky.channel_id:
        return None
    if any(key.key_id == sticky.key_id for key in candidate.keys):
        return sticky.key_id
    return None


def pinned_first(keys: Sequence[Upstream], key_id: int | None) -> Sequence[Upstream]:
    """``keys`` with key ``key_id`` first when it is among them, else as they are."""
    for index, key in enumerate(keys):
        if key.key_id == key_id:
            return keys if index == 0 else [key, *keys[:index], *keys[index + 1 :]]
    return keys


class AffinityBook:
    """The pins of every conversation: ``state`` for this machine's workers (a bounded
    table: ``affinity_store.ExpiringTable``), ``link`` (when set) for the fleet; ``ttl``
    seconds since last use, 0 for no affinity at all."""

    def __init__(
        self,
        state: SharedState,
        link: RedisLink | None,
        ttl: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._state = state
        self._link = link
        self._ttl = max(0.0, ttl)
        self._refresh = self._ttl * REFRESH_SHARE
        self._clock = clock
        self._pending: set[asyncio.Task[None]] = set()
        self._warned_full = False

    @property
    def enabled(self) -> bool:
        return self._ttl > 0

    async def turn(
        self, caller: Caller, request: InboundRequest, headers: Mapping[bytes, bytes]
    ) -> SessionTurn | None:
        """This request's turn of its conversation with the pin found, None when affinity
        is off, the endpoint generates no text (no prompt cache to keep: embeddings, images,
        audio) or the request names no session; then nothing else is done."""
        if not self._ttl or not request.endpoint.streams:
            return None
        name = session_id(request.data, headers)
        if name is None:
            return None
        session = scoped_session(caller.user.id, caller.group, request.model, name)
        return SessionTurn(self, session, await self.lookup(session))

    async def lookup(self, session: Session) -> Sticky | None:
        """The live pin of ``session``: the fleet's (one GET) while Redis is up, else this
        machine's."""
        link = self._link
        if link is not None and link.up:
            try:
                return _parsed(await link.call(partial(_get, link.key(session.key))))
            except RedisDown:
                pass
        return self._local(session)

    def remember(
        self, session: Session, channel_id: int, key_id: int, seen: Sticky | None = None
    ) -> None:
        """Pin ``session`` to the channel and key that answered it, for ``ttl`` from now;
        ``seen`` (what ``lookup`` found) spares the fleet a write of a pin it has fresh."""
        now = self._clock()
        record = (float(channel_id), float(key_id), now + self._ttl, now)
        self._store(session, record)
        if self._fresh(seen, channel_id, key_id, now):
            return
        link = self._link
        if link is not None and link.up:
            value = f"{channel_id}:{key_id}:{now:.3f}"
            self._later(partial(_set, link.key(session.key), value, _millis(self._ttl)))

    def release(self, session: Session) -> None:
        """Forget the pin of ``session`` (its channel failed or is gone)."""
        self._store(session, EMPTY)
        link = self._link
        if link is not None and link.up:
            self._later(partial(_delete, link.key(session.key)))

    async def drain(self) -> None:
        """Wait for the fleet writes still on their way (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    def _fresh(self, seen: Sticky | None, channel_id: int, key_id: int, now: float) -> bool:
        """Whether the fleet holds this very pin, written less than the refresh ago."""
        if seen is None or seen.channel_id != channel_id or seen.key_id != key_id:
            return False
        return 0 <= now - seen.since < self._refresh

    def _local(self, session: Session) -> Sticky | None:
        channel_id, key_id, expires, _ = self._state.read(session.key)
        if expires <= self._clock():
            return None
        return Sticky(int(channel_id), int(key_id))

    def _store(self, session: Session, record: Record) -> None:
        try:
            self._state.update(session.key, lambda _: (record, None))
        except StateFull:
            if not self._warned_full:
                self._warned_full = True
                log.error("the session table is full: new pins are kept in Redis only")

    def _later(self, command: Callable[[Redis], Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._send(command))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, command: Callable[[Redis], Any]) -> None:
        assert self._link is not None
        try:
            await self._link.call(command)
        except RedisDown:
            log.debug("a session pin was not written: redis is down")


@dataclass(slots=True)
class SessionTurn:
    """One request of a conversation: the pin it found, and what became of it.

    The relay orders its candidates with ``order`` and a channel's keys with ``key_order``,
    reports each attempt's outcome (``attempted``), then ``finish``es the turn; ``trace``
    is what ``route explain`` shows."""

    book: AffinityBook
    session: Session
    sticky: Sticky | None
    first: bool = False  # the pinned channel went first: a pick from affinity
    lost: bool = False  # the pinned channel failed, or was not a candidate
    kept: Sticky | None = None  # the channel and key that answered, pinned now

    def order(self, ordered: list[Candidate]) -> list[Candidate]:
        """The candidates with the pinned channel first in its tier."""
        moved, self.first = sticky_order(ordered, self.sticky)
        sticky = self.sticky
        self.lost = sticky is not None and not _among(ordered, sticky.channel_id)
        return moved

    def key_order(self, order: KeyOrder) -> KeyOrder:
        """``order`` with the pinned key first on the pinned channel."""
        sticky = self.sticky
        if sticky is None:
            return order

        def pinned(candidate: Candidate) -> Sequence[Upstream]:
            keys = order(candidate)
            if candidate.upstream.id != sticky.channel_id:
                return keys
            return pinned_first(keys, sticky.key_id)

        return pinned

    def attempted(self, channel_id: int, key_id: int, outcome: Outcome) -> None:
        """One attempt's outcome: a success pins, a channel's failure may release; the
        request's own fault (NEUTRAL) changes nothing."""
        if outcome is Outcome.SUCCESS:
            self.answered(channel_id, key_id)
        elif outcome is not Outcome.NEUTRAL:
            self.failed(channel_id)

    def answered(self, channel_id: int, key_id: int) -> None:
        """The channel and key served the request: pin the conversation to them."""
        self.kept = Sticky(channel_id, key_id)
        self.book.remember(self.session, channel_id, key_id, self.sticky)

    def failed(self, channel_id: int) -> None:
        """A channel failed the request: the pin goes if it was the pinned one."""
        if self.sticky is not None and self.sticky.channel_id == channel_id:
            self.lost = True

    def finish(self) -> None:
        """Release a pin that failed or went, unless another channel answered (and is
        pinned instead)."""
        if self.lost and self.kept is None:
            self.book.release(self.session)

    def trace(self) -> dict[str, Any]:
        """The route trace's ``affinity``: the session's hash (never its name), the pin
        found, whether it went first, and what became of it."""
        sticky = self.sticky
        return {
            "session": self.session.tag,
            "channel": None if sticky is None else sticky.channel_id,
            "key": None if sticky is None else sticky.key_id,
            "hit": self.first,
            "result": self._result(),
        }

    def _result(self) -> str:
        if self.kept is None:
            return "released" if self.lost else "unanswered"
        if self.sticky is None:
            return "new"
        return "kept" if self.kept.channel_id == self.sticky.channel_id else "moved"


def _among(candidates: Sequence[Candidate], channel_id: int) -> bool:
    return any(c.upstream.id == channel_id for c in candidates)


def _parsed(value: bytes | str | None) -> Sticky | None:
    """A pin as Redis holds it ("channel:key:since"); None when absent or malformed."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    try:
        channel, key, since = text.split(":")
        return Sticky(int(channel), int(key), float(since))
    except ValueError:
        return None


def _millis(seconds: float) -> int:
    return max(1, int(seconds * 1000))


async def _get(key: str, redis: Redis) -> bytes | str | None:
    value: bytes | str | None = await redis.get(key)
    return value


async def _set(key: str, value: str, px: int, redis: Redis) -> None:
    await redis.set(key, value, px=px)


async def _delete(key: str, redis: Redis) -> None:
    await redis.delete(key)
