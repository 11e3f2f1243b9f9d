"""Log rows a stopping router could not write, kept in a file until the next start.

When the database refuses writes through the whole grace period, the runtime writes the
rows the log writer still holds to a spill file: JSON lines, mode 0600, written aside and
renamed into place so a half-written file is never taken for a whole one. The next start
replays every spill file of its database into the database, each exactly once: one
transaction inserts a marker row (``settings`` key ``log_spill:<file name>``) first, then
writes and bills the rows as the log writer would; a file whose marker exists was already
replayed (the process stopped before removing it) and is only removed. Markers stay: they
are one small row per incident, and removing one could let a worker still holding the file
replay it again.

Where: ``BURNCLOUD_SPILL_DIR`` when set, else beside the SQLite database; a PostgreSQL
router without the setting uses its working directory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from burncloud.config import Settings
from burncloud.db.base import Database
from burncloud.db.url import parse_database_url
from burncloud.gateway.billing.logwriter import LogRecord, persist_records
from burncloud.gateway.billing.reservations import Charge, Settlement
from burncloud.gateway.route_trace import RouteTrace
from burncloud.money import format_usd
from burncloud.services.clock import now

log = logging.getLogger("burncloud.logspill")

FORMAT = 1
MARKER_PREFIX = "log_spill:"


@dataclass(frozen=True, slots=True)
class SpillPlace:
    """The folder of one database's spill files and the name they start with."""

    directory: Path
    stem: str

    def files(self) -> list[Path]:
        """This database's spill files, oldest name first."""
        return sorted(self.directory.glob(f"{self.stem}.spill.*.jsonl"))

    def new_file(self) -> Path:
        """A name no other process or run uses."""
        return self.directory / f"{self.stem}.spill.{os.getpid()}.{secrets.token_hex(4)}.jsonl"


def spill_place(settings: Settings) -> SpillPlace:
    """Where the router of ``settings`` spills and looks for spills."""
    url = parse_database_url(settings.database_url)
    if url.dialect == "sqlite" and settings.spill_dir is None:
        path = url.sqlite_path.resolve()
        return SpillPlace(path.parent, path.name)
    identity = str(url.sqlite_path.resolve()) if url.dialect == "sqlite" else url.display()
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return SpillPlace(Path(settings.spill_dir or os.getcwd()), f"burncloud-{digest}")


def write_spill(place: SpillPlace, records: Sequence[LogRecord]) -> Path:
    """Write ``records`` to a new spill file (0600, synced); its path. OSError if it cannot."""
    path = place.new_file()
    scratch = path.with_name(path.name + ".partial")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(orjson.dumps({"format": FORMAT, "rows": len(records)}) + b"\n")
            for record in records:
                out.write(orjson.dumps(_to_json(record)) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.rename(scratch, path)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    return path


def read_spill(path: Path) -> list[LogRecord]:
    """The records of a whole spill file; ValueError if it is not one."""
    lines = path.read_bytes().splitlines()
    head = orjson.loads(lines[0]) if lines else {}
    if head.get("format") != FORMAT or head.get("rows") != len(lines) - 1:
        raise ValueError(f"{path} is not a whole burncloud spill file")
    return [_from_json(orjson.loads(line)) for line in lines[1:]]


async def replay_spills(db: Database, place: SpillPlace) -> int:
    """Write every spill file at ``place`` into ``db`` once, removing each; rows written.

    A file that cannot be read is left where it is, with an error in the log."""
    replayed = 0
    for path in place.files():
        try:
            records = read_spill(path)
        except (OSError, ValueError) as exc:
            log.error("cannot replay the spilled log rows in %s (left in place): %s", path, exc)
            continue
        replayed += await _replay(db, path, records)
    return replayed


async def _replay(db: Database, path: Path, records: list[LogRecord]) -> int:
    marker = {"k": MARKER_PREFIX + path.name, "v": f"{len(records)} rows at {now()}"}
    async with db.transaction() as tx:
        first = await tx.execute(
            "INSERT INTO settings (key, value) VALUES (:k, :v) ON CONFLICT (key) DO NOTHING",
            marker,
        )
        if first:
            await persist_records(tx, records)
    await asyncio.to_thread(path.unlink, missing_ok=True)  # another worker may have first
    if not first:
        return 0
    log.warning("replayed %d spilled log rows from %s into the database", len(records), path)
    return len(records)


def _to_json(record: LogRecord) -> dict[str, Any]:
    return dataclasses.asdict(record)


def _from_json(data: dict[str, Any]) -> LogRecord:
    settlement = data.pop("settlement")
    route = data.pop("route")
    if settlement is not None:
        charges = tuple(Charge(**charge) for charge in settlement.pop("charges"))
        settlement = Settlement(**settlement, charges=charges)
    return LogRecord(
        **data,
        settlement=settlement,
        route=None if route is None else RouteTrace(**route),
    )


def describe_lost(records: Sequence[LogRecord]) -> str:
    """What losing ``records`` loses, for the one error line that says so."""
    cost = format_usd(sum(record.cost for record in records))
    ids = ", ".join(_first_ids(records, 10))
    return f"{len(records)} log rows billing {cost} USD in all (request ids {ids})"


def _first_ids(records: Sequence[LogRecord], count: int) -> Iterator[str]:
    for index, record in enumerate(records):
        if index == count:
            yield "..."
            return
        yield record.request_id
