"""One log format for every router process: the supervisor and its workers."""

from __future__ import annotations

import logging

LOG_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    """One stderr handler for the process (a no-op when one is already configured)."""
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)
