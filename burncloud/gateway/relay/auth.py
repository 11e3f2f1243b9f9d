"""Who is calling: the API key's token and user, checked against the snapshot in memory.

Also what the key may reach (``key_scopes``): every route asks ``authenticate`` for the
scope it needs, relay unless it says otherwise, so a door or relay route added later is
closed to admin-only keys without doing anything. An admin scope is honoured only while
the key's owner is still an enabled admin: demoting a user disarms its admin keys at the
next reload.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Mapping
from dataclasses import dataclass

from burncloud.crypto import KEY_PREFIX, hash_secret
from burncloud.errors import InvalidToken, PermissionDenied, TokenExpired
from burncloud.gateway.snapshot import Network, Snapshot
from burncloud.services.budgets import BudgetRule
from burncloud.services.key_scopes import ADMIN, RELAY
from burncloud.services.plans import Plan
from burncloud.services.tokens import Token
from burncloud.services.users import User

_WRONG_KEY = {  # what a key that lacks the route's scope is told to use instead
    RELAY: "this is an admin key, for the admin API (/api/) only: send requests with a"
    " relay key (`burncloud token create`), or an admin key made with"
    " `burncloud admin-key create --relay`",
    ADMIN: "the admin API needs an admin key, and this is a relay key: make one with"
    " `burncloud admin-key create`",
}


@dataclass(frozen=True, slots=True)
class Caller:
    token: Token
    user: User  # as its plan makes it (group, rate limits): see snapshot._on_plan
    plan: Plan | None = None
    budgets: tuple[tuple[BudgetRule, int], ...] = ()  # every budget with its subject id

    @property
    def group(self) -> str:
        return self.user.group


def extract_key(headers: Mapping[bytes, bytes]) -> str | None:
    """The API key from ``Authorization: Bearer``, ``x-api-key`` or ``x-goog-api-key``."""
    auth = headers.get(b"authorization")
    if auth is not None:
        scheme, _, value = auth.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    for name in (b"x-api-key", b"x-goog-api-key"):
        raw = headers.get(name)
        if raw:
            return raw.decode("latin-1").strip()
    return None


def authenticate(
    snapshot: Snapshot, key: str | None, client_ip: str | None, scope: str = RELAY
) -> Caller:
    """The caller for ``key`` if it may reach routes of ``scope``, or the 401/403 error the
    error table prescribes."""
    if not key:
        raise InvalidToken("missing API key: send Authorization: Bearer sk-...")
    # No constant-time compare is needed: the key itself is never compared. Its SHA-256
    # is looked up, so a lookup's timing can only tell about the hash of the caller's own
    # guess, and getting from that to a stored key would need a SHA-256 preimage.
    token = _token_for(snapshot, key)
    if token is None or token.status != "active":
        raise InvalidToken("invalid API key")
    if token.expires_at is not None and token.expires_at < time.time():
        raise TokenExpired("this API key has expired")
    user = snapshot.users.get(token.user_id)
    if user is None or user.status != "enabled":
        raise PermissionDenied("the user of this API key is disabled")
    networks = snapshot.networks.get(token.id)
    if networks and not _ip_allowed(client_ip, networks):
        raise PermissionDenied(f"client IP {client_ip} is not allowed for this API key")
    _authorize_scope(token, user, scope)
    return Caller(token, user, snapshot.plans.get(user.id), snapshot.budgets_for(token, user))


def _token_for(snapshot: Snapshot, key: str) -> Token | None:
    """The token of ``key``, as sent or, for a key without the ``sk-`` prefix, with it:
    One API and New API (whose tokens ``burncloud import`` brings over with their keys)
    accept their keys both ways, and their clients may keep sending either form."""
    token = snapshot.tokens.get(hash_secret(key))
    if token is None and not key.startswith(KEY_PREFIX):
        token = snapshot.tokens.get(hash_secret(KEY_PREFIX + key))
    return token


def _authorize_scope(token: Token, user: User, scope: str) -> None:
    if not token.allows(scope):
        raise PermissionDenied(_WRONG_KEY[scope])
    if scope == ADMIN and not user.is_admin:
        raise PermissionDenied("the owner of this admin key is no longer an admin")


def authorize_model(caller: Caller, model: str) -> None:
    """Raise PermissionDenied if the key's or its user's plan's model allow-list excludes
    ``model``."""
    if caller.token.models and model not in caller.token.models:
        raise PermissionDenied(f"this API key may not use model {model!r}")
    if caller.plan is not None and not caller.plan.allows(model):
        raise PermissionDenied(f"the {caller.plan.name!r} plan does not include model {model!r}")


def _ip_allowed(client_ip: str | None, networks: tuple[Network, ...]) -> bool:
    if client_ip is None:
        return False
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return any(address in network for network in networks)
