"""A channel's values in the manifest file beyond the common readers (``fields``): its keys,
its intervals and caps, and its overrides' JSON; read and written here, so the two agree.

Keys. ``key: K`` is one key, ``keys: [K1, K2]`` several. Either text may hold several
keys, one per line: that is how one ``${VAR}`` reference carries every key of a channel
(``--secrets env`` writes ``key: ${BURNCLOUD_CHANNEL_<NAME>_KEY}`` for each channel, and the
variable holds its keys one per line, e.g. ``export VAR="$(cat keys.txt)"``). A key never
holds whitespace, so a line is a key; blank lines are skipped and a key given twice is
refused. ``--secrets plain`` writes ``key`` for a channel with one key and ``keys`` for
one with several; ``omit`` writes neither.

Intervals (``auto_sync``, ``balance_every``): whole seconds, or a number and s, m, h or d
(``24h``, as ``channel update --auto-sync`` takes them); ``never`` or 0 is off. They are
written in the largest unit that divides them (``86400`` as ``1d``).

Overrides: the JSON object stored in ``channels.overrides``, kept as it is (its rules are
``channel_overrides``'s, applied when the manifest is planned). Numbers the file gives
are exact decimals; one written without a point or exponent is a JSON integer, any other
a float; a float that is a whole number is written as one (``2.0`` as ``2``, what JSON
means alike), so an exported object reads back as the same JSON, and a plan compares
numbers by value. A header override whose name
marks it a credential (``Authorization``, ``X-Api-Key``: ``channel_overrides``'
``SECRET_HEADER_WORDS``) is a secret like a key: ``--secrets plain`` writes its value,
``omit`` and ``env`` write ``null``, which apply reads as "the value the channel has"
(a channel that has none is refused, naming the header).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.services.channel_overrides import SECRET_HEADER_WORDS
from burncloud.services.channel_types import clean_key, clean_names
from burncloud.services.manifest.env_refs import field_path, item_path
from burncloud.services.manifest.fields import NEVER, Entry, expected, items, mapping, shown
from burncloud.services.manifest.model import ChannelSpec
from burncloud.services.stats import parse_window

HEADERS = "set_headers"  # the overrides' part whose values may be credentials
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_MAX_DIGITS = 6  # parse_window's numbers
_INT_RANGE = range(-(2**63), 2**64)  # the whole numbers JSON here carries exactly (orjson's)


def split_keys(text: str) -> list[str]:
    """The keys of a text holding one per line (blank lines skipped), each checked."""
    return [clean_key(line) for line in text.splitlines() if line.strip()]


def channel_keys(entry: Entry) -> tuple[str, ...] | None:
    """``key`` or ``keys`` (one of them), or None when neither is given."""
    if entry.data.get("key") is not None and entry.data.get("keys") is not None:
        raise InvalidRequest(f"{field_path(entry.where, 'keys')}: give key or keys, not both")
    return entry.maybe("key", key_text) or entry.maybe("keys", key_list)


def key_text(value: Any, where: str) -> tuple[str, ...]:
    """``key``: one key, or several one per line (never quoted back in an error)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{where}: expected text")
    return _unique_keys(_keys_of(value, where), where)


def key_list(value: Any, where: str) -> tuple[str, ...]:
    """``keys``: a list of keys, each item one key or several one per line."""
    found: list[str] = []
    for n, item in enumerate(items(value, where)):
        if not isinstance(item, str):
            raise InvalidRequest(f"{item_path(where, n)}: expected text")
        found += _keys_of(item, item_path(where, n))
    return _unique_keys(found, where)


def keys_data(keys: Sequence[str] | None, secrets: str, variable: str) -> dict[str, Any]:
    """The key fields of a channel as ``secrets`` writes them (see the module)."""
    if secrets == "omit" or (secrets == "plain" and keys is None):
        return {}
    if secrets == "env":
        return {"key": f"${{{variable}}}"}
    assert keys is not None
    return {"key": keys[0]} if len(keys) == 1 else {"keys": list(keys)}


def env_value(keys: Sequence[str]) -> str:
    """What the ``--secrets env`` variable of a channel with ``keys`` holds."""
    return "\n".join(keys)


def tag_names(names: list[str]) -> tuple[str, ...]:
    """Tags as stored: stripped, comma-separated items split, repeats dropped; () for none."""
    return clean_names(names, "tag") if names else ()


def interval(value: Any, where: str) -> int:
    """Seconds: a whole number, or text such as ``24h``; ``never`` is 0."""
    if value == NEVER:
        return 0
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return parse_window(value)
        except InvalidRequest:
            pass
    raise expected(f"seconds or an interval such as 24h, 30m (or {NEVER})", value, where)


def interval_data(seconds: int | None) -> str | int | None:
    """Seconds as the file writes them: ``never`` for 0, else in the largest unit that
    divides them, else whole seconds."""
    if seconds is None:
        return None
    if seconds == 0:
        return NEVER
    for unit, size in _UNITS:
        count, rest = divmod(seconds, size)
        if not rest and len(str(count)) <= _MAX_DIGITS:
            return f"{count}{unit}"
    return seconds


