"""Importing a One API or New API installation from its own database (read-only: SQLite,
MySQL/MariaDB or PostgreSQL): ``importer`` reads it into a ``Migration``; the other modules
each map one part (channels and their types, users, tokens and codes, options, prices,
money, logs). Imports services and the manifest model; nothing of the gateway or the CLI."""
