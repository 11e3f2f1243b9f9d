"""Session affinity: naming a conversation, pinning it to a channel and key for a TTL since
last use, releasing a pin whose channel fails or goes, and the bounded session table."""

from __future__ import annotations

import multiprocessing
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest

from burncloud.errors import ConfigError
from burncloud.gateway.fleet.affinity_store import (
    SESSIONS_FILE_ENV,
    WAYS,
    ExpiringTable,
    attach_sessions,
    open_sessions,
    sessions_file_path,
)
from burncloud.gateway.fleet.health import Outcome
from burncloud.gateway.fleet.shared_state import EMPTY, LocalState, Record, key_hash
from burncloud.gateway.relay.affinity import (
    AffinityBook,
    SessionTurn,
    Sticky,
    pinned_first,
    preferred_key,
    scoped_session,
    session_id,
    sticky_order,
)
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.inbound import CHAT, EMBEDDINGS, InboundRequest, parse_request
from burncloud.gateway.relay.routing import ChannelSelector
from burncloud.gateway.snapshot import Candidate, Upstream
from burncloud.services.tokens import Token
from burncloud.services.users import User

HOUR = 3600.0
T = TypeVar("T")


@dataclass(slots=True)
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingState(LocalState):
    """A LocalState that counts what the book asks of it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = self.updates = 0

    def read(self, key: str) -> Record:
        self.reads += 1
        return super().read(key)

    def update(self, key: str, fn: Callable[[Record], tuple[Record, T]]) -> T:
        self.updates += 1
        return super().update(key, fn)


def caller(user_id: int = 1, group: str = "default") -> Caller:
    user = User(
        user_id, f"u{user_id}", "user", "enabled", group, 0, 0, "", None, None, None, None, 0
    )
    token = Token(
        user_id * 10, "t", "sk-...", user_id, "enabled", None, -1, 0, (), (), None, None, None,
        frozenset({"relay"}), 0, 0,
    )  # fmt: skip
    return Caller(token, user)


def chat(model: str = "m", **fields: Any) -> InboundRequest:
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **fields}
    return parse_request(CHAT, orjson.dumps(body))


def channel(channel_id: int, priority: int = 0, weight: int = 1, keys: int = 2) -> Candidate:
    upstreams = tuple(
        Upstream(
            channel_id, "openai", f"c{channel_id}", "http://x/v1", f"k{k}", {}, {},
            key_id=channel_id * 10 + k,
        )
        for k in range(1, keys + 1)
    )  # fmt: skip
    return Candidate(upstreams[0], priority, weight, keys=upstreams)


def ids(order: Sequence[Candidate]) -> list[int]:
    return [c.upstream.id for c in order]


# -- naming a conversation


@pytest.mark.parametrize(
    ("data", "headers", "expected"),
    [
        (
            {"prompt_cache_key": "p", "user": "u", "metadata": {"user_id": "a"}},
            {b"x-session-id": b"h"},
            "p",
        ),
        ({"user": "u", "metadata": {"user_id": "a"}}, {b"x-session-id": b"h"}, "u"),
        ({"metadata": {"user_id": "a"}}, {b"x-session-id": b"h"}, "a"),
        ({}, {b"x-session-id": b" h "}, "h"),
        ({}, {}, None),
    ],
)
def test_the_session_is_the_first_of_cache_key_user_metadata_and_header(
    data: dict[str, Any], headers: Mapping[bytes, bytes], expected: str | None
) -> None:
    assert session_id(data, headers) == expected


def test_blank_and_non_string_names_are_passed_over() -> None:
    data = {"prompt_cache_key": "", "user": 7, "metadata": {"user_id": None}}
    assert session_id(data, {b"x-session-id": b"h"}) == "h"
    assert session_id({"metadata": "user_id"}, {b"x-session-id": b"  "}) is None


def test_a_session_is_scoped_by_user_group_and_model() -> None:
    base = scoped_session(1, "default", "m", "bob")
    assert scoped_session(1, "default", "m", "bob") == base
    others = [
        scoped_session(2, "default", "m", "bob"),
        scoped_session(1, "vip", "m", "bob"),
        scoped_session(1, "default", "m2", "bob"),
        scoped_session(1, "default", "m", "bob2"),
    ]
    assert len({s.key for s in [base, *others]}) == 5


async def test_two_users_with_the_same_user_field_do_not_share_a_pin() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    alice = await book.turn(caller(1), chat(user="bob"), {})
    mallory = await book.turn(caller(2), chat(user="bob"), {})
    assert alice is not None and mallory is not None
    alice.answered(3, 31)
    assert await book.lookup(alice.session) == Sticky(3, 31)
    assert await book.lookup(mallory.session) is None


async def test_without_a_session_ttl_or_generation_nothing_is_read_or_written() -> None:
    state = CountingState()
    assert await AffinityBook(state, None, HOUR).turn(caller(), chat(), {}) is None
    assert await AffinityBook(state, None, 0).turn(caller(), chat(user="bob"), {}) is None
    assert not AffinityBook(state, None, 0).enabled
    assert (state.reads, state.updates) == (0, 0)
    embedding = parse_request(EMBEDDINGS, b'{"model": "e", "input": "x", "user": "bob"}')
    assert await AffinityBook(state, None, HOUR).turn(caller(), embedding, {}) is None
    assert (state.reads, state.updates) == (0, 0)
    turn = await AffinityBook(state, None, HOUR).turn(caller(), chat(user="bob"), {})
    assert turn is not None and (state.reads, state.updates) == (1, 0)  # one local read


async def test_the_trace_shows_the_hash_and_never_the_name() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    name = "conversation-4f1d-secret"
    turn = await book.turn(caller(), chat(prompt_cache_key=name), {})
    assert turn is not None
    turn.order([channel(1), channel(2)])
    turn.answered(2, 21)
    trace = turn.trace()
    assert trace == {
        "session": turn.session.tag,
        "channel": None,
        "key": None,
        "hit": False,
        "result": "new",
    }
    assert len(trace["session"]) == 12 and name not in orjson.dumps(trace).decode()
    assert turn.session.key.startswith("aff:" + trace["session"])
    assert name not in turn.session.key


# -- the pin's lifetime


async def test_a_pin_is_held_for_the_ttl_since_its_last_use() -> None:
    clock = Clock()
    book = AffinityBook(LocalState(), None, HOUR, clock)
    session = scoped_session(1, "default", "m", "bob")
    book.remember(session, 3, 31)
    clock.now += HOUR - 1
    assert await book.lookup(session) == Sticky(3, 31)
    book.remember(session, 3, 31)  # used again: an hour from now
    clock.now += HOUR - 1
    assert await book.lookup(session) == Sticky(3, 31)
    clock.now += 1
    assert await book.lookup(session) is None


async def test_release_forgets_the_pin() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    session = scoped_session(1, "default", "m", "bob")
    book.remember(session, 3, 31)
    book.release(session)
    assert await book.lookup(session) is None


# -- ordering and keys


def test_the_pinned_channel_goes_first_and_the_rest_keep_their_order() -> None:
    ordered = [channel(1), channel(2), channel(3)]
    moved, first = sticky_order(ordered, Sticky(3, 31))
    assert ids(moved) == [3, 1, 2] and first
    assert sticky_order(ordered, Sticky(1, 11)) == (ordered, True)


def test_without_a_pin_or_with_a_pin_that_is_not_a_candidate_the_order_stays() -> None:
    ordered = [channel(1), channel(2)]
    assert sticky_order(ordered, None) == (ordered, False)
    assert sticky_order(ordered, Sticky(9, 91)) == (ordered, False)


def test_priority_wins_over_affinity() -> None:
    ordered = [channel(1, 10), channel(2, 10), channel(3, 0), channel(4, 0)]
    moved, first = sticky_order(ordered, Sticky(4, 41))
    assert ids(moved) == [1, 2, 4, 3] and not first  # first of its own tier only
    moved, first = sticky_order(ordered, Sticky(2, 21))
    assert ids(moved) == [2, 1, 3, 4] and first


def test_the_pinned_key_is_preferred_while_it_is_enabled() -> None:
    candidate = channel(3, keys=3)
    assert preferred_key(candidate, Sticky(3, 32)) == 32
    assert preferred_key(candidate, Sticky(3, 39)) is None  # disabled since: not a key now
    assert preferred_key(candidate, Sticky(4, 32)) is None  # another channel's pin
    assert preferred_key(candidate, None) is None


def test_the_pinned_key_goes_first_among_the_channels_keys() -> None:
    keys = channel(3, keys=3).keys
    assert [k.key_id for k in pinned_first(keys, 33)] == [33, 31, 32]
    assert pinned_first(keys, 31) is keys and pinned_first(keys, 39) is keys
    assert pinned_first(keys, None) is keys


# -- one turn


async def pinned_turn(book: AffinityBook, sticky: Sticky | None, name: str = "bob") -> SessionTurn:
    session = scoped_session(1, "default", "m", name)
    if sticky is not None:
        book.remember(session, sticky.channel_id, sticky.key_id)
    turn = await book.turn(caller(), chat(user=name), {})
    assert turn is not None and turn.sticky == sticky
    return turn


async def test_an_answer_from_the_pinned_channel_keeps_the_pin() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    turn = await pinned_turn(book, Sticky(2, 22))
    assert ids(turn.order([channel(1), channel(2)])) == [2, 1]
    key_order = turn.key_order(lambda candidate: candidate.keys)
    assert [k.key_id for k in key_order(channel(2))] == [22, 21]
    assert [k.key_id for k in key_order(channel(1))] == [11, 12]
    turn.attempted(2, 22, Outcome.SUCCESS)
    turn.finish()
    assert await book.lookup(turn.session) == Sticky(2, 22)
    assert turn.trace()["hit"] and turn.trace()["result"] == "kept"


async def test_a_failed_pinned_channel_moves_the_session_to_the_channel_that_answered() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    turn = await pinned_turn(book, Sticky(2, 22))
    turn.order([channel(1), channel(2)])
    turn.attempted(2, 22, Outcome.DEFINITIVE)
    turn.attempted(1, 12, Outcome.SUCCESS)
    turn.finish()
    assert await book.lookup(turn.session) == Sticky(1, 12)
    assert turn.trace()["result"] == "moved"


async def test_a_failed_pinned_channel_with_no_answer_releases_the_session() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    turn = await pinned_turn(book, Sticky(2, 22))
    turn.order([channel(1), channel(2)])
    turn.attempted(1, 11, Outcome.FAILURE)  # another channel's failure is not the pin's
    turn.attempted(2, 22, Outcome.NEUTRAL)  # the request's own fault (a 400)
    turn.finish()
    assert await book.lookup(turn.session) == Sticky(2, 22)
    turn = await pinned_turn(book, Sticky(2, 22))
    turn.order([channel(1), channel(2)])
    turn.attempted(2, 22, Outcome.FAILURE)
    turn.finish()
    assert await book.lookup(turn.session) is None
    assert turn.trace()["result"] == "released"


async def test_a_pin_to_a_channel_that_is_no_longer_a_candidate_is_released() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    turn = await pinned_turn(book, Sticky(5, 52))  # channel 5 was disabled since
    assert ids(turn.order([channel(1), channel(2)])) == [1, 2]
    turn.finish()
    assert await book.lookup(turn.session) is None
    turn = await pinned_turn(book, Sticky(5, 52))
    turn.order([channel(1)])
    turn.answered(1, 11)
    turn.finish()
    assert await book.lookup(turn.session) == Sticky(1, 11)


async def test_a_client_error_or_a_lower_tier_pin_releases_nothing() -> None:
    book = AffinityBook(LocalState(), None, HOUR)
    turn = await pinned_turn(book, Sticky(3, 31))
    assert ids(turn.order([channel(1, 10), channel(3, 0)])) == [1, 3]
    turn.finish()  # nothing answered and nothing failed (e.g. the client's own 400)
    assert await book.lookup(turn.session) == Sticky(3, 31)
    assert turn.trace() == {
        "session": turn.session.tag,
        "channel": 3,
        "key": 31,
        "hit": False,
        "result": "unanswered",
    }


# -- conversations over channels (the scenario, without a router)


def three_channels() -> tuple[Candidate, ...]:
    return (channel(1), channel(2), channel(3))


async def converse(
    books: Sequence[AffinityBook],
    conversations: int = 200,
    turns: int = 5,
    dead: int | None = None,
    killed_at: int = 2,
    seed: int = 7,
) -> dict[int, list[tuple[int, int]]]:
    """Where each turn of each conversation landed (channel, key): turn t of conversation
    c goes through ``books[(c + t) % len(books)]`` (a router each), ordered as the relay
    orders them (a weighted shuffle of three equal channels, each one's two keys at random)
    and then by affinity, the first healthy one answering with its first key; channel
    ``dead`` fails every request from turn ``killed_at`` on."""
    selector = ChannelSelector(LocalState(), random.Random(seed))
    landed: dict[int, list[tuple[int, int]]] = {c: [] for c in range(conversations)}
    for t in range(turns):
        for c in range(conversations):
            book = books[(c + t) % len(books)]
            turn = await book.turn(caller(), chat(user=f"conversation-{c}"), {})
            assert turn is not None
            key_order = turn.key_order(selector.key_order)
            for candidate in turn.order(selector.order("default", "m", three_channels())):
                key = key_order(candidate)[0].key_id
                if candidate.upstream.id == dead and t >= killed_at:
                    turn.attempted(candidate.upstream.id, key, Outcome.FAILURE)
                    continue
                turn.attempted(candidate.upstream.id, key, Outcome.SUCCESS)
                landed[c].append((candidate.upstream.id, key))
                break
            turn.finish()
            await book.drain()  # the next turn may come through another router
    return landed


def check_conversations(
    landed: dict[int, list[tuple[int, int]]], dead: int | None = None, killed_at: int = 2
) -> float:
    """Assert that every turn landed on its conversation's first channel and key, except
    that conversations of the killed channel moved once and stayed; the share of turns
    on their conversation's first channel."""
    firsts = Counter(turns[0][0] for turns in landed.values())
    assert all(40 <= firsts[ch] <= 95 for ch in (1, 2, 3)), firsts  # spread as unpinned
    on_first = 0
    for turns in landed.values():
        first = turns[0]
        if first[0] != dead:
            assert turns == [first] * len(turns)
        else:
            assert turns[:killed_at] == [first] * killed_at
            moved = turns[killed_at]
            assert moved[0] != dead and turns[killed_at:] == [moved] * (len(turns) - killed_at)
        on_first += sum(turn == first for turn in turns)
    return on_first / sum(len(turns) for turns in landed.values())


async def test_every_turn_of_a_conversation_lands_on_its_first_channel_and_key() -> None:
    landed = await converse([AffinityBook(ExpiringTable.anonymous(), None, HOUR)])
    assert check_conversations(landed) == 1.0


async def test_a_channel_killed_mid_run_moves_only_its_conversations() -> None:
    landed = await converse([AffinityBook(ExpiringTable.anonymous(), None, HOUR)], dead=2)
    share = check_conversations(landed, dead=2)
    moved = sum(turns[0][0] == 2 for turns in landed.values())
    assert 40 <= moved <= 95
    assert share == pytest.approx(1 - moved * 3 / 1000)  # a moved one: 3 of its 5 turns


async def test_workers_sharing_a_session_file_share_the_pins(tmp_path: Path) -> None:
    path = tmp_path / "sessions"
    made = ExpiringTable.create(path, 1024)
    tables = [made, ExpiringTable.open(path)]
    try:
        books = [AffinityBook(table, None, HOUR) for table in tables]
        assert check_conversations(await converse(books)) == 1.0
    finally:
        for table in tables:
            table.close()


# -- the session table


def bucket_mates(slots: int, count: int) -> list[str]:
    """``count`` keys that all fall into bucket 0 of a ``slots`` table."""
    buckets = slots // WAYS
    return [f"s{i}" for i in range(100_000) if key_hash(f"s{i}") % buckets == 0][:count]


def put(record: Record) -> Callable[[Record], tuple[Record, Record]]:
    return lambda old: (record, old)


def test_a_full_bucket_evicts_the_record_that_expires_first(tmp_path: Path) -> None:
    table = ExpiringTable.create(tmp_path / "sessions", 64)
    keys = bucket_mates(64, WAYS + 2)
    for n, key in enumerate(keys[:WAYS]):
        table.update(key, put((1.0, 1.0, 100.0 + n * (-1) ** n, 0.0)))
    table.update(keys[WAYS], put((2.0, 2.0, 500.0, 0.0)))  # replaces the soonest: 93.0
    assert table.read(keys[7]) == EMPTY and table.read(keys[WAYS])[0] == 2.0
    assert all(table.read(key) != EMPTY for key in keys[:7])
    table.update(keys[WAYS + 1], put((3.0, 3.0, 500.0, 0.0)))  # then 95.0
    assert table.read(keys[5]) == EMPTY and table.read(keys[WAYS + 1])[0] == 3.0
    table.close()


def test_a_freed_slot_is_taken_before_any_record_is_evicted() -> None:
    table = ExpiringTable.anonymous(64)
    keys = bucket_mates(64, WAYS + 1)
    for key in keys[:WAYS]:
        table.update(key, put((1.0, 1.0, 100.0, 0.0)))
    table.update(keys[3], put(EMPTY))
    table.update(keys[WAYS], put((2.0, 2.0, 1.0, 0.0)))
    assert table.read(keys[3]) == EMPTY
    assert all(table.read(key) != EMPTY for key in [*keys[:3], *keys[4:]])


def test_the_table_never_fills_and_keeps_the_newest_records() -> None:
    table = ExpiringTable.anonymous(64)
    for n in range(10_000):
        table.update(f"k{n}", put((1.0, 1.0, float(n), 0.0)))
    assert table.read("k9999") != EMPTY and table.read("k0") == EMPTY
    assert table.sweep(lambda r: False) == (0, 0)
    assert sum(table.read(f"k{n}") != EMPTY for n in range(9_000, 10_000)) == 64


def test_sweep_frees_the_stale_records_page_by_page() -> None:
    table = ExpiringTable.anonymous(64)
    for n in range(20):
        table.update(f"k{n}", put((1.0, 1.0, float(n), 0.0)))
    start, freed_total = 0, 0
    while True:
        start, freed = table.sweep(lambda r: r[2] < 10, start, 16)
        freed_total += freed
        if start == 0:
            break
    assert freed_total == 10
    assert [table.read(f"k{n}") != EMPTY for n in range(20)] == [False] * 10 + [True] * 10


def test_open_sees_the_creators_records_and_refuses_other_files(tmp_path: Path) -> None:
    path = tmp_path / "sessions"
    with pytest.raises(ConfigError, match="multiple of 8"):
        ExpiringTable.create(path, 12)
    made = ExpiringTable.create(path, 64)
    made.update("a", put((1.0, 2.0, 3.0, 4.0)))
    opened = ExpiringTable.open(path)
    assert opened.read("a") == (1.0, 2.0, 3.0, 4.0)
    opened.close()
    made.close()
    made.close()  # idempotent
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="mode 0600"):
        ExpiringTable.open(path)
    other = tmp_path / "other"
    other.write_bytes(b"x" * 100)
    other.chmod(0o600)
    with pytest.raises(ConfigError, match="not a burncloud session table"):
        ExpiringTable.open(other)


