"""What a channel supports, per model: the ``channel_capabilities`` table, the operator's
specs, and the resolved view routing reads.

The names, as ``channel show`` lists them and ``--capability`` takes them:

- ``stream_usage``: a stream reports its usage when asked (``stream_options.include_usage``)
- ``tools``: function tools (the answer may call one)
- ``parallel_tools``: several tool calls in one answer (``parallel_tool_calls``)
- ``vision``: image input
- ``json_schema``: output held to a JSON schema (``response_format`` ``json_schema``)
- ``reasoning``: reasoning on request (``reasoning_effort``, a ``thinking`` budget)
- ``context``: the most prompt tokens the model takes

A spec is ``NAME=VALUE`` for every model of the channel or ``MODEL:NAME=VALUE`` for one
model as the channel lists it (the name follows the last ``:``, so Bedrock and Ollama ids
holding ``:`` work). A boolean is true/false (yes/no, on/off, 1/0), ``context`` a token
count (128000, 128k, 1m); ``auto`` removes the entry (what the probe measured, or nothing,
applies again).

Which value applies, first found: the operator's for the model, the operator's for every
model, the probe's for the model, the probe's for every model. A capability nobody
recorded is unknown, and routing counts it as supported: a channel is never refused on a
guess. Every change is audited on the channel and moves the config version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from burncloud.db.base import Database, Executor, Row
from burncloud.errors import InvalidRequest
from burncloud.services.audit import record_change
from burncloud.services.channels import get_channel
from burncloud.services.clock import now
from burncloud.services.settings import bump_config_version

Value = bool | int
BOOLEANS = ("stream_usage", "tools", "parallel_tools", "vision", "json_schema", "reasoning")
CONTEXT = "context"
NAMES = (*BOOLEANS, CONTEXT)
OPERATOR, PROBE = "operator", "probe"
SOURCES = (OPERATOR, PROBE)
EVERY_MODEL = ""  # the model column of a channel-wide row
AUTO = "auto"
MAX_CONTEXT = 100_000_000
# What a request loses on a channel without the capability (the route trace's words).
LACKS = {
    "stream_usage": "no usage in streams",
    "tools": "no tool calls",
    "parallel_tools": "no parallel tool calls",
    "vision": "no image input",
    "json_schema": "no JSON schema output",
    "reasoning": "no reasoning",
}
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_SCALES = {"k": 1_000, "m": 1_000_000}
SPEC_FORMS = "NAME=VALUE or MODEL:NAME=VALUE (e.g. vision=false, gpt-4o:context=128k)"


@dataclass(frozen=True, slots=True)
class CapabilitySpec:
    """One entry to write: ``value`` None removes it (``auto``)."""

    model: str  # EVERY_MODEL for the whole channel
    name: str
    value: Value | None


@dataclass(frozen=True, slots=True)
class CapabilityRow:
    """One stored entry."""

    model: str
    name: str
    value: Value
    source: str
    measured_at: int

    @property
    def label(self) -> str:
        """``vision`` or ``gpt-4o:vision``, as a spec names it."""
        return f"{self.model}:{self.name}" if self.model else self.name

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model or None,
            "name": self.name,
            "value": self.value,
            "source": self.source,
            "measured_at": self.measured_at,
        }


@dataclass(frozen=True, slots=True)
class Needs:
    """What a request uses: boolean capabilities (in ``BOOLEANS`` order) and its prompt's
    tokens, estimated low (0: not checked)."""

    names: tuple[str, ...] = ()
    context: int = 0

    def __bool__(self) -> bool:
        return bool(self.names) or self.context > 0


NO_NEEDS = Needs()


@dataclass(frozen=True, slots=True)
class ChannelCapabilities:
    """A channel's capabilities resolved for routing: each model with rows of its own has
    its dict, every other model the channel-wide one."""

    models: Mapping[str, Mapping[str, Value]]
    every: Mapping[str, Value]

    def of(self, model: str) -> Mapping[str, Value]:
        """What is known of ``model`` on this channel (absent: unknown)."""
        return self.models.get(model, self.every)

    def unmet(self, model: str, needs: Needs) -> Shortfall | None:
        """What rules out a request of ``model`` with ``needs`` on this channel, or None."""
        return unmet(self.of(model), needs)


NO_CAPABILITIES = ChannelCapabilities({}, {})


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A need a channel does not meet: a capability it lacks, or its ``context``."""

    name: str
    limit: int | None = None  # the channel's context, for ``context``
    tokens: int = 0  # the prompt's estimate, for ``context``

    @property
    def reason(self) -> str:
        """The route trace's words: ``no image input (vision=false)``."""
        if self.name == CONTEXT:
            return f"prompt of about {self.tokens} tokens is over its context of {self.limit}"
        return f"{LACKS[self.name]} ({self.name}=false)"


