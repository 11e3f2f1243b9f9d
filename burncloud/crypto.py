"""Secrets: API key generation and hashing, and encryption of channel keys at rest.

Client keys (``sk-...``) and redemption codes are random and high-entropy, so a plain
SHA-256 is the right lookup hash: the router finds a key by its hash in memory. Channel
keys must be recoverable to call upstreams, so they are encrypted with Fernet
(AES-128-CBC + HMAC-SHA256) under a secret from ``BURNCLOUD_SECRET`` or, for SQLite, a
key file created beside the database with mode 0600.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import string
from pathlib import Path
from urllib.parse import quote

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


def mask_in(text: str, secret: str) -> str:
    """``text`` with ``secret`` masked as sent, URL-encoded or in base64 (either alphabet,
    padding optional): upstreams quote the key they were given in their error messages."""
    raw = secret.encode()
    encoded = {base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()}
    forms = {secret, quote(secret, safe=""), *encoded, *(form.rstrip("=") for form in encoded)}
    for form in sorted(forms, key=len, reverse=True):
        if len(form) >= 8:  # a short secret would mask ordinary words
            text = text.replace(form, "***")
    return text


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
