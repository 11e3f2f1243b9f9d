"""LocalState and MmapState: one behaviour, and MmapState's table, file and processes."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from burncloud.errors import ConfigError
from burncloud.gateway.fleet.shared_state import (
    EMPTY,
    STATE_FILE_ENV,
    LocalState,
    MmapState,
    Record,
    SharedState,
    StateFull,
    key_hash,
    open_shared_state,
)


def add(amount: float):
    """An update that adds ``amount`` to the first field and returns the new value."""

    def change(record: Record) -> tuple[Record, float]:
        value = record[0] + amount
        return (value, record[1], record[2], record[3]), value

    return change


def store(record: Record):
    def change(old: Record) -> tuple[Record, Record]:
        return record, old

    return change


def colliding_keys(slots: int, count: int) -> list[str]:
    """``count`` keys whose probe chains all start at slot 0 of a ``slots`` table."""
    found = [f"k{i}" for i in range(10_000) if key_hash(f"k{i}") % slots == 0]
    return found[:count]


@pytest.fixture(params=["local", "mmap"])
def state(request, tmp_path: Path) -> Iterator[SharedState]:
    shared = LocalState() if request.param == "local" else MmapState.create(tmp_path / "state", 64)
    yield shared
    shared.close()


def test_absent_key_reads_empty_and_updates_start_from_empty(state: SharedState) -> None:
    assert state.read("a") == EMPTY
    assert state.update("a", store((1.0, 2.0, 3.0, 4.0))) == EMPTY
    assert state.read("a") == (1.0, 2.0, 3.0, 4.0)


def test_update_sees_the_previous_record_and_returns_fn_result(state: SharedState) -> None:
    assert [state.update("n", add(1)) for _ in range(3)] == [1.0, 2.0, 3.0]
    assert state.update("n", add(0.5)) == 3.5
    assert state.read("n") == (3.5, 0.0, 0.0, 0.0)


def test_keys_are_independent(state: SharedState) -> None:
    for i in range(40):
        state.update(f"key:{i}", store((float(i), 1.0, 2.0**53, -1.5)))
    assert [state.read(f"key:{i}")[0] for i in range(40)] == [float(i) for i in range(40)]
    assert state.read("key:7") == (7.0, 1.0, 2.0**53, -1.5)


def test_storing_empty_frees_the_key(state: SharedState) -> None:
    state.update("a", store((1.0, 0.0, 0.0, 0.0)))
    state.update("b", store((2.0, 0.0, 0.0, 0.0)))
    assert state.update("a", store(EMPTY)) == (1.0, 0.0, 0.0, 0.0)
    assert state.read("a") == EMPTY
    assert state.read("b") == (2.0, 0.0, 0.0, 0.0)
    assert state.update("a", add(5)) == 5.0


def test_a_failing_fn_changes_nothing_and_keeps_the_state_usable(state: SharedState) -> None:
    state.update("a", add(1))

    def broken(record: Record) -> tuple[Record, None]:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        state.update("a", broken)
    assert state.update("a", add(1)) == 2.0


def test_full_table_raises_state_full_and_keeps_its_keys(tmp_path: Path) -> None:
    with MmapState.create(tmp_path / "state", slots=4) as state:
        for i in range(4):
            state.update(f"k{i}", add(i + 1))
        with pytest.raises(StateFull):
            state.update("one-too-many", add(1))
        assert state.update("one-too-many", store(EMPTY)) == EMPTY  # nothing to store
        assert [state.read(f"k{i}")[0] for i in range(4)] == [1.0, 2.0, 3.0, 4.0]
        assert state.read("one-too-many") == EMPTY
        state.update("k2", store(EMPTY))
        assert state.update("one-too-many", add(9)) == 9.0


def test_colliding_keys_probe_past_each_other_and_reuse_tombstones(tmp_path: Path) -> None:
    a, b, c, d = colliding_keys(3, 4)
    with MmapState.create(tmp_path / "state", slots=3) as state:
        for value, key in enumerate((a, b, c), start=1):
            state.update(key, add(value))
        assert [state.read(key)[0] for key in (a, b, c)] == [1.0, 2.0, 3.0]
        state.update(b, store(EMPTY))  # b's slot lies on c's probe chain: a tombstone
        assert state.read(c)[0] == 3.0
        assert state.read(b) == EMPTY
        assert state.update(d, add(4)) == 4.0  # the only reusable slot is b's tombstone
        assert [state.read(key)[0] for key in (a, c, d)] == [1.0, 3.0, 4.0]
        with pytest.raises(StateFull):
            state.update(b, add(1))


def test_deleting_every_key_leaves_a_table_that_holds_as_many_again(tmp_path: Path) -> None:
    with MmapState.create(tmp_path / "state", slots=8) as state:
        for round_ in range(5):
            keys = [f"r{round_}:{i}" for i in range(8)]
            for key in keys:
                state.update(key, add(1))
            for key in keys:
                state.update(key, store(EMPTY))
        assert all(state.read(f"r4:{i}") == EMPTY for i in range(8))


def test_state_file_is_private_even_when_it_existed(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b"left over from somewhere else")
    path.chmod(0o644)
    with MmapState.create(path, slots=16) as state:
        state.update("a", add(1))
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.stat().st_size == 16 + 16 * 40


def test_create_starts_from_zero_and_open_sees_the_creators_records(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with MmapState.create(path, slots=16) as first:
        first.update("stale", add(7))
    with MmapState.create(path, slots=16) as parent, MmapState.open(path) as worker:
        assert worker.read("stale") == EMPTY
        parent.update("a", add(2))
        assert worker.update("a", add(3)) == 5.0
        assert parent.read("a")[0] == 5.0


def test_open_refuses_a_file_that_is_not_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state"
    path.write_bytes(b"\0" * 56)
    path.chmod(0o600)
    with pytest.raises(ConfigError, match="not a burncloud shared state file"):
        MmapState.open(path)


def test_open_refuses_a_state_file_others_can_reach(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with MmapState.create(path, slots=16):
        pass
    path.chmod(0o666)
    with pytest.raises(ConfigError, match="mode 0600"):
        MmapState.open(path)


def test_open_shared_state_follows_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "state"
    with MmapState.create(path, slots=16) as parent:
        parent.update("a", add(4))
        attached = open_shared_state(None, env={STATE_FILE_ENV: str(path)})
        local = open_shared_state(None, env={})
        direct = open_shared_state(path, env={})
        try:
            assert isinstance(attached, MmapState)
            assert attached.read("a")[0] == 4.0
            assert direct.read("a")[0] == 4.0
            assert isinstance(local, LocalState)
            assert local.read("a") == EMPTY
        finally:
            attached.close()
            direct.close()


def count_up(path: str, times: int, start: Barrier) -> None:
    """A worker process: increment one counter ``times`` times."""
    with MmapState.open(path) as state:
        start.wait(timeout=60)
        for _ in range(times):
            state.update("counter", add(1))


def test_two_processes_increment_one_counter_exactly(tmp_path: Path) -> None:
    path = str(tmp_path / "state")
    context = multiprocessing.get_context("spawn")
    with MmapState.create(path, slots=16) as state:
        start = context.Barrier(2)  # both count at once, not one after the other's start-up
        workers = [context.Process(target=count_up, args=(path, 5_000, start)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
            assert worker.exitcode == 0
            worker.close()
        assert state.read("counter")[0] == 10_000.0
    assert os.path.exists(path)
