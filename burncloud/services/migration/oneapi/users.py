"""Peer users as ours: name, role, group, status, balance, spend, invite code and inviter.

Roles: 1 (common) is a user, 10 (admin) and 100 (root) are admins; 0 (guest) has no
equivalent and becomes a user. Status 1 is enabled, 2 disabled; One API's 3 and New API's
``deleted_at`` mark deleted users, which are skipped. A balance (``quota``) and the spend
(``used_quota``) are converted from the peer's units; a negative balance (a debt the peer
let a request run into) is not carried. A name ours refuses (empty, all digits, longer than
64 characters, or taken) is fixed and the fix reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.model import UserSpec
from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.money import units_text, units_to_nano
from burncloud.services.migration.oneapi.options import clean_group
from burncloud.services.migration.oneapi.rows import Row, live, number, text
from burncloud.services.users import MAX_NAME_LENGTH, check_user_name

COLUMNS = (
    "id", "username", "role", "status", "quota", "used_quota", "group", "aff_code",
    "inviter_id", "aff_quota", "deleted_at",
)  # fmt: skip
ROLES = {1: "user", 10: "admin", 100: "admin"}
ONEAPI_DELETED = 3


@dataclass(frozen=True, slots=True)
class Users:
    """The users kept; their names and groups here by peer id; the balances carried, in
    the peer's units (for the money totals)."""

    specs: tuple[UserSpec, ...]
    names: Mapping[int, str]
    groups: Mapping[int, str]
    balances: tuple[int, ...]


def convert_users(rows: Iterable[Row], quota_per_unit: Decimal, found: Findings) -> Users:
    """Every live peer user as ours, inviters resolved by name."""
    kept, deleted = live(rows)
    gone = [row for row in kept if number(row, "status", 1) == ONEAPI_DELETED]
    if deleted or gone:
        found.skip("user", f"{deleted + len(gone)} rows", "deleted at the peer")
    kept = [row for row in kept if number(row, "status", 1) != ONEAPI_DELETED]
    taken: set[str] = set()
    names: dict[int, str] = {}
    specs: dict[int, UserSpec] = {}
    balances: list[int] = []
    for row in kept:
        uid = number(row, "id")
        names[uid] = _name(row, taken, found)
        taken.add(names[uid])
        specs[uid], balance = _user(row, names[uid], quota_per_unit, found)
        balances.append(balance)
    for row in kept:
        specs[number(row, "id")] = _with_inviter(specs[number(row, "id")], row, names, found)
    return Users(
        specs=tuple(specs.values()),
        names=names,
        groups={uid: spec.group for uid, spec in specs.items()},
        balances=tuple(balances),
    )


def _label(row: Row) -> str:
    return f"{text(row, 'username') or '(unnamed)'} #{number(row, 'id')}"


def _name(row: Row, taken: set[str], found: Findings) -> str:
    """The peer's user name, or the nearest one ours accepts (the fix reported)."""
    raw, uid = text(row, "username").strip(), number(row, "id")
    try:
        name, why = check_user_name(raw), ""
    except InvalidRequest as exc:
        name, why = _fixed_name(raw, uid), exc.message
    suffix, base = 1, name
    while name in taken:
        tail = f"-{uid}" if suffix == 1 else f"-{uid}-{suffix}"
        name, why, suffix = _with_tail(base, tail), "the name is taken", suffix + 1
    if why:
        found.map("user", _label(row), f"renamed {name!r}: {why}")
    return name


def _fixed_name(raw: str, uid: int) -> str:
    if not raw:
        return f"user-{uid}"
    if raw.isdigit():
        raw = f"user-{raw}"
    return _with_tail(raw, f"-{uid}") if len(raw) > MAX_NAME_LENGTH else raw


def _with_tail(name: str, tail: str) -> str:
    """``name`` + ``tail``, ``name`` cut so the whole fits a user name."""
    return name[: MAX_NAME_LENGTH - len(tail)] + tail


def _user(row: Row, name: str, quota_per_unit: Decimal, found: Findings) -> tuple[UserSpec, int]:
    """The user and the balance carried, in the peer's units."""
    label = _label(row)
    role_code = number(row, "role", 1)
    role = ROLES.get(role_code, "user")
    if role_code not in ROLES:
        found.skip("user", label, f"role {role_code} has no equivalent: imported as a user")
    status = number(row, "status", 1)
    if status not in (1, 2):
        found.skip("user", label, f"status {status} at the peer: imported disabled")
    group = clean_group(text(row, "group")) or "default"
    if text(row, "group").strip() not in ("", group):
        found.skip("user", label, f"group {text(row, 'group')!r} is not a group name: default")
    quota = number(row, "quota")
    if quota < 0:
        found.skip(
            "user",
            label,
            f"a negative balance of {units_text(quota, quota_per_unit)} is not carried",
        )
    balance = max(quota, 0)
    _report_affiliate_quota(row, label, quota_per_unit, found)
    spec = UserSpec(
        name=name,
        role=role,
        group=group,
        enabled=status == 1,
        balance=units_to_nano(balance, quota_per_unit).nano,
        used=units_to_nano(max(number(row, "used_quota"), 0), quota_per_unit).nano,
        invite_code=text(row, "aff_code").strip() or None,
    )
    found.map(
        "user", label, f"{role} {name} in {group}, balance {units_text(balance, quota_per_unit)}"
    )
    return spec, balance


def _report_affiliate_quota(row: Row, label: str, quota_per_unit: Decimal, found: Findings) -> None:
    pending = number(row, "aff_quota")
    if pending > 0:
        found.skip(
            "user",
            label,
            f"invitation rewards of {units_text(pending, quota_per_unit)} not yet moved to the"
            " balance at the peer are not carried (credit them with `quota add` if owed)",
        )


def _with_inviter(spec: UserSpec, row: Row, names: Mapping[int, str], found: Findings) -> UserSpec:
    inviter_id = number(row, "inviter_id")
    if not inviter_id:
        return spec
    inviter = names.get(inviter_id)
    if inviter is None:
        found.skip("user", _label(row), f"its inviter (user #{inviter_id}) is not imported")
        return spec
    return replace(spec, inviter=inviter)