def test_attach_keeps_a_table_another_router_made_and_replaces_a_bad_one(tmp_path: Path) -> None:
    path = sessions_file_path(tmp_path / "burncloud-abc.state")
    assert path.name == "burncloud-abc.state.sessions"
    first = attach_sessions(path, 64)
    first.update("a", put((1.0, 2.0, 3.0, 4.0)))
    second = attach_sessions(path, 64)
    assert second.read("a") == (1.0, 2.0, 3.0, 4.0)
    first.close()
    second.close()
    path.write_bytes(b"garbage")
    third = attach_sessions(path, 64)
    assert third.read("a") == EMPTY and path.stat().st_mode & 0o777 == 0o600
    third.close()


def test_open_sessions_follows_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "sessions"
    made = ExpiringTable.create(path, 64)
    made.update("a", put((1.0, 2.0, 3.0, 4.0)))
    attached = open_sessions({SESSIONS_FILE_ENV: str(path)})
    private = open_sessions({})
    assert attached.read("a") == (1.0, 2.0, 3.0, 4.0) and private.read("a") == EMPTY
    for table in (made, attached, private):
        table.close()


def _write_pins(path: str, first: int, count: int) -> None:
    table = ExpiringTable.open(path)
    for n in range(first, first + count):
        table.update(f"k{n}", put((float(n), 1.0, 1e12, 0.0)))
    table.close()


def test_two_processes_write_one_table(tmp_path: Path) -> None:
    path = tmp_path / "sessions"
    table = ExpiringTable.create(path, 4096)
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_write_pins, args=(str(path), n * 300, 300)) for n in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert all(table.read(f"k{n}")[0] == n for n in range(600))
    table.close()
