"""Opt-in tests against the real providers (``pytest -m live`` with TEST_* keys set)."""
