"""Which engine errors mean the storage cannot serve, translated once where they enter.

A full disk, a read-only file or transaction, a lock held past the busy timeout, an I/O
error or a lost server are not bugs in a statement: callers see ``StorageUnavailable`` (a
503 in the error shape, one line in the CLI) instead of an engine's exception. Every other
engine error (a constraint, a syntax error) passes through unchanged. Messages are fixed
texts: an engine's own may hold file paths, and /healthz shows the reason to anyone.
"""

from __future__ import annotations

import errno
import sqlite3
from contextlib import AbstractContextManager
from types import TracebackType

from burncloud.errors import StorageUnavailable

FULL = "the database's disk is full"
READ_ONLY = "the database is read-only"
LOCKED = "the database is locked by another writer"
IO_ERROR = "the database had an I/O error"
UNREACHABLE = "the database cannot be reached"

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE = {13: FULL, 8: READ_ONLY, 5: LOCKED, 6: LOCKED, 10: IO_ERROR, 14: UNREACHABLE}
# PostgreSQL SQLSTATEs, most specific first: a prefix names a whole class.
_POSTGRES = (
    ("53100", FULL),
    ("53", FULL),  # insufficient resources: disk, memory, connections
    ("25006", READ_ONLY),
    ("55P03", LOCKED),
    ("57P", UNREACHABLE),  # the server is shutting down or starting
    ("08", UNREACHABLE),  # the connection failed or was lost
)
# What the operating system said when a file beside the database could not be written.
_ERRNO = {
    errno.ENOSPC: FULL,
    errno.EDQUOT: FULL,
    errno.EROFS: READ_ONLY,
    errno.EACCES: READ_ONLY,
    errno.EPERM: READ_ONLY,
    errno.EIO: IO_ERROR,
}


def storage_failure(exc: BaseException) -> str | None:
    """The fixed reason ``exc`` stands for when it is a storage failure, else None."""
    if isinstance(exc, sqlite3.DatabaseError):
        code = getattr(exc, "sqlite_errorcode", None)
        return None if code is None else _SQLITE.get(code & 0xFF)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        return next((reason for prefix, reason in _POSTGRES if sqlstate.startswith(prefix)), None)
    if isinstance(exc, ConnectionError | TimeoutError):
        return UNREACHABLE
    if isinstance(exc, OSError):
        return _ERRNO.get(exc.errno or 0)
    return None


class _StorageErrors:
    """The translating context: a class with one shared instance, so the statements that
    enter it (every one) allocate nothing for it."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if exc is None or not isinstance(exc, Exception):
            return
        reason = storage_failure(exc)
        if reason is None:
            return
        raise StorageUnavailable(reason) from exc


_TRANSLATING = _StorageErrors()


def storage_errors() -> AbstractContextManager[None]:
    """Raise ``StorageUnavailable`` for a storage failure raised inside; the rest as is."""
    return _TRANSLATING
