"""A channel's overrides applied to one upstream request: pure, like every request builder.

The relay's seam (``gateway.egress.upstream``) and the CLI's ``channel test`` call
``overridden`` on the request a provider built, just before it is sent:

- headers: each override replaces the header of that name in any case; an empty value
  removes it. Setting the channel's own auth header (``Authorization``, ``x-api-key``)
  is allowed: a proxy may want its own credentials.
- body: only a JSON body (by its Content-Type; never a multipart upload, never a GET) is
  parsed and re-serialised, and only when the channel sets or drops parameters. Dropped
  names go, then ``set_params`` is merged as a JSON merge patch (RFC 7396): an object
  merges into the object already there (``generationConfig`` keeps the fields the
  converter wrote), ``null`` removes a member, anything else replaces.
- an answer-token limit the body already has (the client's, or the cap of what the
  caller's balance affords) may be lowered by an override, never raised or removed.
- a SigV4-signed request (Bedrock) is signed again over the changed headers and body,
  at the time and in the scope of its first signature, unless the overrides set
  ``Authorization`` themselves.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.providers.bedrock.provider import parse_credentials
from burncloud.providers.bedrock.sigv4 import ALGORITHM, sign_request
from burncloud.services.channel_overrides import ChannelOverrides

# Where each API keeps the answer-token limit: OpenAI chat and Anthropic, OpenAI chat's
# newer field, Responses, Gemini, Bedrock Converse.
LIMIT_PATHS: tuple[tuple[str, ...], ...] = (
    ("max_tokens",),
    ("max_completion_tokens",),
    ("max_output_tokens",),
    ("generationConfig", "maxOutputTokens"),
    ("inferenceConfig", "maxTokens"),
)
_SIGNATURE_HEADERS = frozenset(("authorization", "x-amz-date", "x-amz-security-token"))


def overridden(
    overrides: ChannelOverrides,
    key: str,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[dict[str, str], bytes]:
    """The request's headers and body with ``overrides`` applied (new objects; the
    arguments are not changed); ``key`` is the channel key, to sign again with."""
    if overrides.touches_body and body and _is_json(headers):
        body = overridden_body(overrides, body)
    changed = overridden_headers(overrides, headers)
    if _sigv4_signed(headers) and not _sets(overrides, "authorization"):
        changed = _signed_again(changed, key, method, url, body, headers)
    return changed, body


def overridden_headers(overrides: ChannelOverrides, headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` with every overridden name replaced (or removed, for an empty value)."""
    names = {name.lower() for name in overrides.set_headers}
    result = {name: value for name, value in headers.items() if name.lower() not in names}
    result.update((name, value) for name, value in overrides.set_headers.items() if value)
    return result


def overridden_body(overrides: ChannelOverrides, body: bytes) -> bytes:
    """A JSON object ``body`` with parameters dropped and set; any other body as it is."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(data, dict):
        return body
    limits = [(path, _at(data, path)) for path in LIMIT_PATHS]
    changed = {name: value for name, value in data.items() if name not in overrides.drop_params}
    changed = merge_patch(changed, overrides.set_params)
    for path, limit in limits:
        if isinstance(limit, int) and not _within(_at(changed, path), limit):
            _put(changed, path, limit)
    return orjson.dumps(changed)


def merge_patch(target: Any, patch: Any) -> Any:
    """``patch`` applied to ``target`` as RFC 7396 says (new objects; neither changed)."""
    if not isinstance(patch, Mapping):
        return patch
    result = dict(target) if isinstance(target, Mapping) else {}
    for name, value in patch.items():
        if value is None:
            result.pop(name, None)
        else:
            result[name] = merge_patch(result.get(name), value)
    return result


def _is_json(headers: Mapping[str, str]) -> bool:
    for name, value in headers.items():
        if name.lower() == "content-type":
            return "json" in value.lower()
    return False


def _sets(overrides: ChannelOverrides, lower_name: str) -> bool:
    return any(name.lower() == lower_name for name in overrides.set_headers)


def _at(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested objects, or None."""
    value: Any = data
    for name in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(name)
    return value


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Write ``value`` at ``path``, copying the objects on the way (they may be shared
    with the patch) and making those that are missing."""
    for name in path[:-1]:
        inner = data.get(name)
        data[name] = dict(inner) if isinstance(inner, Mapping) else {}
        data = data[name]
    data[path[-1]] = value


def _within(value: Any, limit: int) -> bool:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    return is_int and 0 < value <= limit


def _sigv4_signed(headers: Mapping[str, str]) -> bool:
    for name, value in headers.items():
        if name.lower() == "authorization":
            return value.startswith(ALGORITHM)
    return False


def _signed_again(
    headers: dict[str, str],
    key: str,
    method: str,
    url: str,
    body: bytes,
    signed: Mapping[str, str],
) -> dict[str, str]:
    """``headers`` signed again as the provider signed ``signed``: same date, region and
    service (read from its Authorization and X-Amz-Date), same credentials."""
    authorization = _header(signed, "authorization")
    stamp = _header(signed, "x-amz-date")
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    _, _, region, service, _ = scope
    unsigned = {k: v for k, v in headers.items() if k.lower() not in _SIGNATURE_HEADERS}
    return sign_request(
        method,
        url,
        unsigned,
        body,
        credentials=parse_credentials(key.strip()),
        region=region,
        service=service,
        now=calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ")),
    )


def _header(headers: Mapping[str, str], lower_name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == lower_name), "")
