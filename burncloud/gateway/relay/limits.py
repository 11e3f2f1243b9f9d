"""Which rate limits apply to a caller: its token's and its user's (RPM, TPM, concurrency).

Most keys have none, and those requests never touch the shared limiter state.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from burncloud.errors import InvalidRequest, RateLimited
from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.fleet.rate_limit import Admission, Limits
from burncloud.gateway.relay.auth import Caller
from burncloud.gateway.relay.inbound import InboundRequest


def limited_subjects(caller: Caller) -> list[tuple[str, Limits]]:
    """The (subject, limits) pairs to admit the request against; empty when unlimited."""
    subjects = []
    for name, holder in (("token", caller.token), ("user", caller.user)):
        limits = _limits(holder)
        if limits is not None:
            subjects.append((f"{name}:{holder.id}", limits))
    return subjects


def tokens_to_count(request: InboundRequest) -> int:
    """The tokens a request is counted for until its usage is known: prompt and answer."""
    return request.prompt_estimate() + request.answer_budget()


@asynccontextmanager
async def admitted(
    limiter: FleetRateLimiter,
    caller: Caller,
    request: InboundRequest,
    tokens_used: Callable[[], int],
) -> AsyncIterator[None]:
    """Admit the request against its caller's limits (429 / 400 when refused); on leaving,
    release its concurrency and count ``tokens_used()`` against the token limits."""
    subjects = limited_subjects(caller)
    if not subjects:
        yield
        return
    admission = await limiter.admit_all(subjects, tokens_to_count(request), time.time())
    if not admission.admitted:
        raise refusal(admission)
    try:
        yield
    finally:
        limiter.release(admission)
        limiter.settle(admission, tokens_used())


def refusal(admission: Admission) -> InvalidRequest | RateLimited:
    """The client's error for a refused admission (429 with Retry-After when waiting helps)."""
    if not admission.retryable:
        return InvalidRequest(admission.message)
    return RateLimited(admission.message, headers={"Retry-After": str(admission.retry_after)})


def _limits(holder: Any) -> Limits | None:
    rpm = _limit(getattr(holder, "rpm", None))
    tpm = _limit(getattr(holder, "tpm", None))
    concurrency = _limit(getattr(holder, "max_concurrency", None))
    if rpm is None and tpm is None and concurrency is None:
        return None
    return Limits(rpm, tpm, concurrency)


def _limit(value: int | None) -> int | None:
    return value if value is not None and value >= 1 else None
