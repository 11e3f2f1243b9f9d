"""Peer tokens as ours, with their keys kept valid, and unused redemption codes.

The peers store a token's key without the ``sk-`` clients send; we keep the SHA-256 of
``sk-`` + key (``crypto.hash_secret``) and its masked hint, so the key a client has works
here. Remaining quota (or the unlimited flag), expiry (-1: never), spend, model limits
(One API ``models``; New API ``model_limits`` when ``model_limits_enabled``) and IP limits
(One API ``subnet``, comma-separated; New API ``allow_ips``, one per line) carry over; IP
entries become CIDR networks as the peers read them (host bits dropped). Status 2
(disabled) is a revoked token; 3 (expired) and 4 (exhausted) stay active, as their expiry
or quota already refuses them. A user's second token of a name gets `` #<peer id>``.

Redemption codes are carried only while unused (status 1) and not expired, as the SHA-256
of the code (``redemptions.redeem`` looks codes up by it) with the masked code as a hint.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from burncloud.crypto import hash_secret, mask_secret
from burncloud.money import UNLIMITED
from burncloud.services.manifest.model import RedemptionSpec, TokenSpec
from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.money import units_text, units_to_nano
from burncloud.services.migration.oneapi.rows import Row, flag, live, number, split_list, text

COLUMNS = (
    "id", "user_id", "key", "status", "name", "expired_time", "remain_quota",
    "unlimited_quota", "used_quota", "models", "subnet", "model_limits_enabled",
    "model_limits", "allow_ips", "group", "deleted_at",
)  # fmt: skip
REDEMPTION_COLUMNS = ("id", "key", "status", "name", "quota", "expired_time", "deleted_at")
ACTIVE, DISABLED, EXPIRED, EXHAUSTED = 1, 2, 3, 4
CLIENT_PREFIX = "sk-"


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens kept; each one's (user, name) here by peer id, and by (peer user id,
    peer name) where that pair names one token (One API's logs name tokens so); the
    limited quotas carried, in the peer's units."""

    specs: tuple[TokenSpec, ...]
    names: Mapping[int, tuple[str, str]]
    by_peer_name: Mapping[tuple[int, str], tuple[str, str]]
    quotas: tuple[int, ...]


def convert_tokens(
    rows: Iterable[Row],
    users: Mapping[int, str],
    groups: Mapping[int, str],
    quota_per_unit: Decimal,
    found: Findings,
    now: int,
) -> Tokens:
    """Every live token of an imported user, names unique per user."""
    kept, deleted = live(rows)
    if deleted:
        found.skip("token", f"{deleted} rows", "deleted at the peer")
    taken: set[tuple[str, str]] = set()
    specs: list[TokenSpec] = []
    names: dict[int, tuple[str, str]] = {}
    quotas: list[int] = []
    by_peer_name: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for row in kept:
        label = _label(row)
        user = users.get(number(row, "user_id"))
        if user is None:
            found.skip("token", label, "its user is not imported")
            continue
        if not text(row, "key").strip():
            found.skip("token", label, "it has no key")
            continue
        name = _name(row, user, taken, found)
        spec, quota = _token(row, user, name, quota_per_unit, now, found)
        _report_group(row, groups.get(number(row, "user_id"), ""), found)
        taken.add((user, name))
        specs.append(spec)
        names[number(row, "id")] = (user, name)
        by_peer_name.setdefault((number(row, "user_id"), text(row, "name")), []).append(
            (user, name)
        )
        quotas.extend([] if quota is None else [quota])
    unique = {pair: named[0] for pair, named in by_peer_name.items() if len(named) == 1}
    return Tokens(tuple(specs), names, unique, tuple(quotas))


def _label(row: Row) -> str:
    return f"{text(row, 'name') or '(unnamed)'} #{number(row, 'id')}"


def _name(row: Row, user: str, taken: set[tuple[str, str]], found: Findings) -> str:
    name = text(row, "name").strip() or f"token {number(row, 'id')}"
    if (user, name) in taken:
        renamed = f"{name} #{number(row, 'id')}"
        found.map("token", f"{user}/{_label(row)}", f"renamed {renamed!r}: {user} has a {name!r}")
        return renamed
    return name


