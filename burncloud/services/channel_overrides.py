"""A channel's overrides: headers and body parameters set or removed on the way upstream.

An operator gives them as CLI specs (``--set-header NAME=VALUE``, ``--set-param
temperature=0.2``, ``--drop-param NAME``, ``--unset-header NAME``, ``--unset-param NAME``);
they are stored as JSON in ``channels.overrides``::

    {"set_headers": {"X-Org": "a"}, "set_params": {"temperature": 0.2}, "drop_params": ["user"]}

Parameters are top-level fields of the body the upstream receives, in the upstream's own
API (an Anthropic channel's ``top_k``, a Gemini channel's ``generationConfig``), after any
conversion. A parameter's value is JSON when it parses as JSON (``0.2``, ``true``,
``{"a": 1}``, ``"x"``, ``null``), else the text as given; it is merged into the body as a
JSON merge patch (an object merges into the one there, ``null`` removes), and may lower an
answer-token limit but never raise it (``providers.overrides`` applies them).

Headers may set anything but what frames the request (hop-by-hop headers, Host,
Content-Length, Content-Type, Content-Encoding); an empty value removes the header. An
``Authorization`` or ``x-api-key`` override is allowed and replaces the channel's key
header of that name, for a proxy that wants its own credentials: such values are secrets,
shown masked by ``describe``. ``stream`` and ``model`` are the relay's to set (it reads the
answer by the one and bills by the other), so no override may touch them; ``--model-map``
renames models.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from burncloud.crypto import mask_secret
from burncloud.errors import InvalidRequest

MAX_HEADERS = 32
MAX_PARAMS = 32
MAX_VALUE_BYTES = 8 * 1024  # one header value, or one parameter's JSON
RESERVED_HEADERS = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "host",
        "content-length",
        "content-type",
        "content-encoding",
    )
)
RESERVED_PARAMS = frozenset(("stream", "model"))
SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "signature", "credential")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True, slots=True)
class ChannelOverrides:
    """What a channel changes in each request it sends upstream. Header names keep the
    case the operator gave; they replace a header of any case."""

    set_headers: Mapping[str, str] = field(default_factory=dict)
    set_params: Mapping[str, Any] = field(default_factory=dict)
    drop_params: tuple[str, ...] = ()

    @property
    def touches_body(self) -> bool:
        """Whether the JSON body must be parsed and rewritten."""
        return bool(self.set_params or self.drop_params)

    def __bool__(self) -> bool:
        return bool(self.set_headers or self.set_params or self.drop_params)

    def to_data(self) -> dict[str, Any]:
        """The stored JSON's value: only the parts that hold something (``{}`` for none)."""
        data: dict[str, Any] = {}
        if self.set_headers:
            data["set_headers"] = dict(self.set_headers)
        if self.set_params:
            data["set_params"] = dict(self.set_params)
        if self.drop_params:
            data["drop_params"] = list(self.drop_params)
        return data

    def public_data(self) -> dict[str, Any]:
        """``to_data`` with secret-like header values masked: for the admin API, the audit
        trail and anything else a person reads (the stored form keeps them whole)."""
        data = self.to_data()
        if self.set_headers:
            data["set_headers"] = {k: _shown(k, v) for k, v in self.set_headers.items()}
        return data

    def to_json(self) -> str:
        """The JSON stored in ``channels.overrides`` (``{}`` when there is none)."""
        return orjson.dumps(self.to_data()).decode()

    def describe(self) -> list[str]:
        """One line per override for ``channel show``; secret-like header values masked."""
        lines = [
            f"header {name}: {_shown(name, value)}" for name, value in self.set_headers.items()
        ]
        lines += [f"param {name} = {_json(value)}" for name, value in self.set_params.items()]
        lines += [f"drop param {name}" for name in self.drop_params]
        return lines


EMPTY_OVERRIDES = ChannelOverrides()


def parse_overrides(text: str | None) -> ChannelOverrides:
    """The overrides stored as ``text`` (``EMPTY_OVERRIDES`` itself for none, so the relay
    can tell by identity); InvalidRequest when the JSON is not an overrides object."""
    if not text or text == "{}":
        return EMPTY_OVERRIDES
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"channel overrides are not JSON: {exc}") from exc
    return overrides_from(data)


def overrides_from(data: Any) -> ChannelOverrides:
    """The overrides a decoded JSON value holds (the stored form, or an admin API body's);
    InvalidRequest naming what is wrong."""
    if not isinstance(data, dict) or set(data) - {"set_headers", "set_params", "drop_params"}:
        raise InvalidRequest("channel overrides must hold set_headers, set_params, drop_params")
    headers = _object(data.get("set_headers"), "set_headers")
    params = _object(data.get("set_params"), "set_params")
    dropped = data.get("drop_params") or []
    if not isinstance(dropped, list):
        raise InvalidRequest("channel overrides: drop_params must be a list of names")
    return build_overrides(headers, params, dropped)


