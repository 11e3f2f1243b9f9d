"""Where the routers of one database on this machine keep their shared state.

The path follows from the database, so every worker of a router, a second router on the
same database and machine, and the CLI (``route dry-run``, reading breaker states) all
find the same file. It lives in /dev/shm (memory, gone at reboot) when there is one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from burncloud.db.url import parse_database_url
from burncloud.errors import ConfigError
from burncloud.gateway.fleet.shared_state import STATE_FILE_ENV, MmapState


def state_file_path(database_url: str) -> Path:
    """The shared-state file for ``database_url`` ($BURNCLOUD_STATE_FILE overrides it)."""
    override = os.environ.get(STATE_FILE_ENV)
    if override:
        return Path(override)
    parsed = parse_database_url(database_url)
    identity = (
        str(Path(parsed.target).resolve()) if parsed.dialect == "sqlite" else parsed.display()
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    shm = Path("/dev/shm")
    folder = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())
    return folder / f"burncloud-{digest}.state"


def attach_state(path: Path) -> MmapState:
    """The state at ``path``, kept as it is when a router on this database already made it
    (its breakers and limits go on), else created."""
    try:
        return MmapState.open(path)
    except (OSError, ConfigError):
        return MmapState.create(path)
