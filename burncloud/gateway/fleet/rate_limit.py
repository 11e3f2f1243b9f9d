"""Per-subject rate limits: requests and tokens per minute, and concurrent requests.

A subject is what a limit belongs to ("token:12", "user:3"); one request is admitted
against all of its subjects or none. The counts live in a ``SharedState`` so every worker
process sees the same numbers, one record per subject:
``(rpm level, tpm level, concurrent requests, last update)``.

Why GCRA. Fixed per-minute windows let through twice the limit around a boundary (a full
minute's worth at 0:59, another at 1:00); a sliding log of timestamps is exact but its memory
grows with the limit and the traffic. GCRA (the generic cell rate algorithm of ITU-T I.371)
is exact with one number per subject and limit: each request pours its cost (1 request, or
its tokens) into a bucket of capacity ``limit`` that drains ``limit`` units per minute, and a
request is admitted only if it fits. The burst equals the limit, so 600 requests at one
instant against 60 RPM admit exactly 60, then one more per second. I.371 gives two
equivalent forms: the virtual-scheduling one keeps a "theoretical arrival time", the
continuous-state leaky bucket keeps the bucket's level and shares the last-update time.
We keep levels: they count requests and tokens, so a burst is integer arithmetic on small
numbers and stays exact, whereas a TAT near 1.7e9 s collects ~1e-7 s of rounding per request
and can miss the limit by one. One shared timestamp keeps all three limits in four floats.

TPM admits on an estimate and ``settle`` corrects the level by (actual - estimated), never
below zero. A request estimated above the whole per-minute limit can never fit; it is
refused as not retryable instead of waiting forever.

Concurrency is a counter: +1 on admit, -1 on ``release``. A worker that crashes mid-request
never releases, so a count whose subject saw no update for ``STALE_AFTER`` (10 minutes)
decays to zero; a subject in constant use keeps a leaked count until it idles that long.

Every change is one ``SharedState.update`` per subject (atomic across processes, no awaits).
Subjects without limits never touch the state. When the state is full, limits fail open.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from burncloud.gateway.fleet.shared_state import EMPTY, Record, SharedState, StateFull

PERIOD = 60.0  # seconds per "minute" of RPM and TPM
STALE_AFTER = 600.0  # a concurrency count not updated for this long is a leak: decays to 0
SLACK = 1e-6  # seconds: a wait this short is clock rounding (unix times near 1.7e9 s)
KEY_PREFIX = "rl:"
RPM, TPM, CONCURRENCY = "rpm", "tpm", "concurrency"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """A subject's limits; None is unlimited."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None

    def __post_init__(self) -> None:
        for value in (self.rpm, self.tpm, self.max_concurrency):
            if value is not None and value < 1:
                raise ValueError(f"a limit is None (unlimited) or at least 1, got {value}")

    @property
    def unlimited(self) -> bool:
        return self.rpm is None and self.tpm is None and self.max_concurrency is None


@dataclass(frozen=True, slots=True)
class Charge:
    """What one admission counted against one subject, to be released and settled."""

    subject: str
    limits: Limits
    tokens: int  # estimated tokens counted against TPM (0 without a TPM limit)
    concurrent: bool  # holds a concurrency slot


@dataclass(frozen=True, slots=True)
class Admission:
    """The verdict; when refused, which subject and limit, and when to retry."""

    admitted: bool
    charges: tuple[Charge, ...] = ()
    subject: str | None = None
    limit: str | None = None  # RPM, TPM or CONCURRENCY
    retry_after: int = 0  # whole seconds, at least 1 when refused
    retryable: bool = True  # False when the request alone exceeds the TPM limit
    message: str = ""
    shared: bool = False  # counted in the fleet's Redis rather than this machine's state


