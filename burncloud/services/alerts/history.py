"""The delivery log (`burncloud alert log`, GET /api/alerts/log): what was sent where, how
it went, and what is still being retried."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burncloud.db.base import Executor, Row

DELIVERY_STATUSES = ("pending", "delivered", "failed")
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    id: int
    event_id: int
    event: str
    text: str
    hook_id: int
    status: str
    attempts: int
    last_status: int | None
    last_error: str
    next_attempt_at: int | None  # for a pending delivery
    finished_at: int | None
    created_at: int  # the event's

    @classmethod
    def from_row(cls, row: Row) -> DeliveryRecord:
        pending = row["status"] == "pending"
        return cls(
            id=int(row["id"]),
            event_id=int(row["event_id"]),
            event=row["kind"],
            text=row["text"],
            hook_id=int(row["hook_id"]),
            status=row["status"],
            attempts=int(row["attempts"]),
            last_status=row["last_status"],
            last_error=row["last_error"],
            next_attempt_at=int(row["next_attempt_at"]) if pending else None,
            finished_at=row["finished_at"],
            created_at=int(row["created_at"]),
        )

    @property
    def result(self) -> str:
        """The last attempt in a few words: ``HTTP 200``, the error, or ``not tried yet``."""
        if self.last_error:
            return self.last_error
        if self.last_status is not None:
            return f"HTTP {self.last_status}"
        return "not tried yet" if self.attempts == 0 else "trying"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event": self.event,
            "text": self.text,
            "alert_id": self.hook_id,
            "status": self.status,
            "attempts": self.attempts,
            "result": self.result,
            "last_status": self.last_status,
            "next_attempt_at": self.next_attempt_at,
            "finished_at": self.finished_at,
            "created_at": self.created_at,
        }


async def list_deliveries(
    db: Executor,
    *,
    status: str | None = None,
    hook_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[DeliveryRecord]:
    """The newest deliveries first, of one status and one hook when given."""
    if status is not None and status not in DELIVERY_STATUSES:
        raise ValueError(f"unknown delivery status {status!r}")
    where: list[str] = []
    params: dict[str, object] = {"n": limit}
    if status is not None:
        where.append("d.status = :status")
        params["status"] = status
    if hook_id is not None:
        where.append("d.hook_id = :hook")
        params["hook"] = hook_id
    rows = await db.fetch_all(
        "SELECT d.*, e.kind, e.text, e.created_at FROM alert_deliveries d"
        " JOIN alert_events e ON e.id = d.event_id"
        + (" WHERE " + " AND ".join(where) if where else "")
        + " ORDER BY d.id DESC LIMIT :n",
        params,
    )
    return [DeliveryRecord.from_row(row) for row in rows]
