"""What a request gets when the database that holds its money cannot be reached."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from burncloud.errors import InsufficientQuota, ServiceUnavailable

log = logging.getLogger("burncloud.ledger")


@contextlib.asynccontextmanager
async def database_unreachable_is_503() -> AsyncIterator[None]:
    """A request whose money cannot be checked is refused as 503, never served unpaid; a
    database failure here is the operator's outage, not the caller's mistake or a bug."""
    try:
        yield
    except (InsufficientQuota, ServiceUnavailable):
        raise
    except Exception as exc:
        log.warning("quota database unreachable: %s: %s", type(exc).__name__, exc)
        raise ServiceUnavailable(
            "the quota database is unreachable; the request was not served, retry shortly"
        ) from exc
