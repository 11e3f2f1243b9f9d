"""AWS Signature Version 4 for one request with a body, pure (the time is an argument).

Follows PROTOCOLS.md 7.6 and botocore's ``SigV4Auth``: the canonical URI is the wire path
URI-encoded once more (non-S3 services double-encode, so ``%3A`` is signed as ``%253A``),
every header handed in is signed along with ``host`` and ``x-amz-date``, and the payload
hash is the SHA-256 of the exact body bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """An access key pair, with the session token of temporary credentials."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def amz_date(now: float) -> str:
    """``now`` (seconds since the epoch) as SigV4's ``YYYYMMDD'T'HHMMSS'Z'``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: float,
    sign_content_sha256: bool = False,
) -> dict[str, str]:
    """``headers`` plus X-Amz-Date, X-Amz-Security-Token (if any) and Authorization."""
    stamp = amz_date(now)
    payload_hash = hashlib.sha256(body).hexdigest()
    signed = {**headers, "X-Amz-Date": stamp}
    if credentials.session_token:
        signed["X-Amz-Security-Token"] = credentials.session_token
    if sign_content_sha256:
        signed["X-Amz-Content-Sha256"] = payload_hash
    canonical, signed_names = canonical_request(method, url, signed, payload_hash)
    scope = f"{stamp[:8]}/{region}/{service}/aws4_request"
    key = signing_key(credentials.secret_access_key, stamp[:8], region, service)
    signature = hmac.new(key, string_to_sign(stamp, scope, canonical).encode(), "sha256")
    signed["Authorization"] = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_names}, Signature={signature.hexdigest()}"
    )
    return signed


def canonical_request(
    method: str, url: str, headers: Mapping[str, str], payload_hash: str
) -> tuple[str, str]:
    """The canonical request for ``headers`` (``host`` added from ``url``) and the
    semicolon-joined signed header names."""
    parts = urlsplit(url)
    lines = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    lines.setdefault("host", host_header(url))
    names = sorted(lines)
    canonical = "\n".join(
        (
            method.upper(),
            quote(parts.path or "/", safe="/~"),
            canonical_query(parts.query),
            "".join(f"{name}:{lines[name]}\n" for name in names),
            ";".join(names),
            payload_hash,
        )
    )
    return canonical, ";".join(names)


def canonical_query(query: str) -> str:
    """Query parameters sorted by name, each name and value URI-encoded."""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(name, safe="~"), quote(value, safe="~")) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def host_header(url: str) -> str:
    """The ``Host`` an HTTP client sends for ``url``: the port only when not the default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != _DEFAULT_PORTS.get(parts.scheme):
        return f"{host}:{parts.port}"
    return host


def string_to_sign(stamp: str, scope: str, canonical: str) -> str:
    """The SigV4 string to sign for a canonical request made at ``stamp``."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key for ``date`` (YYYYMMDD), ``region`` and ``service``."""
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), "sha256").digest()
    return key
