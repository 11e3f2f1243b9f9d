"""Webhook signatures: HMAC-SHA256 over the time of sending and the exact body.

A signed delivery carries::

    X-Burncloud-Signature: t=1718000000,v1=5f2b...e9 (64 hex digits)

where ``v1`` is ``hex(HMAC-SHA256(secret, f"{t}.".encode() + body))`` with the alert's
signing secret as UTF-8 bytes and ``body`` the request body exactly as received. A
receiver recomputes it, compares in constant time, and refuses a ``t`` far from its own
clock (a replayed old delivery); ``t`` always comes first. ``X-Burncloud-Event-Id``
names the event, the same on every retry, so a receiver can drop one it has already
accepted. In Python::

    import hashlib, hmac, time
    def verify(secret: str, header: str, body: bytes) -> bool:
        t, v1 = (part.split("=", 1)[1] for part in header.split(","))
        mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        return abs(time.time() - int(t)) < 300 and hmac.compare_digest(mac, v1)
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Burncloud-Signature"
EVENT_ID_HEADER = "X-Burncloud-Event-Id"
EVENT_HEADER = "X-Burncloud-Event"
TOLERANCE = 300  # seconds a receiver should accept between t and its clock


def signature(secret: str, body: bytes, t: int) -> str:
    """The ``X-Burncloud-Signature`` value for ``body`` sent at unix time ``t``."""
    return f"t={t},v1={_mac(secret, body, t)}"


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE) -> bool:
    """Whether ``header`` signs ``body`` with ``secret``, sent within ``tolerance`` s of
    ``now`` (what a receiver does; burncloud's own tests use it)."""
    try:
        fields = dict(part.strip().split("=", 1) for part in header.split(","))
        sent = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs(now - sent) > tolerance:
        return False
    return hmac.compare_digest(_mac(secret, body, sent), given)


def _mac(secret: str, body: bytes, t: int) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
