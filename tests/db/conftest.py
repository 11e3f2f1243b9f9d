"""The migration tests' empty databases (tests/db/old_schema.py)."""

from tests.db.old_schema import empty_url  # noqa: F401 (fixture)