def unmet(known: Mapping[str, Value], needs: Needs) -> Shortfall | None:
    """The first need ``known`` says is unsupported; None when every need is supported or
    unknown."""
    if not known:
        return None
    for name in needs.names:
        if known.get(name) is False:
            return Shortfall(name)
    limit = known.get(CONTEXT)
    if needs.context and type(limit) is int and needs.context > limit:
        return Shortfall(CONTEXT, limit, needs.context)
    return None


def parse_needs(names: Iterable[str], context: int | None = None) -> Needs:
    """Needs from capability names (``route dry-run --needs vision,tools``) and a prompt
    size; InvalidRequest naming an unknown one."""
    wanted = {name.strip() for name in names if name.strip()}
    unknown = sorted(wanted - set(BOOLEANS))
    if unknown:
        raise InvalidRequest(f"unknown need {unknown[0]!r}: use some of {', '.join(BOOLEANS)}")
    if context is not None and context < 0:
        raise InvalidRequest("the context size must be 0 or more tokens")
    return Needs(tuple(name for name in BOOLEANS if name in wanted), context or 0)


def parse_spec(text: str) -> CapabilitySpec:
    """``[MODEL:]NAME=VALUE`` as a spec; InvalidRequest with the accepted forms."""
    target, equals, raw = text.partition("=")
    model, _, name = target.strip().rpartition(":")
    name, model = name.strip(), model.strip()
    if not equals or not name:
        raise InvalidRequest(f"invalid capability {text!r}: use {SPEC_FORMS}")
    if name not in NAMES:
        raise InvalidRequest(f"unknown capability {name!r}: use one of {', '.join(NAMES)}")
    return CapabilitySpec(model, name, parse_value(name, raw))


def parse_specs(texts: Iterable[str]) -> list[CapabilitySpec]:
    """Every spec of ``texts``; the last one for the same model and name wins."""
    found = {(spec.model, spec.name): spec for spec in map(parse_spec, texts)}
    return list(found.values())


def parse_value(name: str, text: str) -> Value | None:
    """The value of capability ``name`` written as ``text``; None for ``auto``."""
    word = text.strip().lower()
    if word == AUTO:
        return None
    if name != CONTEXT:
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
        raise InvalidRequest(f"{name} must be true or false (or auto), not {text.strip()!r}")
    scale = _SCALES.get(word[-1:], 1)
    digits = word[:-1] if scale > 1 else word
    if not digits.isdigit() or not 1 <= int(digits) * scale <= MAX_CONTEXT:
        raise InvalidRequest(
            f"context must be a token count from 1 to {MAX_CONTEXT} (128000, 128k, 1m) or auto,"
            f" not {text.strip()!r}"
        )
    return int(digits) * scale


def value_text(value: Value) -> str:
    """A value as stored and shown: true, false or the token count."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _read_value(name: str, text: str) -> Value | None:
    """A stored value; None (ignored) for one no release writes."""
    try:
        return parse_value(name, text)
    except InvalidRequest:
        return None


async def capability_rows(db: Executor, channel_id: int) -> list[CapabilityRow]:
    """The stored entries of channel ``channel_id``, by model, then name, then source."""
    return [row for _, row in await _rows(db, channel_id)]


async def _rows(db: Executor, channel_id: int | None) -> list[tuple[int, CapabilityRow]]:
    where, params = (
        ("", {}) if channel_id is None else (" WHERE channel_id = :id", {"id": channel_id})
    )
    found = await db.fetch_all(
        "SELECT channel_id, model, name, value, source, measured_at FROM channel_capabilities"
        f"{where} ORDER BY channel_id, model, name, source",
        params,
    )
    return [(row["channel_id"], entry) for row in found if (entry := _entry(row)) is not None]


def _entry(row: Row) -> CapabilityRow | None:
    if row["name"] not in NAMES or row["source"] not in SOURCES:
        return None
    value = _read_value(row["name"], row["value"])
    if value is None:
        return None
    return CapabilityRow(row["model"], row["name"], value, row["source"], row["measured_at"])


async def load_capabilities(db: Executor) -> dict[int, ChannelCapabilities]:
    """Every channel's resolved capabilities, by channel id (a channel without entries is
    absent: ``NO_CAPABILITIES``)."""
    by_channel: dict[int, list[CapabilityRow]] = {}
    for channel_id, row in await _rows(db, None):
        by_channel.setdefault(channel_id, []).append(row)
    return {channel_id: resolve(rows) for channel_id, rows in by_channel.items()}


def resolve(rows: Iterable[CapabilityRow]) -> ChannelCapabilities:
    """The routing view of one channel's entries (see the module's order of precedence)."""
    layers: dict[tuple[str, str], dict[str, Value]] = {}
    for row in rows:
        layers.setdefault((row.source, row.model), {})[row.name] = row.value
    probe_every = layers.get((PROBE, EVERY_MODEL), {})
    operator_every = layers.get((OPERATOR, EVERY_MODEL), {})
    every = {**probe_every, **operator_every}
    models = {model for _, model in layers if model != EVERY_MODEL}
    return ChannelCapabilities(
        {
            model: {
                **probe_every,
                **layers.get((PROBE, model), {}),
                **operator_every,
                **layers.get((OPERATOR, model), {}),
            }
            for model in sorted(models)
        },
        every,
    )


async def set_capabilities(
    db: Database,
    channel_id: int,
    specs: Sequence[CapabilitySpec],
    source: str = OPERATOR,
    *,
    replace: bool = False,
) -> list[CapabilityRow]:
    """Write ``specs`` as ``source``'s entries of channel ``channel_id`` (a None value
    removes one; ``replace``: they become all of ``source``'s entries), audited, and move
    the config version; the channel's entries after it. A spec's model must be one of the
    channel's."""
    if source not in SOURCES:
        raise ValueError(f"unknown capability source {source!r}")
    if not specs and not replace:
        raise InvalidRequest(f"no capability given: use {SPEC_FORMS}")
    async with db.transaction() as tx:
        channel = await get_channel(tx, channel_id)
        for spec in specs:
            _check_model(spec.model, channel.models, channel_id)
        before = await capability_rows(tx, channel_id)
        if replace:
            await tx.execute(
                "DELETE FROM channel_capabilities WHERE channel_id = :id AND source = :source",
                {"id": channel_id, "source": source},
            )
        at = now()
        for spec in specs:
            await _write(tx, channel_id, spec, source, at)
        return await _finish(tx, channel_id, channel.name, before)


