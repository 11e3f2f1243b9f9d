"""Peer channels as ours: type, key, base URL, models, groups, weight, priority, model
mapping and status; and the peer's ``abilities`` rows checked against what we will serve.

Names are made unique (a later channel with a taken name gets `` #<id>``). A New API
multi-key channel keeps the keys it used and how they took turns (``keys``), and New API's
tag becomes the channel's tag. A model
mapping entry whose source the channel does not list is dropped (it maps nothing there
either, as the peer routes only listed models). Status 1 is enabled; 2 (disabled by hand)
and 3 (disabled by the peer's health checks) are disabled here, 3 with a report line, as
the peer had stopped using its key.

The peers keep one ability row per (group, model) of a channel, enabled as the channel is;
here abilities always follow the channel, so a row that differs (disabled by itself, a
priority of its own, a pair the channel no longer lists) is reported, never copied.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from burncloud.errors import InvalidRequest
from burncloud.services.manifest.model import ChannelSpec
from burncloud.services.migration.oneapi.channel_types import PeerType, peer_type
from burncloud.services.migration.oneapi.findings import Findings
from burncloud.services.migration.oneapi.keys import carry_keys, peer_keys
from burncloud.services.migration.oneapi.options import clean_group
from burncloud.services.migration.oneapi.rows import Row, json_object, number, split_list, text

COLUMNS = (
    "id", "type", "key", "status", "name", "weight", "created_time", "base_url", "other",
    "models", "group", "model_mapping", "priority", "config", "system_prompt",
    "openai_organization", "status_code_mapping", "setting", "param_override",
    "header_override", "channel_info", "settings", "tag", "deleted_at",
)  # fmt: skip
ABILITY_COLUMNS = ("group", "model", "channel_id", "enabled", "priority")
ENABLED, MANUALLY_DISABLED, AUTO_DISABLED = 1, 2, 3
# Per-channel settings that change requests at the peer, and why each is not carried.
_NO_EQUIVALENT = "has no equivalent: not carried"
_NOT_CARRIED = {
    "system_prompt": ("its system prompt", _NO_EQUIVALENT),
    "openai_organization": ("its OpenAI organization", _NO_EQUIVALENT),
    "status_code_mapping": ("its status code mapping", _NO_EQUIVALENT),
    "param_override": (
        "its parameter overrides",
        "not carried (the peer's semantics differ): set them with"
        " burncloud channel update ID --set-param NAME=VALUE",
    ),
    "header_override": (
        "its header overrides",
        "not carried (the peer's semantics differ): set them with"
        " burncloud channel update ID --set-header NAME=VALUE",
    ),
    "setting": ("its extra settings", _NO_EQUIVALENT),
}


@dataclass(frozen=True, slots=True)
class Channels:
    """The channels kept, and each kept peer channel's name here by its peer id."""

    specs: tuple[ChannelSpec, ...]
    names: Mapping[int, str]


def convert_channels(
    rows: Iterable[Row], abilities: Iterable[Row] | None, flavor: str, found: Findings
) -> Channels:
    """Every peer channel we can serve, uniquely named; the rest reported. ``abilities``
    None: the peer has no abilities table to check against."""
    kept: list[tuple[int, ChannelSpec]] = []
    labels: dict[int, str] = {}
    for row in rows:
        spec = _channel(row, flavor, found)
        if spec is not None:
            kept.append((number(row, "id"), spec))
            labels[number(row, "id")] = _label(row)
    named = _unique(kept, found)
    if abilities is not None:
        _check_abilities(named, labels, abilities, found)
    return Channels(tuple(spec for _, spec in named), {cid: s.name for cid, s in named})


def _label(row: Row) -> str:
    return f"{text(row, 'name') or '(unnamed)'} #{number(row, 'id')}"


def _channel(row: Row, flavor: str, found: Findings) -> ChannelSpec | None:
    peer = peer_type(flavor, number(row, "type"))
    if peer.kind is None:
        found.skip("channel", _label(row), f"type {peer.code} ({peer.name}): {peer.reason}")
        return None
    said = Findings()  # kept only with the channel: a skipped one is one line
    try:
        spec = _spec(row, peer, flavor, said)
    except InvalidRequest as exc:
        found.skip("channel", _label(row), f"type {peer.code} ({peer.name}): {exc.message}")
        return None
    found.mapped.extend(said.mapped)
    found.skipped.extend(said.skipped)
    return spec


def _spec(row: Row, peer: PeerType, flavor: str, found: Findings) -> ChannelSpec:
    label = _label(row)
    keys = peer_keys(row, flavor, label, found)
    models = _models(row, label, found)
    groups = _groups(row, label, found)
    model_map = _model_map(row, models, label, found)
    carried = carry_keys(peer, row, flavor, keys, models, model_map, label, found)
    upstream = carried.upstream
    enabled = _enabled(row, label, found)
    _report_not_carried(row, label, found)
    spec = ChannelSpec(
        name=" ".join(text(row, "name").split()) or f"channel {number(row, 'id')}",
        type=str(peer.kind),
        models=tuple(models),
        base_url=upstream.base_url,
        keys=carried.keys,
        groups=tuple(groups),
        weight=max(number(row, "weight"), 0),
        priority=number(row, "priority"),
        model_map=upstream.model_map,
        config=upstream.config,
        enabled=enabled,
        key_selection=keys.selection,
        tags=_tags(row, label, found),
    )
    where = spec.base_url or "its default URL"
    said = "; ".join((f"{peer.name}, type {peer.code}", *upstream.said))
    state = "" if spec.enabled else ", disabled"
    serves = f"models {', '.join(spec.models)}; groups {', '.join(spec.groups)}{state}"
    if len(carried.keys) > 1:
        serves += f"; {len(carried.keys)} keys, {spec.key_selection}"
    found.map("channel", label, f"{spec.type} channel at {where} ({said}): {serves}")
    return spec


