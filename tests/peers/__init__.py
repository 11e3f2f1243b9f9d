"""One API and New API databases for the tests: their real tables (transcribed from the
projects' GORM structs, ``tables.py``), rendered as GORM's AutoMigrate writes them on
SQLite, MySQL/MariaDB and PostgreSQL (``schema.py``), filled with realistic rows whose key
facts the tests assert against (``rows.py``), built by ``build.py`` and handed to tests by
the fixtures in ``fixtures.py``."""