def _token(
    row: Row, user: str, name: str, quota_per_unit: Decimal, now: int, found: Findings
) -> tuple[TokenSpec, int | None]:
    """The token, and its remaining quota in units when limited."""
    where = f"{user}/{name}"
    key = CLIENT_PREFIX + text(row, "key").strip()
    units = None if flag(row, "unlimited_quota") else max(number(row, "remain_quota"), 0)
    quota = UNLIMITED if units is None else units_to_nano(units, quota_per_unit).nano
    ips, ips_ok = _ips(row, where, found)
    models, models_ok = _models(row, where, found)
    active = _active(row, where, now, found) and ips_ok and models_ok
    spec = TokenSpec(
        user=user,
        name=name,
        quota=quota,
        used=units_to_nano(max(number(row, "used_quota"), 0), quota_per_unit).nano,
        expires_at=_expiry(row),
        models=models,
        ips=ips,
        active=active,
        key_sha256=hash_secret(key),
        key_hint=mask_secret(key, visible_prefix=7),
    )
    left = "unlimited" if units is None else units_text(units, quota_per_unit)
    found.map("token", where, f"key kept ({spec.key_hint}), quota {left}")
    return spec, units


def _expiry(row: Row) -> int | None:
    expires = number(row, "expired_time", -1)
    return None if expires == -1 else expires


def _active(row: Row, where: str, now: int, found: Findings) -> bool:
    status = number(row, "status", ACTIVE)
    expires = _expiry(row)
    if status == DISABLED:
        return False
    if status == EXPIRED or (expires is not None and expires <= now):
        found.skip("token", where, "expired at the peer: imported with its expiry (refused)")
    elif status == EXHAUSTED:
        found.skip("token", where, "exhausted at the peer: imported with its quota (refused)")
    elif status != ACTIVE:
        found.skip("token", where, f"status {status} at the peer: imported active")
    return True


def _models(row: Row, where: str, found: Findings) -> tuple[tuple[str, ...], bool]:
    """One API's ``models``, or New API's ``model_limits`` when enabled (none: every model),
    and False when the peer limited the token to models none of which can be named here
    (an empty list would allow every model: the token is revoked instead)."""
    if "model_limits" in row or "model_limits_enabled" in row:
        listed = split_list(text(row, "model_limits")) if flag(row, "model_limits_enabled") else []
    else:
        listed = split_list(text(row, "models"))
    kept = tuple(model for model in listed if not any(ch.isspace() for ch in model))
    for model in listed:
        if model not in kept:
            found.skip("token", where, f"model limit {model!r}: a model name cannot hold spaces")
    if listed and not kept:
        found.skip("token", where, "none of its model limits can be kept: imported revoked")
        return (), False
    return kept, True


def _ips(row: Row, where: str, found: Findings) -> tuple[tuple[str, ...], bool]:
    """The IP limits as networks, and False when the peer had limits none of which is
    valid (it refused every address: the token is revoked here)."""
    entries = split_list(text(row, "subnet") + "\n" + text(row, "allow_ips"), ",\n\r ")
    networks: list[str] = []
    for entry in entries:
        try:
            network = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            found.skip("token", where, f"IP limit {entry!r} is not an address or network: dropped")
            continue
        if network not in networks:
            networks.append(network)
    if entries and not networks:
        found.skip("token", where, "no IP limit is valid: the peer refused every address; revoked")
        return (), False
    return tuple(networks), True


def _report_group(row: Row, user_group: str, found: Findings) -> None:
    group = text(row, "group").strip()
    if group and group != user_group:
        found.skip(
            "token",
            _label(row),
            f"its own group {group!r} has no equivalent: it bills at its user's group here",
        )


def convert_redemptions(
    rows: Iterable[Row], quota_per_unit: Decimal, found: Findings, now: int
) -> tuple[tuple[RedemptionSpec, ...], tuple[int, ...]]:
    """The unused, unexpired codes, and their quotas in the peer's units."""
    kept, deleted = live(rows)
    codes: list[RedemptionSpec] = []
    units: list[int] = []
    spent = sum(1 for row in kept if number(row, "status", ACTIVE) != ACTIVE)
    if deleted or spent:
        found.skip(
            "redemption", f"{deleted + spent} codes", "used, disabled or deleted at the peer"
        )
    for row in kept:
        if number(row, "status", ACTIVE) != ACTIVE:
            continue
        code, quota, label = text(row, "key").strip(), number(row, "quota"), _label(row)
        expires = number(row, "expired_time")
        if not code or quota < 0:
            found.skip("redemption", label, "no code or a negative quota")
        elif 0 < expires <= now:
            found.skip("redemption", label, "expired at the peer")
        else:
            if expires > 0:
                found.skip("redemption", label, f"its expiry ({expires}) has no equivalent")
            codes.append(
                RedemptionSpec(
                    hash_secret(code), units_to_nano(quota, quota_per_unit).nano, mask_secret(code)
                )
            )
            units.append(quota)
            found.map("redemption", label, units_text(quota, quota_per_unit))
    return tuple(codes), tuple(units)
