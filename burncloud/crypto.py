"""Secrets: API key generation and hashing, and encryption of channel keys at rest.

Client keys (``sk-...``) and redemption codes are random and high-entropy, so a plain
SHA-256 is the right lookup hash: the router finds a key by its hash in memory. Channel
keys must be recoverable to call upstreams, so they are encrypted with Fernet
(AES-128-CBC + HMAC-SHA256) under a secret from ``BURNCLOUD_SECRET`` or, for SQLite, a
key file created beside the database with mode 0600. Text that may quote a channel key
(an upstream's error) has the key masked, whole and in part, before it is ever shortened
(``public_error_text``).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import os
import secrets
import string
from pathlib import Path
from urllib.parse import quote

import orjson
from cryptography.fernet import Fernet, InvalidToken

from burncloud.db.url import DatabaseUrl
from burncloud.errors import ConfigError

_ALPHABET = string.ascii_letters + string.digits
KEY_PREFIX = "sk-"
_CHECK_PLAINTEXT = b"burncloud-secret-check"


def generate_key(length: int = 48) -> str:
    """A new client API key: ``sk-`` and ``length`` random alphanumerics."""
    return KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def generate_code(length: int = 32) -> str:
    """A new redemption or invite code."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_secret(value: str) -> str:
    """The lookup hash stored in place of a key or code."""
    return hashlib.sha256(value.encode()).hexdigest()


MASK = "***"
FRAGMENT_CHARS = 12  # a run this long of a key's form is masked wherever it appears
_ANCHOR_CHARS = FRAGMENT_CHARS // 2
_WHOLE_FORM_CHARS = 8  # a shorter secret would mask ordinary words


def mask_in(text: str, secret: str) -> str:
    """``text`` with ``secret`` masked, whole or in part: upstreams quote the key they were
    given in their error messages, and a message cut anywhere may hold part of one.

    The key is masked as sent, URL-encoded, JSON-escaped or in base64 (either alphabet,
    padding optional, at any byte alignment, as in ``Basic base64(user:key)``), and so is
    every run of ``FRAGMENT_CHARS`` or more consecutive characters of one of those forms
    (``_fragments`` says how they are found).
    """
    if not secret:
        return text
    whole, partial = _key_forms(secret)
    for form in sorted(whole, key=len, reverse=True):
        text = text.replace(form, MASK)
    spans = _fragments(text, partial)
    if not spans:
        return text
    pieces, done = [], 0
    for start, end in spans:
        pieces += [text[done:start], MASK]
        done = end
    pieces.append(text[done:])
    return "".join(pieces)


def public_error_text(text: str, secret: str, limit: int) -> str:
    """``text`` as it may leave burncloud (a client's error, a log row, a CLI line): the
    ``secret`` masked in the whole text first, then cut to at most ``limit`` characters.
    Never the other way round: a key cut in half is no longer the key."""
    masked = mask_in(text, secret)
    return masked if len(masked) <= limit else masked[: max(limit - 3, 0)] + "..."


@functools.lru_cache(maxsize=64)
def _key_forms(secret: str) -> tuple[frozenset[str], tuple[str, ...]]:
    """The forms masked whole (at least 8 characters) and those masked in part too (at
    least ``FRAGMENT_CHARS``); cached, as one channel's key is asked about again and again."""
    raw = secret.encode()
    padded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    json_escaped = orjson.dumps(secret).decode()[1:-1]
    texts = {secret, quote(secret, safe=""), json_escaped, json_escaped.replace("/", "\\/")}
    whole = {*texts, *padded, *(form.rstrip("=") for form in padded)}
    partial = texts | set(_base64_cores(raw))
    return (
        frozenset(form for form in whole if len(form) >= _WHOLE_FORM_CHARS),
        tuple(sorted(form for form in partial if len(form) >= FRAGMENT_CHARS)),
    )


