"""One router worker process, started by the supervisor only:

    python -m burncloud.serving.worker LISTEN_FD REPORT_FD SUPERVISOR_PID

It dies with its supervisor (on Linux the kernel kills it, so no orphan keeps serving on
the port), builds the app from the environment the supervisor exported, and serves it on
the inherited socket with the chosen server until SIGTERM, draining for the grace period.
On REPORT_FD it writes one line once the app's lifespan has started (``ready``) or why it
did not (``failed: <reason>``), which is how the supervisor tells a worker that cannot
start from one that crashed while serving.
"""

from __future__ import annotations

import ctypes
import gc
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Callable

from burncloud.config import Settings
from burncloud.errors import BurncloudError
from burncloud.gateway.asgi import ASGIApp, Message, Receive, Scope, Send
from burncloud.serving.limits import ServerLimits
from burncloud.serving.log_setup import configure_logging

log = logging.getLogger("burncloud.serving")

READY = b"ready\n"
FAILED = b"failed: "
LIFESPAN_FAILURE = 3  # the exit status when the app's startup or shutdown failed (uvicorn's)
PR_SET_PDEATHSIG = 1  # linux/prctl.h

Serve = Callable[[ASGIApp, int, Settings, ServerLimits, bool], bool]


def main(argv: list[str]) -> int:
    """Serve until stopped; the exit status (LIFESPAN_FAILURE when the app's startup or
    shutdown failed, e.g. log rows it could neither write nor spill)."""
    listen_fd, report_fd, supervisor = (int(arg) for arg in argv)
    die_with(supervisor)
    report = WorkerReport(report_fd)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_level)
        from burncloud.server import create_app

        app = create_app(settings)
    except BurncloudError as exc:
        report.failed(exc.message)
        return 1
    serve = server_named(settings.server)
    limits = ServerLimits.from_settings(settings)
    uvloop = importlib.util.find_spec("uvloop") is not None
    watched = LifespanWatch(app, report)
    clean = serve(watched, listen_fd, settings, limits, uvloop)
    return 0 if clean and not watched.shutdown_failed else LIFESPAN_FAILURE


def die_with(supervisor: int) -> None:
    """Have the kernel kill this process when the supervisor dies; exit if it already has."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != supervisor:
        raise SystemExit("burncloud worker: the supervisor is gone")


def server_named(name: str) -> Serve:
    """The function that serves on server ``name`` (imported only when chosen)."""
    if name == "uvicorn":
        from burncloud.serving.on_uvicorn import serve_on_uvicorn

        return serve_on_uvicorn
    from burncloud.serving.on_hypercorn import serve_on_hypercorn

    return serve_on_hypercorn


class StartupReport:
    """The one line that tells the supervisor whether the app started."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @property
    def pending(self) -> bool:
        return self._fd is not None

    def ready(self) -> None:
        self._send(READY)

    def failed(self, reason: str) -> None:
        self._send(FAILED + " ".join(reason.split()).encode() + b"\n")

    def _send(self, line: bytes) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.write(fd, line)
        except OSError:  # the supervisor is gone; the kernel ends this process too
            pass
        finally:
            os.close(fd)


class WorkerReport(StartupReport):
    """A worker process's report: once started, it also freezes the garbage collector's
    view of what startup built (modules, pools, the configuration), which lives as long
    as the worker; full collections then stop rescanning it (a few % of CPU per request).
    Refcounting still frees it. Process-wide, so only a worker's ``main`` uses this."""

    def ready(self) -> None:
        gc.freeze()
        super().ready()


class LifespanWatch:
    """The app, with its startup's outcome reported to the supervisor and a failed
    shutdown remembered (both servers, the same way)."""

    __slots__ = ("_app", "_report", "shutdown_failed")

    def __init__(self, app: ASGIApp, report: StartupReport) -> None:
        self._app = app
        self._report = report
        self.shutdown_failed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self._app(scope, receive, send)
            return
        await self._lifespan(scope, receive, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def reporting(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                self._report.ready()
            elif message["type"] == "lifespan.startup.failed":
                self._report.failed(message.get("message") or "the app did not start")
            elif message["type"] == "lifespan.shutdown.failed":
                self.shutdown_failed = True
            await send(message)

        try:
            await self._app(scope, receive, reporting)
        except Exception as exc:
            if not self._report.pending:
                raise
            # Hypercorn would serve on without the app's startup: end it here, as uvicorn does.
            log.exception("the app did not start")
            await reporting({"type": "lifespan.startup.failed", "message": repr(exc)})


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