async def clear_capabilities(
    db: Database, channel_id: int, source: str | None = None, model: str | None = None
) -> list[CapabilityRow]:
    """Remove channel ``channel_id``'s entries (of ``source`` and ``model`` when given),
    audited; the entries left."""
    async with db.transaction() as tx:
        channel = await get_channel(tx, channel_id)
        before = await capability_rows(tx, channel_id)
        params: dict[str, int | str] = {"id": channel_id}
        where = ["channel_id = :id"]
        for column, value in (("source", source), ("model", model)):
            if value is not None:
                where.append(f"{column} = :{column}")
                params[column] = value
        await tx.execute(f"DELETE FROM channel_capabilities WHERE {' AND '.join(where)}", params)
        return await _finish(tx, channel_id, channel.name, before)


def _check_model(model: str, models: Sequence[str], channel_id: int) -> None:
    if model != EVERY_MODEL and model not in models:
        raise InvalidRequest(
            f"channel {channel_id} does not serve model {model!r}: its models are"
            f" {', '.join(models) or 'none'}"
        )


async def _write(tx: Executor, channel_id: int, spec: CapabilitySpec, source: str, at: int) -> None:
    key = {"id": channel_id, "model": spec.model, "name": spec.name, "source": source}
    if spec.value is None:
        await tx.execute(
            "DELETE FROM channel_capabilities WHERE channel_id = :id AND model = :model"
            " AND name = :name AND source = :source",
            key,
        )
        return
    await tx.execute(
        "INSERT INTO channel_capabilities (channel_id, model, name, value, source, measured_at)"
        " VALUES (:id, :model, :name, :value, :source, :t)"
        " ON CONFLICT (channel_id, model, name, source)"
        " DO UPDATE SET value = excluded.value, measured_at = excluded.measured_at",
        {**key, "value": value_text(spec.value), "t": at},
    )


async def _finish(
    tx: Executor, channel_id: int, name: str, before: list[CapabilityRow]
) -> list[CapabilityRow]:
    """Audit the change on the channel and announce it; the entries now."""
    after = await capability_rows(tx, channel_id)
    await record_change(tx, "channel", channel_id, name, _audited(before), _audited(after))
    await bump_config_version(tx)
    return after


def _audited(rows: Iterable[CapabilityRow]) -> dict[str, str]:
    """Entries as audit fields: ``capability gpt-4o:vision`` (operator), ``probed ...``."""
    kind = {OPERATOR: "capability", PROBE: "probed"}
    return {f"{kind[row.source]} {row.label}": value_text(row.value) for row in rows}


def describe(rows: Sequence[CapabilityRow]) -> list[str]:
    """Lines for ``channel show``: one per model (every model first), each entry with who
    set it; the probe's overridden by the operator's are left out."""
    if not rows:
        return ["none recorded (unknown capabilities count as supported)"]
    shown: dict[str, dict[str, CapabilityRow]] = {}
    for row in sorted(rows, key=lambda r: r.source == OPERATOR):  # the operator's last: wins
        shown.setdefault(row.model, {})[row.name] = row
    return [
        f"{model or 'every model'}: "
        + ", ".join(_entry_text(entries[n]) for n in NAMES if n in entries)
        for model, entries in sorted(shown.items())
    ]


def _entry_text(row: CapabilityRow) -> str:
    when = datetime.fromtimestamp(row.measured_at, UTC).strftime("%Y-%m-%d")
    who = "set" if row.source == OPERATOR else f"probed {when}"
    return f"{row.name}={value_text(row.value)} ({who})"