def cap(value: Any, where: str) -> int | None:
    """A per-channel cap: a whole number, 0 for none (None)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise expected("a whole number >= 0 (0 for no cap)", value, where)
    return value or None


def amount_text(value: Any, where: str) -> str | None:
    """A non-negative decimal as text (as stored), None for ''."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise expected('a decimal number such as "10"', value, where)
    if isinstance(value, str) and not value.strip():
        return None
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except ArithmeticError:
        raise expected('a decimal number such as "10"', value, where) from None
    if not amount.is_finite() or amount < 0:
        raise expected("a decimal number of 0 or more", value, where)
    return str(amount)


def overrides_data(overrides: Mapping[str, Any], secrets: str) -> dict[str, Any]:
    """The overrides as ``secrets`` writes them (a credential header's value null unless
    plain), objects' keys sorted."""
    data: dict[str, Any] = json_data(dict(overrides))
    headers = data.get(HEADERS)
    if secrets != "plain" and isinstance(headers, dict):
        data[HEADERS] = {k: None if secret_header(k) else v for k, v in headers.items()}
    return data


def secret_header(name: str) -> bool:
    """Whether a header's value is a credential (shown masked, written only in plain)."""
    return any(word in name.lower() for word in SECRET_HEADER_WORDS)


def kept_headers(
    desired: Sequence[ChannelSpec], stored: Sequence[ChannelSpec]
) -> tuple[ChannelSpec, ...]:
    """``desired`` with each header value the file left null (``--secrets omit``/``env``)
    taken from the stored channel of its name (or ``renamed_from``); InvalidRequest naming
    the channel and header when there is no such value."""
    by_name = {spec.name: spec for spec in stored}
    return tuple(_kept(spec, by_name) for spec in desired)


def json_object(value: Any, where: str) -> dict[str, Any]:
    """A JSON object: text keys, and values that are text, numbers, true/false, null, lists
    or objects (numbers as the module says)."""
    return {
        _json_key(key, where): _json_value(item, field_path(where, key))
        for key, item in mapping(value, where).items()
    }


def json_data(value: Any) -> Any:
    """A JSON value with every object's keys sorted and whole-number floats as integers
    (a deterministic file that reads back the same)."""
    if isinstance(value, dict):
        return {key: json_data(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [json_data(item) for item in value]
    if isinstance(value, float) and value.is_integer() and int(value) in _INT_RANGE:
        return int(value)
    return value


def json_text(value: Any) -> str:
    """A JSON value as one line as ``json_data`` gives it (how a plan shows and compares
    it: ``2.0`` and ``2`` are the same)."""
    return orjson.dumps(json_data(value)).decode()


def _kept(spec: ChannelSpec, stored: Mapping[str, ChannelSpec]) -> ChannelSpec:
    headers = spec.overrides.get(HEADERS)
    if not isinstance(headers, Mapping) or None not in headers.values():
        return spec
    old = stored.get(spec.name) or stored.get(spec.renamed_from or "")
    old_headers = {} if old is None else old.overrides.get(HEADERS) or {}
    filled = {}
    for name, value in headers.items():
        if value is None and name not in old_headers:
            raise InvalidRequest(
                f"channel {spec.name!r}: header override {name!r} has no value in the file"
                " (written with --secrets omit or env) and the channel has none: give it"
            )
        filled[name] = old_headers[name] if value is None else value
    return replace(spec, overrides={**spec.overrides, HEADERS: filled})


def _keys_of(text: str, where: str) -> list[str]:
    try:
        return split_keys(text)
    except InvalidRequest as exc:
        raise InvalidRequest(f"{where}: {exc.message}") from None


def _unique_keys(keys: list[str], where: str) -> tuple[str, ...]:
    if not keys:
        raise InvalidRequest(f"{where}: a channel needs a key")
    seen: dict[str, int] = {}
    for n, key in enumerate(keys):
        if key in seen:
            raise InvalidRequest(
                f"{where}: key {n + 1} repeats key {seen[key] + 1} (give each key once)"
            )
        seen[key] = n
    return tuple(keys)


def _json_key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise InvalidRequest(f"{where}: the key {shown(key)} must be text (quote it)")
    return key


def _json_value(value: Any, where: str) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
        raise expected("a whole number of at most 64 bits", value, where)
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise expected("a finite number", value, where)
        whole = value.as_tuple().exponent == 0 and int(value) in _INT_RANGE
        return int(value) if whole else float(value)
    if isinstance(value, list):
        return [_json_value(item, item_path(where, n)) for n, item in enumerate(value)]
    if isinstance(value, dict):
        return json_object(value, where)
    what = "a JSON value (text, a number, true, false, null, a list or a mapping)"
    raise expected(what, value, where)
