"""Small, hot per-request state shared exactly by the router's worker processes.

Rate-limit, concurrency, round-robin and circuit-breaker counters change on every request,
too often for the database. Each key holds a ``Record`` of four floats (float64 holds
integers exactly up to 2**53, so counters and unix timestamps are safe). ``LocalState``
serves one process; ``MmapState`` is a fixed-size open-addressing hash table in a
memory-mapped file that the parent ``burncloud router`` creates before spawning workers
(path in ``BURNCLOUD_STATE_FILE``) and every worker opens. A later issue adds Redis for
several machines behind the same ``SharedState`` protocol.

File layout: a 16-byte header (magic, slot count), then ``slots`` slots of 40 bytes: the
key's 64-bit blake2b hash (0 = never used, all ones = deleted) and four float64. Keys are
identified by their hash alone: a collision of two live 64-bit hashes is ignored as
negligibly unlikely at tens of thousands of keys (about 1e-10).
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Protocol, TypeVar

from burncloud.errors import ConfigError

if TYPE_CHECKING:
    from burncloud.config import Settings

Record = tuple[float, float, float, float]
EMPTY: Record = (0.0, 0.0, 0.0, 0.0)
STATE_FILE_ENV = "BURNCLOUD_STATE_FILE"
DEFAULT_SLOTS = 65536

T = TypeVar("T")

_MAGIC = b"BCSTATE1"
_HEADER = struct.Struct("<8sQ")
_SLOT = struct.Struct("<Q4d")
_HASH = struct.Struct("<Q")
_RECORD = struct.Struct("<4d")
_FREE = 0
_DELETED = 2**64 - 1


class StateFull(RuntimeError):
    """Every slot holds another key: the caller fails open (and logs once)."""


class SharedState(Protocol):
    def update(self, key: str, fn: Callable[[Record], tuple[Record, T]]) -> T:
        """Atomically read the key's record, store ``fn(record)[0]``, return ``fn(record)[1]``.

        ``fn`` is called once, must be quick and pure (no I/O, no awaits); storing EMPTY
        frees the key.
        """
        ...

    def read(self, key: str) -> Record: ...

    def sweep(
        self, stale: Callable[[Record], bool], start: int = 0, count: int | None = None
    ) -> tuple[int, int]:
        """Free the records ``stale`` picks among slots ``start`` .. ``start + count`` (all
        when None); returns (where the next call starts, 0 after the last slot; freed)."""
        ...

    def close(self) -> None: ...


class LocalState:
    """A dict-backed SharedState for one process (tests, a single worker)."""

    def __init__(self) -> None:
        self._records: dict[str, Record] = {}

    def update(self, key: str, fn: Callable[[Record], tuple[Record, T]]) -> T:
        """Apply ``fn`` to the key's record (atomic: one thread, no awaits inside)."""
        record, result = fn(self._records.get(key, EMPTY))
        if record == EMPTY:
            self._records.pop(key, None)
        else:
            self._records[key] = record
        return result

    def read(self, key: str) -> Record:
        """The key's record, EMPTY when absent."""
        return self._records.get(key, EMPTY)

    def sweep(
        self, stale: Callable[[Record], bool], start: int = 0, count: int | None = None
    ) -> tuple[int, int]:
        """Free every stale record at once (a dict has no slots to page through)."""
        doomed = [key for key, record in self._records.items() if stale(record)]
        for key in doomed:
            del self._records[key]
        return 0, len(doomed)

    def keys(self) -> list[str]:
        """The keys that hold a record (for tests and diagnostics)."""
        return list(self._records)

    def close(self) -> None:
        self._records.clear()


def key_hash(key: str) -> int:
    """The key's 64-bit slot hash, never one of the two reserved values."""
    value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
    if value == _FREE:
        return 1
    return _DELETED - 1 if value == _DELETED else value