class RateLimiter(Protocol):
    def admit(self, subject: str, limits: Limits, tokens: int, now: float) -> Admission:
        """Count one request and ``tokens`` against the subject, if every limit allows."""
        ...

    def admit_all(
        self, subjects: Iterable[tuple[str, Limits]], tokens: int, now: float
    ) -> Admission:
        """Admit against every subject or none (earlier subjects are rolled back)."""
        ...

    def release(self, admission: Admission) -> None:
        """End the admission's concurrent slots (call once per admission)."""
        ...

    def settle(self, admission: Admission, actual_tokens: int) -> None:
        """Correct the TPM counts from the estimate to ``actual_tokens``."""
        ...


@dataclass(frozen=True, slots=True)
class _Refusal:
    limit: str
    wait: float
    retryable: bool = True


class SharedRateLimiter:
    """RateLimiter over a SharedState; ``clock`` dates releases and settlements."""

    def __init__(self, state: SharedState, clock: Callable[[], float] = time.time) -> None:
        self._state = state
        self._clock = clock
        self._full_reported = False

    def admit(self, subject: str, limits: Limits, tokens: int, now: float) -> Admission:
        """Count one request and ``tokens`` against the subject, if every limit allows."""
        return self.admit_all([(subject, limits)], tokens, now)

    def admit_all(
        self, subjects: Iterable[tuple[str, Limits]], tokens: int, now: float
    ) -> Admission:
        """Admit against every subject or none (earlier subjects are rolled back)."""
        tokens = max(0, tokens)
        charges: list[Charge] = []
        for subject, limits in subjects:
            if limits.unlimited:
                continue
            try:
                refusal = self._state.update(
                    KEY_PREFIX + subject, partial(_admit, limits, tokens, now)
                )
            except StateFull:
                self._report_full()
                continue
            if refusal is not None:
                self._rollback(charges, now)
                return _refused(subject, limits, tokens, refusal)
            counted = tokens if limits.tpm is not None else 0
            charges.append(Charge(subject, limits, counted, limits.max_concurrency is not None))
        return Admission(admitted=True, charges=tuple(charges))

    def release(self, admission: Admission) -> None:
        """End the admission's concurrent slots (call once per admission)."""
        now = self._clock()
        for charge in admission.charges:
            if charge.concurrent:
                self._adjust(charge, now, 0, 0, -1)

    def settle(self, admission: Admission, actual_tokens: int) -> None:
        """Correct the TPM counts from the estimate to ``actual_tokens`` (never below 0)."""
        now = self._clock()
        for charge in admission.charges:
            delta = max(0, actual_tokens) - charge.tokens
            if charge.limits.tpm is not None and delta:
                self._adjust(charge, now, 0, delta, 0)

    def _rollback(self, charges: list[Charge], now: float) -> None:
        for charge in reversed(charges):
            rpm = -1 if charge.limits.rpm is not None else 0
            self._adjust(charge, now, rpm, -charge.tokens, -1 if charge.concurrent else 0)

    def _adjust(self, charge: Charge, now: float, rpm: float, tpm: float, count: float) -> None:
        change = partial(_adjusted, charge.limits, now, rpm, tpm, count)
        try:
            self._state.update(KEY_PREFIX + charge.subject, change)
        except StateFull:
            self._report_full()

    def _report_full(self) -> None:
        if not self._full_reported:
            self._full_reported = True
            log.warning("shared state is full: rate limits of new subjects are not enforced")


def idle_record(record: Record, now: float) -> bool:
    """True for a limiter record untouched for ``STALE_AFTER``: by then its levels have
    drained and its concurrency count has decayed, so it counts nothing and may be freed.

    Only limiter records keep a unix time in their last field (breakers keep a cool-down of
    at most minutes there, round-robin and probe records 0), so this picks no other kind."""
    return record[3] > 1e9 and now - record[3] >= STALE_AFTER


def _drained(record: Record, limits: Limits, now: float) -> Record:
    """The record as of ``now``: levels drained, a stale concurrency count decayed."""
    rpm_level, tpm_level, count, updated = record
    elapsed = max(0.0, now - updated)
    return (
        _drain(rpm_level, limits.rpm, elapsed),
        _drain(tpm_level, limits.tpm, elapsed),
        0.0 if elapsed >= STALE_AFTER else count,
        max(now, updated),
    )


