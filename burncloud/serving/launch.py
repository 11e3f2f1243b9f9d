"""What ``burncloud router`` does once its port is bound: prepare what the workers share,
then supervise them until a signal.

Before the first worker starts: the per-connection limits are fitted to the open-file
limit, the effective settings are exported to the workers' environment, the shared-state
file is attached and, for several workers, the Prometheus multi-process directory made.
SIGTERM or SIGINT stops the router with a drain; a second SIGINT kills the workers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket

from burncloud.config import Settings
from burncloud.errors import BurncloudError, ConfigError
from burncloud.gateway.fleet.affinity_store import (
    SESSIONS_FILE_ENV,
    attach_sessions,
    sessions_file_path,
)
from burncloud.gateway.fleet.shared_state import STATE_FILE_ENV
from burncloud.gateway.fleet.state_file import attach_state, state_file_path
from burncloud.gateway.metrics import multiprocess_dir
from burncloud.serving.limits import ServerLimits, fit_open_files
from burncloud.serving.log_setup import configure_logging
from burncloud.serving.supervisor import Supervisor


class WorkersFailed(BurncloudError):
    """The router stopped for a failure (or did not stop cleanly); the message says why."""


def check_server(name: str) -> None:
    """Raise ConfigError when server ``name`` is not installed."""
    if name == "uvicorn" and not all(
        importlib.util.find_spec(module) for module in ("uvicorn", "httptools")
    ):
        raise ConfigError(
            "the uvicorn server needs the uvicorn extra: pip install 'burncloud[uvicorn]'"
        )


def supervise(settings: Settings, listener: socket.socket) -> None:
    """Run the router's workers on ``listener`` until SIGTERM/SIGINT and a clean stop;
    raises WorkersFailed when it stops for a failure."""
    configure_logging(settings.log_level)
    limits = fit_open_files(ServerLimits.from_settings(settings))
    export_settings(settings, limits)
    # Breakers, round-robin turns and rate limits, shared by the workers (and by other
    # routers of this database on this machine); the workers attach through the env var.
    state_path = state_file_path(settings.database_url)
    state = attach_state(state_path)
    os.environ[STATE_FILE_ENV] = str(state_path)
    # Conversations pinned to channels (session affinity): a bounded table of their own.
    sessions_path = sessions_file_path(state_path)
    sessions = attach_sessions(sessions_path)
    os.environ[SESSIONS_FILE_ENV] = str(sessions_path)
    try:
        # Before the workers start: they read PROMETHEUS_MULTIPROC_DIR on importing it.
        with multiprocess_dir(settings.workers) as metrics:
            supervisor = Supervisor(
                listener.fileno(), settings.workers, settings.grace_period, metrics
            )
            failure = asyncio.run(until_signalled(supervisor))
    finally:
        sessions.close()
        state.close()
        listener.close()
    if failure is not None:
        raise WorkersFailed(failure)


async def until_signalled(supervisor: Supervisor) -> str | None:
    """Run ``supervisor`` with SIGTERM and SIGINT wired to it; what its run returns."""
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, supervisor.stop)
    loop.add_signal_handler(signal.SIGINT, interrupt, supervisor)
    return await supervisor.run()


def interrupt(supervisor: Supervisor) -> None:
    """Ctrl-C: a drain the first time, a kill the second."""
    if supervisor.stopping:
        supervisor.kill()
    else:
        supervisor.stop()


def export_settings(settings: Settings, limits: ServerLimits) -> None:
    """Hand the effective settings to the workers through their environment."""
    os.environ.update(
        {
            "HOST": settings.host,
            "PORT": str(settings.port),
            "DATABASE_URL": settings.database_url,
            "LOG_LEVEL": settings.log_level,
            "WORKERS": str(settings.workers),
            "BURNCLOUD_SERVER": settings.server,
            "BURNCLOUD_GRACE_PERIOD": str(settings.grace_period),
            "BURNCLOUD_MAX_BODY_BYTES": str(settings.max_body_bytes),
            "BURNCLOUD_ALLOW_FREE_MODELS": "true" if settings.allow_free_models else "false",
            "BURNCLOUD_MAX_CONNECTIONS": str(limits.max_connections),
        }
    )