class MmapState:
    """The cross-process SharedState: a hash table in a shared file, one lock per update.

    The lock is ``flock`` on this instance's own file descriptor (open file description),
    plus a thread lock: unlike ``lockf`` (per process), it also excludes a second instance
    in the same process, and closing one descriptor cannot drop another's lock.
    """

    def __init__(self, fd: int, slots: int) -> None:
        self._fd = fd
        self._slots = slots
        self._map = mmap.mmap(fd, _HEADER.size + slots * _SLOT.size)
        self._thread_lock = threading.Lock()

    @classmethod
    def create(cls, path: str | os.PathLike[str], slots: int = DEFAULT_SLOTS) -> MmapState:
        """Create (or empty and resize) the file, mode 0600, and attach to it."""
        if slots < 1:
            raise ConfigError(f"the shared state needs at least one slot, got {slots}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)  # a previous run's counters (leaked slots) start from zero
            os.ftruncate(fd, _HEADER.size + slots * _SLOT.size)
            os.pwrite(fd, _HEADER.pack(_MAGIC, slots), 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, slots)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> MmapState:
        """Attach to a file made by ``create`` (in a worker)."""
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            slots = _read_slots(fd, os.fspath(path))
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, slots)

    def update(self, key: str, fn: Callable[[Record], tuple[Record, T]]) -> T:
        """Apply ``fn`` to the key's record under the file lock; StateFull when no slot is left."""
        wanted = key_hash(key)
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                return self._update_locked(wanted, fn)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def read(self, key: str) -> Record:
        """The key's record, EMPTY when absent."""
        wanted = key_hash(key)
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                index, found = self._probe(wanted)
                return self._record(index) if found else EMPTY
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def sweep(
        self, stale: Callable[[Record], bool], start: int = 0, count: int | None = None
    ) -> tuple[int, int]:
        """Free stale records in one range of slots, under one hold of the lock (page
        through with small ``count`` so other workers never wait long)."""
        end = self._slots if count is None else min(self._slots, start + count)
        freed = 0
        with self._thread_lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                # Backwards, so freeing a slot can turn the deleted ones before it free too.
                for index in range(end - 1, start - 1, -1):
                    (stored,) = _HASH.unpack_from(self._map, _HEADER.size + index * _SLOT.size)
                    if stored not in (_FREE, _DELETED) and stale(self._record(index)):
                        self._free(index)
                        freed += 1
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        return (0 if end >= self._slots else end), freed

    def close(self) -> None:
        """Detach (idempotent); the file stays for the other workers."""
        if self._fd < 0:
            return
        self._map.close()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> MmapState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _update_locked(self, wanted: int, fn: Callable[[Record], tuple[Record, T]]) -> T:
        index, found = self._probe(wanted)
        record, result = fn(self._record(index) if found else EMPTY)
        if found and record == EMPTY:
            self._free(index)
        elif record != EMPTY:
            if index < 0:
                raise StateFull(f"all {self._slots} shared state slots are in use")
            _SLOT.pack_into(self._map, _HEADER.size + index * _SLOT.size, wanted, *record)
        return result

    def _record(self, index: int) -> Record:
        return _RECORD.unpack_from(self._map, _HEADER.size + index * _SLOT.size + _HASH.size)

    def _probe(self, wanted: int) -> tuple[int, bool]:
        """(slot holding ``wanted``, True), else (first reusable slot or -1, False)."""
        reusable = -1
        index = wanted % self._slots
        for _ in range(self._slots):
            (stored,) = _HASH.unpack_from(self._map, _HEADER.size + index * _SLOT.size)
            if stored == wanted:
                return index, True
            if stored == _FREE:
                return (index if reusable < 0 else reusable), False
            if stored == _DELETED and reusable < 0:
                reusable = index
            index = (index + 1) % self._slots
        return reusable, False

    def _free(self, index: int) -> None:
        """Mark a slot deleted, or free when no probe chain can pass through it."""
        following = (index + 1) % self._slots
        after = _HASH.unpack_from(self._map, _HEADER.size + following * _SLOT.size)[0]
        marker = _FREE if after == _FREE else _DELETED
        _SLOT.pack_into(self._map, _HEADER.size + index * _SLOT.size, marker, *EMPTY)


def _read_slots(fd: int, path: str) -> int:
    """The slot count of a state file that is ours alone (it may sit in shared /dev/shm)."""
    info = os.fstat(fd)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ConfigError(f"{path} must belong to this user with mode 0600")
    header = os.pread(fd, _HEADER.size, 0)
    if len(header) < _HEADER.size or header[:8] != _MAGIC:
        raise ConfigError(f"{path} is not a burncloud shared state file")
    slots: int = _HEADER.unpack(header)[1]
    if slots < 1 or info.st_size != _HEADER.size + slots * _SLOT.size:
        raise ConfigError(f"{path} has the wrong size for {slots} slots")
    return slots


def open_shared_state(
    source: Settings | str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> SharedState:
    """MmapState on the given path or on $BURNCLOUD_STATE_FILE if set, else a LocalState.

    Settings carry no state file today; passing them reads the environment.
    """
    path = source if isinstance(source, str | os.PathLike) else None
    path = path or (os.environ if env is None else env).get(STATE_FILE_ENV)
    return MmapState.open(path) if path else LocalState()


def claim_turn(
    state: SharedState, key: str, every: float, clock: Callable[[], float] = time.time
) -> bool:
    """True for the first caller of ``key`` in each ``every`` seconds, across the workers
    sharing ``state`` (so N workers probe a channel once per round, not N times)."""
    now = clock()

    def claim(record: Record) -> tuple[Record, bool]:
        if now - record[0] < every:
            return record, False
        return (now, 0.0, 0.0, 0.0), True

    return state.update(key, claim)
