"""Finding what is left of a key in a text, independently of ``burncloud.crypto``.

The leak tests' oracle: every ``RUN``-character window of the key as sent, URL-encoded, and
of its base64 characters at each byte alignment (both alphabets) is looked up in a set, so
a text that holds ``RUN`` or more consecutive characters of any of those forms is caught.
"""

from __future__ import annotations

import base64
from urllib.parse import quote

RUN = 12


def key_forms(key: str) -> set[str]:
    """The key as sent, URL-encoded, and the base64 characters that depend only on it."""
    raw = key.encode()
    forms = {key, quote(key, safe="")}
    for shift in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * shift + raw).decode()
            forms.add(encoded[(8 * shift + 5) // 6 : (8 * (shift + len(raw))) // 6])
    return forms


def fragments_in(text: str, key: str) -> list[str]:
    """The ``RUN``-character pieces of ``key``'s forms that ``text`` holds (empty: none)."""
    windows = {form[i : i + RUN] for form in key_forms(key) for i in range(len(form) - RUN + 1)}
    return [text[i : i + RUN] for i in range(len(text) - RUN + 1) if text[i : i + RUN] in windows]
