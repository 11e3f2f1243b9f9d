"""Where a router's workers keep the conversations they pinned to a channel: a bounded table.

Sessions are not like the shared state's other keys (breakers, limits: as many as there
are channels and tokens): every conversation brings a key of its own, and an hour's worth
may be more than any fixed open-addressing table holds. ``MmapState`` raises once it is
full, after probing every slot (a miss in a full table reads all 65536 of them, under the
lock): not a price for every new conversation to pay. So sessions get a table of their
own, set-associative like a CPU cache: a key's record lives in one bucket of ``WAYS``
slots, a lookup reads that bucket and no other, and storing into a full bucket replaces
the record that expires first (an expired one, else the soonest). It is never full and
never needs sweeping; under pressure the oldest sessions lose their pin, nothing else.

It is a ``SharedState`` whose records' third float is their expiry time (unix seconds).
The file (in /dev/shm beside the state file) is made by the parent ``burncloud router``
before its workers start (``attach_sessions``) and opened by each worker through
``BURNCLOUD_SESSIONS_FILE``; without it a worker keeps an anonymous table of its own.
Layout: a 16-byte header (magic, slot count), then slots of 40 bytes: the key's 64-bit
hash (0: free) and the four floats.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from burncloud.errors import ConfigError
from burncloud.gateway.fleet.shared_state import EMPTY, Record, key_hash

T = TypeVar("T")

SESSIONS_FILE_ENV = "BURNCLOUD_SESSIONS_FILE"
WAYS = 8  # slots per bucket: a lookup reads one bucket (320 bytes)
DEFAULT_SLOTS = 2**18  # 10 MB: a quarter million sessions per machine
EXPIRES = 2  # the record field holding the expiry time

_MAGIC = b"BCSESS01"
_HEADER = struct.Struct("<8sQ")
_SLOT = struct.Struct("<Q4d")
_BUCKET = struct.Struct("<" + "Q4d" * WAYS)
_FREE_SLOT = (0, *EMPTY)
_FIELDS = 5  # values per slot in an unpacked bucket


class ExpiringTable:
    """A fixed-size SharedState that evicts the record expiring first from a full bucket.

    Shared by processes through a file (``create``/``open``, locked with ``flock`` on this
    instance's descriptor, as ``MmapState`` is), or private to one (``anonymous``)."""

    def __init__(self, buffer: mmap.mmap, slots: int, fd: int | None) -> None:
        _check_slots(slots)
        self._map = buffer
        self._fd = fd
        self._buckets = slots // WAYS
        self._thread_lock = threading.Lock()
        self._closed = False

    @classmethod
    def anonymous(cls, slots: int = DEFAULT_SLOTS) -> ExpiringTable:
        """A table in this process's memory only (pages are allocated as they are used)."""
        return cls(mmap.mmap(-1, _HEADER.size + slots * _SLOT.size), slots, None)

    @classmethod
    def create(cls, path: str | os.PathLike[str], slots: int = DEFAULT_SLOTS) -> ExpiringTable:
        """Create (or empty and resize) the file, mode 0600, and attach to it."""
        _check_slots(slots)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.ftruncate(fd, _HEADER.size + slots * _SLOT.size)
            os.pwrite(fd, _HEADER.pack(_MAGIC, slots), 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return cls(mmap.mmap(fd, _HEADER.size + slots * _SLOT.size), slots, fd)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ExpiringTable:
        """Attach to a file made by ``create`` (in a worker)."""
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            slots = _read_slots(fd, os.fspath(path))
            return cls(mmap.mmap(fd, _HEADER.size + slots * _SLOT.size), slots, fd)
        except BaseException:
            os.close(fd)
            raise

    def update(self, key: str, fn: Callable[[Record], tuple[Record, T]]) -> T:
        """Apply ``fn`` to the key's record; a new record takes a free slot of its bucket,
        else the slot of the record there that expires first."""
        wanted = key_hash(key)
        offset = self._offset(wanted)
        self._lock()
        try:
            bucket = _BUCKET.unpack_from(self._map, offset)
            way = _way(bucket, wanted)
            record, result = fn(EMPTY if way < 0 else _record(bucket, way))
            if record == EMPTY:
                if way >= 0:
                    _SLOT.pack_into(self._map, offset + way * _SLOT.size, *_FREE_SLOT)
            else:
                way = way if way >= 0 else _victim(bucket)
                _SLOT.pack_into(self._map, offset + way * _SLOT.size, wanted, *record)
            return result
        finally:
            self._unlock()

    def read(self, key: str) -> Record:
        """The key's record, EMPTY when absent (expired records are returned as stored)."""
        wanted = key_hash(key)
        offset = self._offset(wanted)
        self._lock()
        try:
            bucket = _BUCKET.unpack_from(self._map, offset)
        finally:
            self._unlock()
        way = _way(bucket, wanted)
        return EMPTY if way < 0 else _record(bucket, way)

    def sweep(
        self, stale: Callable[[Record], bool], start: int = 0, count: int | None = None
    ) -> tuple[int, int]:
        """Free the records ``stale`` picks among slots ``start`` .. ``start + count``."""
        total = self._buckets * WAYS
        end = total if count is None else min(total, start + count)
        freed = 0
        self._lock()
        try:
            for index in range(start, end):
                at = _HEADER.size + index * _SLOT.size
                stored, *fields = _SLOT.unpack_from(self._map, at)
                if stored and stale((fields[0], fields[1], fields[2], fields[3])):
                    _SLOT.pack_into(self._map, at, *_FREE_SLOT)
                    freed += 1
        finally:
            self._unlock()
        return (0 if end >= total else end), freed

    def close(self) -> None:
        """Detach (idempotent); a file stays for the other workers."""
        if self._closed:
            return
        self._closed = True
        self._map.close()
        if self._fd is not None:
            os.close(self._fd)

    def _offset(self, wanted: int) -> int:
        return _HEADER.size + (wanted % self._buckets) * WAYS * _SLOT.size

    def _lock(self) -> None:
        self._thread_lock.acquire()
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except BaseException:
                self._thread_lock.release()
                raise

    def _unlock(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


def _way(bucket: tuple[float, ...], wanted: int) -> int:
    """The slot of ``wanted`` in an unpacked bucket, -1 when it is not there."""
    for way in range(WAYS):
        if bucket[way * _FIELDS] == wanted:
            return way
    return -1


def _victim(bucket: tuple[float, ...]) -> int:
    """The slot a new record takes: a free one, else the one expiring first."""
    best, soonest = 0, float("inf")
    for way in range(WAYS):
        base = way * _FIELDS
        if bucket[base] == 0:
            return way
        expires = bucket[base + 1 + EXPIRES]
        if expires < soonest:
            best, soonest = way, expires
    return best


def _record(bucket: tuple[float, ...], way: int) -> Record:
    base = way * _FIELDS + 1
    return (bucket[base], bucket[base + 1], bucket[base + 2], bucket[base + 3])


def _check_slots(slots: int) -> None:
    if slots < WAYS or slots % WAYS:
        raise ConfigError(f"a session table needs a multiple of {WAYS} slots, got {slots}")


def _read_slots(fd: int, path: str) -> int:
    """The slot count of a session file that is ours alone (it may sit in shared /dev/shm)."""
    info = os.fstat(fd)
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ConfigError(f"{path} must belong to this user with mode 0600")
    header = os.pread(fd, _HEADER.size, 0)
    if len(header) < _HEADER.size or header[:8] != _MAGIC:
        raise ConfigError(f"{path} is not a burncloud session table")
    slots: int = _HEADER.unpack(header)[1]
    if slots < WAYS or slots % WAYS or info.st_size != _HEADER.size + slots * _SLOT.size:
        raise ConfigError(f"{path} has the wrong size for {slots} slots")
    return slots


def sessions_file_path(state_path: Path) -> Path:
    """The session table beside the shared-state file ``state_path``."""
    return state_path.with_name(state_path.name + ".sessions")


def attach_sessions(path: Path, slots: int = DEFAULT_SLOTS) -> ExpiringTable:
    """The table at ``path``, kept as it is when a router on this database already made it
    (its pins go on, as the breakers do), else created."""
    try:
        return ExpiringTable.open(path)
    except (OSError, ConfigError):
        return ExpiringTable.create(path, slots)


def open_sessions(env: Mapping[str, str] | None = None) -> ExpiringTable:
    """The machine's table at $BURNCLOUD_SESSIONS_FILE if set, else one of this process's."""
    path = (os.environ if env is None else env).get(SESSIONS_FILE_ENV)
    return ExpiringTable.open(path) if path else ExpiringTable.anonymous()
