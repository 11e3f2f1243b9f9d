"""`burncloud init`: create or migrate the database and bootstrap its admin, on purpose.

Reading commands never create a database; this is the command that does (any write
command and `burncloud router` do too). It is idempotent: run again, it says there is
nothing to do. A new admin key goes to stdout, the one place it is printed whatever stdout
is, because printing it is what the operator asked for (`KEY=$(burncloud init)`); what
happened goes to stderr.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from burncloud.cli.output import print_json
from burncloud.cli.session import DbOption, JsonOption, fail, run_as_cli
from burncloud.config import Settings
from burncloud.db import open_database
from burncloud.db.migrations import LATEST, current_version, migrate
from burncloud.errors import BurncloudError
from burncloud.services.bootstrap import GET_A_KEY, ensure_admin


@dataclass(frozen=True, slots=True)
class InitResult:
    """What ``init`` found and did."""

    database: str
    found_version: int
    admin_key: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "created": self.found_version == 0,
            "migrated_from": self.found_version,
            "schema_version": LATEST,
            "admin_key": self.admin_key,
        }

    def story(self) -> str:
        """What happened, in a line or two (the key itself is not in it)."""
        if self.found_version == 0:
            done = f"Created the database at {self.database} (schema version {LATEST})."
        elif self.found_version < LATEST:
            done = (
                f"Migrated the database at {self.database} from schema version"
                f" {self.found_version} to {LATEST}."
            )
        else:
            done = f"The database at {self.database} is up to date (schema version {LATEST})."
        if self.admin_key is not None:
            return done + (
                "\nCreated the admin user; its admin key, for the admin API (/api/) only"
                " (shown only now, keep it safe):"
            )
        if self.found_version >= LATEST:
            return done[:-1] + f" and has users: nothing to do ({GET_A_KEY})."
        return done


def init(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Create or migrate the database and create its admin user, printing the admin key."""
    try:
        settings = Settings.from_env().with_overrides(database_url=db)
        result = run_as_cli(initialise(settings.database_url))
    except BurncloudError as exc:
        raise fail(exc.message) from None
    if as_json:
        print_json(result.to_json())
        return
    print(result.story(), file=sys.stderr, flush=True)
    if result.admin_key is not None:
        print(result.admin_key, flush=True)


async def initialise(url: str) -> InitResult:
    """Bring the database at ``url`` to the current schema with an admin user."""
    db = await open_database(url, migrate=False)
    try:
        found = await current_version(db)
        await migrate(db)
        return InitResult(db.url.display(), found, await ensure_admin(db))
    finally:
        await db.close()
