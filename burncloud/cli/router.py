"""`burncloud router`: bind the port, then supervise the gateway's workers (imported
lazily; the app itself loads in the worker processes only)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from burncloud.cli.completions import one_of
from burncloud.cli.session import DbOption, fail
from burncloud.config import SERVERS, Settings
from burncloud.db.url import parse_database_url
from burncloud.errors import BurncloudError


def router(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default $HOST or 0.0.0.0).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default $PORT or 3000).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, help="Worker processes sharing the port (default $WORKERS or one per core)."
        ),
    ] = None,
    grace: Annotated[
        float | None,
        typer.Option(
            "--grace", help="Seconds in-flight requests may finish on SIGTERM (default 30)."
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option(
            metavar="|".join(SERVERS),
            autocompletion=one_of(SERVERS),
            help="ASGI server (default $BURNCLOUD_SERVER or hypercorn); uvicorn uses 30-40%"
            " less CPU per request (pip install 'burncloud[uvicorn]').",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run the OpenAI-compatible gateway (on Hypercorn, or uvicorn with --server)."""
    try:
        settings = Settings.from_env().with_overrides(
            host=host,
            port=port,
            workers=workers,
            grace_period=grace,
            database_url=db,
            server=server,
        )
        shown = parse_database_url(settings.database_url).display()
        from burncloud.serving.launch import check_server, supervise
        from burncloud.serving.listener import open_listener

        check_server(settings.server)
        # Bound here, before "listening" is printed: a busy port is the one error line.
        listener = open_listener(settings.host, settings.port)
    except BurncloudError as exc:
        raise fail(exc.message) from None
    print(
        f"burncloud router listening on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker{'s' if settings.workers > 1 else ''} on {settings.server},"
        f" database {shown})",
        file=sys.stderr,
        flush=True,
    )
    try:
        supervise(settings, listener)
    except BurncloudError as exc:
        raise fail(exc.message) from None
