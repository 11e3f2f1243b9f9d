"""A peer channel's keys as ours: every key it used, and how its keys took turns.

New API's multi-key channels (``channel_info.is_multi_key``, ``model/channel.go``) keep
their keys one per line in ``key`` (a JSON array for Vertex AI's JSON credentials), each
with a status in ``channel_info.multi_key_status_list`` (key index -> 1 enabled, 2
disabled by hand, 3 disabled by its health checks; a key not listed is enabled; the reason
in ``multi_key_disabled_reason``) and a ``multi_key_mode``: ``random``, or ``polling``
(each enabled key in turn). Such a channel becomes one channel with the keys the peer
still used, its ``key_selection`` random or round-robin; a key the peer had disabled is
reported and left behind, unless none is enabled (then all are carried, and the channel's
own status says whether it serves: New API disables a channel whose last key goes).

One API has no multi-key channels: a channel added with several keys, one per line,
becomes one channel per key (``controller/channel.go`` ``AddChannel``), and its relay
sends a channel's ``key`` as it is. A key field that still holds several lines (an edit
can leave them; New API outside multi-key mode also sends the whole text) never worked
at the peer: its lines are carried as the channel's keys, used at random, and reported.

Each key goes through the kind's rules (``kinds.upstream_for``: an AWS ``AK|SK|region``
becomes ``AK:SK`` and the region a config entry); a key that needs other settings than
the first usable one (another region) cannot share its channel and is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from burncloud.crypto import mask_secret
from burncloud.errors import InvalidRequest
from burncloud.services.channel_types import clean_key
from burncloud.services.migration.oneapi.channel_types import PeerType
from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.kinds import Upstream, upstream_for
from burncloud.services.migration.oneapi.rows import Row, json_object, text

KEY_ENABLED, KEY_DISABLED, KEY_AUTO_DISABLED = 1, 2, 3
SELECTIONS = {"random": "random", "polling": "round-robin"}  # New API's mode -> ours
_OTHER_SETTINGS = (
    "it needs other settings (such as another region) than the channel's first key;"
    " add it as a channel of its own"
)


@dataclass(frozen=True, slots=True)
class PeerKeys:
    """The keys a channel carries (as the peer stores them) and how they take turns."""

    keys: tuple[str, ...]
    selection: str = "random"


@dataclass(frozen=True, slots=True)
class Carried:
    """The channel's upstream (from its first usable key) and its keys in our form."""

    upstream: Upstream
    keys: tuple[str, ...]


def peer_keys(row: Row, flavor: str, label: str, found: Findings) -> PeerKeys:
    """The keys of a peer channel it used, and their selection; InvalidRequest when it
    has none."""
    keys = split_peer_keys(text(row, "key"))
    if not keys:
        raise InvalidRequest("the channel has no key")
    info = json_object(text(row, "channel_info")) or {}
    if flavor == "newapi" and info.get("is_multi_key") is True:
        return _multi_key(keys, info, label, found)
    if len(keys) > 1:
        found.map(
            "channel",
            label,
            f"its key holds {len(keys)} keys, one per line, which the peer sends as one key"
            f" (not a multi-key channel there): imported as {len(keys)} keys, used at random",
        )
    return PeerKeys(tuple(keys))


def split_peer_keys(value: str) -> list[str]:
    """New API's GetKeys: a JSON array of keys, else one key per line."""
    if value.lstrip().startswith("["):
        try:
            data = json.loads(value)
        except ValueError:
            return []
        if not isinstance(data, list):
            return []
        return [str(item).strip() for item in data if str(item).strip()]
    return [line.strip() for line in value.splitlines() if line.strip()]


def carry_keys(
    peer: PeerType,
    row: Row,
    flavor: str,
    keys: PeerKeys,
    models: list[str],
    model_map: dict[str, str],
    label: str,
    found: Findings,
) -> Carried:
    """The upstream of the channel's first usable key, and every key that shares it, in
    our form; InvalidRequest (the first key's reason) when no key is usable."""
    first: Upstream | None = None
    ours: dict[str, int] = {}
    refused: list[tuple[int, str, InvalidRequest]] = []
    for n, key in enumerate(keys.keys, 1):
        try:
            upstream = upstream_for(peer, row, flavor, clean_key(key), models, model_map)
        except InvalidRequest as exc:
            refused.append((n, key, exc))
            continue
        first = first or upstream
        if _settings(upstream) != _settings(first):
            _left(found, label, n, key, _OTHER_SETTINGS)
        elif upstream.key in ours:
            _left(found, label, n, key, f"the same key as key {ours[upstream.key]}")
        else:
            ours[upstream.key] = n
    if first is None:
        raise refused[0][2]
    for n, key, refusal in refused:
        _left(found, label, n, key, refusal.message)
    return Carried(first, tuple(ours))


def _multi_key(keys: list[str], info: dict[str, Any], label: str, found: Findings) -> PeerKeys:
    mode = str(info.get("multi_key_mode") or "")
    selection = SELECTIONS.get(mode)
    if selection is None:
        said = f"multi-key mode {mode!r}" if mode else "no multi-key mode (its first enabled key)"
        found.skip("channel", label, f"{said} has no equivalent: its keys are used at random")
    statuses = _by_index(info.get("multi_key_status_list"))
    reasons = _by_index(info.get("multi_key_disabled_reason"))
    enabled = [key for n, key in enumerate(keys) if statuses.get(n, KEY_ENABLED) == KEY_ENABLED]
    if not enabled:
        found.skip("channel", label, f"every key is disabled at the peer: all {len(keys)} carried")
        return PeerKeys(tuple(keys), selection or "random")
    for n, key in enumerate(keys):
        status = statuses.get(n, KEY_ENABLED)
        if status != KEY_ENABLED:
            how = "by hand" if status == KEY_DISABLED else "by its health checks"
            reason = " ".join(str(reasons.get(n) or "").split())[:80]
            said = f"disabled {how} at the peer" + (f" ({reason})" if reason else "")
            _left(found, label, n + 1, key, said)
    return PeerKeys(tuple(enabled), selection or "random")


def _by_index(value: Any) -> dict[int, Any]:
    """A JSON object keyed by key index (its keys are text in JSON)."""
    if not isinstance(value, dict):
        return {}
    found: dict[int, Any] = {}
    for index, item in value.items():
        try:
            found[int(index)] = item
        except (TypeError, ValueError):
            continue
    return found


def _settings(upstream: Upstream) -> tuple[object, ...]:
    return upstream.base_url, upstream.config, upstream.model_map


def _left(found: Findings, label: str, n: int, key: str, why: str) -> None:
    found.skip("channel", label, f"key {n} ({mask_secret(key)}) not carried: {why}")
