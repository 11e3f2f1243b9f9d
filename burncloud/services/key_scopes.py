"""What an API key may reach: the relay (every /v1... route and front door), the admin API
(/api/), or both.

A key's scopes are fixed when it is made. ``token create`` (CLI and admin API) makes relay
keys only, whoever owns them; admin keys come only from the operator's own commands
(first run, ``admin-key create`` and ``rotate``), so nothing an API caller can reach
widens a key. Stored as one of ``STORED`` in ``tokens.scopes``; a CHECK constraint refuses
anything else.
"""

from __future__ import annotations

from collections.abc import Iterable

RELAY = "relay"
ADMIN = "admin"
STORED = ("relay", "admin", "admin,relay")  # every form the column may hold
ADMIN_FORMS = ("admin", "admin,relay")  # the stored forms that reach /api/


def scopes_text(scopes: Iterable[str]) -> str:
    """The stored form of ``scopes``: sorted, comma-separated; refuses an unknown set."""
    text = ",".join(sorted(set(scopes)))
    if text not in STORED:
        raise ValueError(f"not a key scope set: {text!r}")
    return text


def parse_scopes(text: str) -> frozenset[str]:
    """The scopes a stored value grants; refuses a value the column should never hold."""
    if text not in STORED:
        raise ValueError(f"not a key scope set: {text!r}")
    return frozenset(text.split(","))