def build_overrides(
    headers: Mapping[str, Any], params: Mapping[str, Any], dropped: Iterable[Any]
) -> ChannelOverrides:
    """Validated overrides from their three parts (the admin API's JSON form)."""
    checked_headers = {
        _header_name(name): _header_value(name, value) for name, value in headers.items()
    }
    _no_duplicate_headers(checked_headers)
    checked_params = {
        _param_name(name): _param_value(name, value) for name, value in params.items()
    }
    checked_drops = tuple(dict.fromkeys(_param_name(name) for name in dropped))
    both = set(checked_params) & set(checked_drops)
    if both:
        raise InvalidRequest(f"parameter {sorted(both)[0]!r} cannot be both set and dropped")
    if len(checked_headers) > MAX_HEADERS or len(checked_params) + len(checked_drops) > MAX_PARAMS:
        raise InvalidRequest(
            f"a channel has at most {MAX_HEADERS} header and {MAX_PARAMS} parameter overrides"
        )
    if not (checked_headers or checked_params or checked_drops):
        return EMPTY_OVERRIDES
    return ChannelOverrides(checked_headers, checked_params, checked_drops)


def changed_overrides(
    old: ChannelOverrides,
    *,
    set_headers: Sequence[str] = (),
    set_params: Sequence[str] = (),
    drop_params: Sequence[str] = (),
    unset_headers: Sequence[str] = (),
    unset_params: Sequence[str] = (),
) -> ChannelOverrides:
    """``old`` changed by CLI specs: ``NAME=VALUE`` to set a header or parameter, ``NAME``
    to drop a parameter or to unset an override (a parameter's set or drop). Unsets apply
    first; setting a dropped parameter stops dropping it, and dropping a set one unsets it."""
    headers = dict(old.set_headers)
    params = dict(old.set_params)
    dropped = dict.fromkeys(old.drop_params)
    for name in unset_headers:
        _unset_header(headers, name)
    for name in unset_params:
        _unset_param(params, dropped, name.strip())
    for spec in set_headers:
        name, value = _spec(spec, "--set-header")
        _unset_header(headers, name, missing_ok=True)
        headers[name] = value
    for spec in set_params:
        name, text = _spec(spec, "--set-param")
        params[name] = parse_param_value(text)
        dropped.pop(name, None)
    for name in drop_params:
        params.pop(name.strip(), None)
        dropped[name.strip()] = None
    return build_overrides(headers, params, dropped)


def parse_param_value(text: str) -> Any:
    """A ``--set-param`` value: its JSON value when it is JSON, else the text itself."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _spec(spec: str, option: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=")
    if not sep or not name.strip():
        raise InvalidRequest(f"{option} takes NAME=VALUE, got {spec!r}")
    return name.strip(), value


def _unset_header(headers: dict[str, str], name: str, missing_ok: bool = False) -> None:
    """Remove the header named ``name`` in any case."""
    lower = name.strip().lower()
    found = [key for key in headers if key.lower() == lower]
    if not found and not missing_ok:
        raise InvalidRequest(f"the channel has no override of header {name.strip()!r}")
    for key in found:
        del headers[key]


def _unset_param(params: dict[str, Any], dropped: dict[str, None], name: str) -> None:
    """Stop setting or dropping the parameter ``name``."""
    if name not in params and name not in dropped:
        raise InvalidRequest(f"the channel has no override of parameter {name!r}")
    params.pop(name, None)
    dropped.pop(name, None)


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"channel overrides: {what} must be an object")
    return value


def _header_name(name: Any) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.match(name):
        raise InvalidRequest(f"{name!r} is not a valid HTTP header name")
    if name.lower() in RESERVED_HEADERS:
        raise InvalidRequest(f"header {name!r} frames the request; a channel cannot override it")
    return name


def _header_value(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"header {name!r}: the value must be text")
    if any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in value):
        raise InvalidRequest(f"header {name!r}: the value may not hold control characters")
    if len(value.encode()) > MAX_VALUE_BYTES:
        raise InvalidRequest(f"header {name!r}: the value is longer than {MAX_VALUE_BYTES} bytes")
    return value.strip()


def _no_duplicate_headers(headers: Mapping[str, str]) -> None:
    seen: set[str] = set()
    for name in headers:
        if name.lower() in seen:
            raise InvalidRequest(f"header {name!r} is overridden twice")
        seen.add(name.lower())


def _param_name(name: Any) -> str:
    if not isinstance(name, str) or not _PARAM_NAME.match(name.strip()):
        raise InvalidRequest(f"{name!r} is not a valid parameter name")
    if name.strip() in RESERVED_PARAMS:
        raise InvalidRequest(
            f"parameter {name.strip()!r} is the relay's to set; a channel cannot override it"
        )
    return name.strip()


def _param_value(name: str, value: Any) -> Any:
    try:
        size = len(orjson.dumps(value))
    except TypeError as exc:
        raise InvalidRequest(f"parameter {name!r}: the value is not JSON") from exc
    if size > MAX_VALUE_BYTES:
        raise InvalidRequest(
            f"parameter {name!r}: the value is longer than {MAX_VALUE_BYTES} bytes"
        )
    return value


def _shown(name: str, value: str) -> str:
    if not value:
        return "(removed)"
    lower = name.lower()
    return mask_secret(value) if any(word in lower for word in SECRET_HEADER_WORDS) else value


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
