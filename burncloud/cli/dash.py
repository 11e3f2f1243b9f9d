"""`burncloud dash`: the live terminal dashboard (Textual is imported only here, lazily)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from burncloud.cli.session import DbOption, Session, fail, run_read
from burncloud.config import Settings
from burncloud.db.url import parse_database_url
from burncloud.errors import BurncloudError
from burncloud.services.audit import acting_as, local_actor

if TYPE_CHECKING:
    from burncloud_tui.app import DashApp


def dash(
    refresh: Annotated[
        float,
        typer.Option("--refresh", min=0.1, metavar="SECONDS", help="Seconds between refreshes."),
    ] = 1.0,
    db: DbOption = None,
) -> None:
    """Watch requests, tokens, spend, channels and a live tail of requests in the terminal."""
    run_read(db, _readable)  # a missing or outdated database: one line, before the screen
    with acting_as(local_actor("dash")):  # what the dashboard changes is its user's doing
        build_app(db, refresh).run()


async def _readable(_session: Session) -> None:
    """Nothing to do: opening the database read-only was the check."""


def build_app(db: str | None, refresh: float) -> DashApp:
    """The dashboard over the database ``db`` (default from the environment)."""
    try:
        settings = Settings.from_env().with_overrides(database_url=db)
        shown = parse_database_url(settings.database_url).display()
    except BurncloudError as exc:
        raise fail(exc.message) from None
    from burncloud_tui.app import DashApp
    from burncloud_tui.db_source import DatabaseSource

    return DashApp(DatabaseSource(settings.database_url), refresh_every=refresh, location=shown)