def _tags(row: Row, label: str, found: Findings) -> tuple[str, ...]:
    """New API's tag, when it can be a tag here."""
    tag = text(row, "tag").strip()
    if not tag:
        return ()
    if any(ch.isspace() or ch == "," for ch in tag):
        found.skip("channel", label, f"tag {tag!r}: a tag cannot hold spaces or commas")
        return ()
    return (tag,)


def _models(row: Row, label: str, found: Findings) -> list[str]:
    models = []
    for model in split_list(text(row, "models")):
        if any(ch.isspace() for ch in model):
            found.skip("channel", label, f"model {model!r}: a model name cannot hold spaces")
        else:
            models.append(model)
    if not models:
        raise InvalidRequest("the channel lists no models")
    return models


def _groups(row: Row, label: str, found: Findings) -> list[str]:
    groups = []
    for raw in split_list(text(row, "group")):
        name = clean_group(raw)
        if name is None:
            found.skip("channel", label, f"group {raw!r}: a group name cannot hold spaces")
        else:
            groups.append(name)
    return groups or ["default"]


def _model_map(row: Row, models: list[str], label: str, found: Findings) -> dict[str, str]:
    data = json_object(text(row, "model_mapping"))
    if data is None:
        found.skip("channel", label, "its model mapping is not a JSON object: not carried")
        return {}
    kept: dict[str, str] = {}
    for source, target in data.items():
        if not isinstance(target, str) or not target.strip() or not str(source).strip():
            found.skip("channel", label, f"model mapping {source!r}: not a model name")
        elif source not in models:
            found.skip(
                "channel",
                label,
                f"model mapping {source} -> {target}: the channel does not list {source}",
            )
        else:
            kept[source] = target.strip()
    return kept


def _enabled(row: Row, label: str, found: Findings) -> bool:
    status = number(row, "status", ENABLED)
    if status == AUTO_DISABLED:
        found.skip(
            "channel",
            label,
            "disabled by the peer's health checks: imported disabled (check its key)",
        )
    elif status not in (ENABLED, MANUALLY_DISABLED):
        found.skip("channel", label, f"status {status} at the peer: imported disabled")
    return status == ENABLED


def _report_not_carried(row: Row, label: str, found: Findings) -> None:
    for column, (what, why) in _NOT_CARRIED.items():
        value = text(row, column).strip()
        data = json_object(value) if value.startswith("{") else None
        if data is not None:  # a JSON object of settings: only those set say something
            value = ", ".join(sorted(name for name, item in data.items() if item))
        if value and value not in ("null", "[]"):
            found.skip("channel", label, f"{what} ({_cut(value)}) {why}")


def _cut(value: str, most: int = 60) -> str:
    return value if len(value) <= most else value[: most - 3] + "..."


def _unique(kept: list[tuple[int, ChannelSpec]], found: Findings) -> list[tuple[int, ChannelSpec]]:
    """The channels with names made unique: the first keeps a name, later ones get
    `` #<peer id>`` (and a report line)."""
    taken: set[str] = set()
    named = []
    for cid, spec in sorted(kept, key=lambda pair: pair[0]):
        name = spec.name
        if name in taken:
            name = f"{spec.name} #{cid}"
            suffix = 2
            while name in taken:
                name, suffix = f"{spec.name} #{cid}-{suffix}", suffix + 1
            found.map("channel", f"{spec.name} #{cid}", f"renamed {name!r}: the name is taken")
            spec = replace(spec, name=name)
        taken.add(name)
        named.append((cid, spec))
    return named


def _check_abilities(
    named: list[tuple[int, ChannelSpec]],
    labels: Mapping[int, str],
    abilities: Iterable[Row],
    found: Findings,
) -> None:
    rows: dict[int, list[Row]] = defaultdict(list)
    for ability in abilities:
        rows[number(ability, "channel_id")].append(ability)
    for cid, spec in named:
        for line in _ability_differences(spec, rows.get(cid, [])):
            found.skip("channel", labels[cid], line)


_NOT_LISTED = "abilities at the peer for what the channel does not list here (not carried)"
_BY_THEMSELVES = "abilities {state} by themselves at the peer (here they follow the channel)"
_OWN_PRIORITY = "abilities with a priority of their own at the peer (here the channel's)"
_NO_ROW = "served here, though the peer had no ability row for them"


def _ability_differences(spec: ChannelSpec, rows: list[Row]) -> list[str]:
    ours = {(group, model) for group in spec.groups for model in spec.models}
    theirs = {(text(row, "group"), text(row, "model")): row for row in rows}
    buckets: dict[str, list[str]] = defaultdict(list)
    for pair, row in sorted(theirs.items()):
        where = "/".join(pair)
        if pair not in ours:
            buckets[_NOT_LISTED].append(where)
            continue
        if bool(number(row, "enabled")) != spec.enabled:
            state = "disabled" if spec.enabled else "enabled"
            buckets[_BY_THEMSELVES.format(state=state)].append(where)
        if row.get("priority") is not None and number(row, "priority") != spec.priority:
            buckets[_OWN_PRIORITY].append(f"{where}={number(row, 'priority')}")
    missing = sorted("/".join(pair) for pair in ours - set(theirs))
    if missing:
        buckets[_NO_ROW] = missing
    return [f"{what}: {', '.join(pairs)}" for what, pairs in buckets.items()]


def dangling_abilities(abilities: Iterable[Row], channel_ids: Iterable[int]) -> int:
    """How many ability rows name a channel the peer no longer has."""
    known = set(channel_ids)
    return sum(1 for row in abilities if number(row, "channel_id") not in known)
