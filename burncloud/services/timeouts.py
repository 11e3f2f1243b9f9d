"""How long the relay waits on a channel: connect, first byte, and silence mid-stream.

Defaults suit LLM APIs: a connection either opens within seconds or the host is down; a
non-stream answer (or a reasoning model's first chunk) may take minutes, so the first-byte
and idle limits are generous. A channel overrides them with config entries in seconds:
``connect_timeout``, ``first_byte_timeout``, ``idle_timeout``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from burncloud.errors import InvalidRequest

CONFIG_KEYS = {
    "connect_timeout": "connect",
    "first_byte_timeout": "first_byte",
    "idle_timeout": "idle",
}


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds: to connect, until the response head arrives, between stream reads."""

    connect: float = 10.0
    first_byte: float = 300.0
    idle: float = 300.0


DEFAULT_TIMEOUTS = Timeouts()


def timeouts_from_config(config: Mapping[str, str]) -> Timeouts:
    """The channel's timeouts; InvalidRequest naming the entry when one is malformed."""
    given = {
        field: _seconds(key, config[key]) for key, field in CONFIG_KEYS.items() if key in config
    }
    return Timeouts(**given) if given else DEFAULT_TIMEOUTS


def _seconds(key: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0 < value <= 86_400):
        raise InvalidRequest(f"{key} must be a number of seconds between 0 and 86400: {raw!r}")
    return value