def _base64_cores(raw: bytes) -> list[str]:
    """The base64 characters that depend only on ``raw``, for each of the three positions
    it can start at inside a longer encoded value, in both alphabets."""
    cores = []
    for shift in range(3):
        bits = 8 * (shift + len(raw))
        first, last = -(-8 * shift // 6), bits // 6  # characters wholly inside ``raw``
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            cores.append(encode(bytes(shift) + raw).decode()[first:last])
    return cores


def _fragments(text: str, forms: tuple[str, ...]) -> list[tuple[int, int]]:
    """The spans of ``text`` holding ``FRAGMENT_CHARS`` or more consecutive characters of a
    form, merged where they touch or overlap.

    Any such run contains one of the form's anchors: its ``_ANCHOR_CHARS``-long slices at
    offsets 0, 6, 12, ... (a 12-character window always covers one whole). So each anchor
    is searched for with ``str.find`` (C speed, ~10 anchors per form of a 50-character key),
    and each hit is extended left and right while text and form agree; a run already found
    for the same alignment is not extended again. Cost: O(anchors x len(text)) for the
    searches, plus the length of each real run.
    """
    spans: list[tuple[int, int]] = []
    for form in forms:
        found: dict[int, int] = {}  # alignment (text index - form index) -> end of its run
        for offset in range(0, len(form) - _ANCHOR_CHARS + 1, _ANCHOR_CHARS):
            anchor = form[offset : offset + _ANCHOR_CHARS]
            hit = text.find(anchor)
            while hit >= 0:
                shift = hit - offset
                if found.get(shift, -1) < hit:
                    start, end = _extend(text, form, hit, offset)
                    found[shift] = end
                    if end - start >= FRAGMENT_CHARS:
                        spans.append((start, end))
                hit = text.find(anchor, hit + 1)
    return _merged(spans)


def _extend(text: str, form: str, at: int, offset: int) -> tuple[int, int]:
    """The longest run around ``text[at:]`` == ``form[offset:]`` (an anchor matched)."""
    start, left = at, offset
    while start > 0 and left > 0 and text[start - 1] == form[left - 1]:
        start, left = start - 1, left - 1
    end, right = at + _ANCHOR_CHARS, offset + _ANCHOR_CHARS
    while end < len(text) and right < len(form) and text[end] == form[right]:
        end, right = end + 1, right + 1
    return start, end


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def mask_secret(value: str, visible_prefix: int = 3) -> str:
    """Show a secret as its first characters and its last four: ``sk-...Ab12``."""
    value = value.strip()
    if len(value) <= visible_prefix + 4:
        return "*" * len(value)
    return f"{value[:visible_prefix]}...{value[-4:]}"


class SecretBox:
    """Encrypts and decrypts channel keys with the installation's secret."""

    def __init__(self, fernet_key: bytes) -> None:
        self._fernet = Fernet(fernet_key)

    @classmethod
    def from_passphrase(cls, passphrase: str) -> SecretBox:
        return cls(base64.urlsafe_b64encode(hashlib.sha256(passphrase.encode()).digest()))

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "cannot decrypt a stored channel key: BURNCLOUD_SECRET (or the key file) "
                "is not the one this database was written with"
            ) from None

    def seal(self, data: bytes, purpose: bytes) -> str:
        """``data`` encrypted and authenticated for one ``purpose`` (a token sealed for one
        purpose never opens for another, nor as a channel key)."""
        return self._fernet.encrypt(purpose + b"\0" + data).decode("ascii")

    def unseal(self, token: str, purpose: bytes) -> bytes | None:
        """What ``seal(data, purpose)`` sealed; None for anything else (another secret's
        token, another purpose's, a forged or altered one, not a token at all)."""
        try:
            plain = self._fernet.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            return None
        head, sep, data = plain.partition(b"\0")
        return data if sep and head == purpose else None

    def check_value(self) -> str:
        """A token stored once in the database to detect a changed secret early."""
        return self.encrypt(_CHECK_PLAINTEXT.decode())

    def verify(self, check_value: str) -> None:
        """Raise ConfigError if ``check_value`` was written with another secret."""
        self.decrypt(check_value)


def load_secret_box(url: DatabaseUrl, passphrase: str | None) -> SecretBox:
    """The secret box from BURNCLOUD_SECRET, else from (or into) the key file beside SQLite."""
    if passphrase:
        return SecretBox.from_passphrase(passphrase)
    if url.dialect != "sqlite":
        raise ConfigError(
            "BURNCLOUD_SECRET must be set when the database is PostgreSQL "
            "(every router sharing the database needs the same secret)"
        )
    return SecretBox(_read_or_create_key_file(key_file_path(url)))


def key_file_path(url: DatabaseUrl) -> Path:
    """Where the key file for a SQLite database lives: ``<database>.key``."""
    return url.sqlite_path.with_name(url.sqlite_path.name + ".key")


def _read_or_create_key_file(path: Path) -> bytes:
    """Create the key file atomically (written aside, then linked) so racing processes agree."""
    if path.exists():
        return _read_key_file(path)
    scratch = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
        with contextlib.suppress(FileExistsError):  # another process won: use its key
            os.link(scratch, path)
    finally:
        scratch.unlink(missing_ok=True)
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    key = path.read_bytes().strip()
    if not key:
        raise ConfigError(f"the key file {path} is empty")
    return key
