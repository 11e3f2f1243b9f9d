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
a float, so an exported object reads back as the same JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.services.channel_types import clean_key, clean_names
from burncloud.services.manifest.env_refs import field_path, item_path
from burncloud.services.manifest.fields import NEVER, Entry, expected, items, mapping, shown
from burncloud.services.stats import parse_window

_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))
_MAX_DIGITS = 6  # parse_window's numbers


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


def json_object(value: Any, where: str) -> dict[str, Any]:
    """A JSON object: text keys, and values that are text, numbers, true/false, null, lists
    or objects (numbers as the module says)."""
    return {
        _json_key(key, where): _json_value(item, field_path(where, key))
        for key, item in mapping(value, where).items()
    }


def json_data(value: Any) -> Any:
    """A JSON value with every object's keys sorted (a deterministic file)."""
    if isinstance(value, dict):
        return {key: json_data(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [json_data(item) for item in value]
    return value


def json_text(value: Any) -> str:
    """A JSON value as one line, its objects' keys sorted (how a plan shows and compares it)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


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
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise expected("a finite number", value, where)
        return int(value) if value.as_tuple().exponent == 0 else float(value)
    if isinstance(value, list):
        return [_json_value(item, item_path(where, n)) for n, item in enumerate(value)]
    if isinstance(value, dict):
        return json_object(value, where)
    what = "a JSON value (text, a number, true, false, null, a list or a mapping)"
    raise expected(what, value, where)
