"""Wall-clock time in the unit the schema stores (unix seconds)."""

from __future__ import annotations

import time


def now() -> int:
    """The current unix time in whole seconds."""
    return int(time.time())