def _drain(level: float, limit: int | None, elapsed: float) -> float:
    return 0.0 if limit is None else max(0.0, level - elapsed * limit / PERIOD)


def _stored(rpm_level: float, tpm_level: float, count: float, updated: float) -> Record:
    """The record to store; EMPTY (freeing the key) once nothing is counted."""
    if rpm_level == 0 and tpm_level == 0 and count == 0:
        return EMPTY
    return (rpm_level, tpm_level, count, updated)


def _admit(
    limits: Limits, tokens: int, now: float, record: Record
) -> tuple[Record, _Refusal | None]:
    rpm_level, tpm_level, count, updated = _drained(record, limits, now)
    refusal = _check(limits, tokens, rpm_level, tpm_level, count)
    if refusal is not None:
        return record, refusal
    return _stored(
        rpm_level + (limits.rpm is not None),
        tpm_level + (tokens if limits.tpm is not None else 0),
        count + (limits.max_concurrency is not None),
        updated,
    ), None


def _adjusted(
    limits: Limits, now: float, rpm: float, tpm: float, count: float, record: Record
) -> tuple[Record, None]:
    rpm_level, tpm_level, current, updated = _drained(record, limits, now)
    return _stored(
        max(0.0, rpm_level + rpm), max(0.0, tpm_level + tpm), max(0.0, current + count), updated
    ), None


def _check(
    limits: Limits, tokens: int, rpm_level: float, tpm_level: float, count: float
) -> _Refusal | None:
    """The refusal with the longest wait, or None when every limit has room."""
    if limits.tpm is not None and tokens > limits.tpm:
        return _Refusal(TPM, PERIOD, retryable=False)
    rpm_wait = 0.0 if limits.rpm is None else _wait(rpm_level, 1, limits.rpm)
    tpm_wait = 0.0 if limits.tpm is None else _wait(tpm_level, tokens, limits.tpm)
    busy = limits.max_concurrency is not None and count >= limits.max_concurrency
    if not (rpm_wait or tpm_wait or busy):
        return None
    waits = {RPM: rpm_wait, TPM: tpm_wait, CONCURRENCY: 1.0 if busy else 0.0}
    limit = max(waits, key=waits.__getitem__)
    return _Refusal(limit, waits[limit])


def _wait(level: float, cost: float, limit: int) -> float:
    """Seconds until ``cost`` fits in a bucket at ``level`` draining ``limit`` per PERIOD."""
    wait = (level + cost - limit) * PERIOD / limit
    return 0.0 if wait <= SLACK else wait


def _refused(subject: str, limits: Limits, tokens: int, refusal: _Refusal) -> Admission:
    limit, wait, retryable = refusal.limit, refusal.wait, refusal.retryable
    return refused_admission(subject, limits, tokens, limit, wait, retryable)


def refused_admission(
    subject: str, limits: Limits, tokens: int, limit: str, wait: float, retryable: bool
) -> Admission:
    """The refusal of ``subject`` by ``limit``, retryable after ``wait`` seconds."""
    retry_after = max(1, math.ceil(wait - SLACK))
    return Admission(
        admitted=False,
        subject=subject,
        limit=limit,
        retry_after=retry_after,
        retryable=retryable,
        message=_message(subject, limits, tokens, limit, retry_after, retryable),
    )


def _message(
    subject: str, limits: Limits, tokens: int, limit: str, retry_after: int, retryable: bool
) -> str:
    """The user-facing reason (names the kind of subject, never its id)."""
    kind = subject.partition(":")[0]
    if not retryable:
        return (
            f"This request needs about {tokens} tokens, more than this {kind}'s limit of "
            f"{limits.tpm} tokens per minute."
        )
    amount = {
        RPM: f"{limits.rpm} requests per minute",
        TPM: f"{limits.tpm} tokens per minute",
        CONCURRENCY: f"{limits.max_concurrency} concurrent requests",
    }[limit]
    return f"Rate limit reached for this {kind}: {amount}. Retry after {retry_after} s."
