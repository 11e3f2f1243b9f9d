"""Storage: one schema over SQLite (default) and PostgreSQL, versioned migrations."""

from burncloud.db.base import Database
from burncloud.db.connection import open_database
from burncloud.db.url import DatabaseUrl, parse_database_url

__all__ = ["Database", "DatabaseUrl", "open_database", "parse_database_url"]
