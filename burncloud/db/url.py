"""DATABASE_URL parsing: ``sqlite:relative.db``, ``sqlite:///abs/path.db``, ``postgresql://``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from burncloud.errors import ConfigError


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """Where the database lives: a SQLite file path, or a PostgreSQL DSN."""

    dialect: Literal["sqlite", "postgresql"]
    target: str

    @property
    def sqlite_path(self) -> Path:
        return Path(self.target)

    def display(self) -> str:
        """The URL without any password, for messages and logs."""
        if self.dialect == "sqlite":
            return f"sqlite:{self.target}"
        return _strip_password(self.target)


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse a DATABASE_URL; raise ConfigError with a one-line reason if it is not one."""
    if url.startswith(("postgresql://", "postgres://", "postgresql+asyncpg://")):
        return DatabaseUrl("postgresql", url.replace("postgresql+asyncpg://", "postgresql://"))
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:") :]
        if rest.startswith("///"):
            path = "/" + rest[3:].lstrip("/")
        elif rest.startswith("//"):
            raise ConfigError(
                f"unsupported SQLite URL {url!r}: use sqlite:relative.db or sqlite:///abs/path.db"
            )
        else:
            path = rest
        if not path:
            raise ConfigError("the SQLite URL names no file: use sqlite:burncloud.db")
        return DatabaseUrl("sqlite", path)
    raise ConfigError(
        f"unsupported DATABASE_URL {_strip_password(url)!r}: "
        "use sqlite:FILE, sqlite:///ABS/PATH or postgresql://..."
    )


def _strip_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else f"{scheme}://{user}@{host}"
