"""The body sent upstream for OpenAI-style channels: the client's bytes unless a change is due.

Changes are a model mapping, a provider's request quirk (Qwen's thinking switch), asking for
stream usage, and capping ``max_tokens`` to what the balance affords. Asking for usage when
the client sent no ``stream_options`` is a splice after the opening brace, so the body is
never re-serialised for it.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.gateway.relay.inbound import InboundRequest

_USAGE_OPTION = b'"stream_options":{"include_usage":true},'


def upstream_body(
    request: InboundRequest,
    model: str,
    max_tokens_cap: int | None,
    fields: dict[str, Any] | None = None,
    stream_usage: bool = True,
) -> bytes:
    """The bytes to send upstream for ``request`` routed to ``model``; ``fields`` is the
    request's data after the provider's quirks, when they changed it. An upstream that
    rejects ``stream_options`` (``stream_usage`` false) never gets them."""
    inject_usage = request.stream and not request.client_wants_usage and stream_usage
    strip_options = not stream_usage and "stream_options" in request.data
    cap = request.cap_to_apply(max_tokens_cap)
    changed = fields is not None and fields is not request.data
    rewrite = model != request.model or cap is not None or changed or strip_options
    if inject_usage and not rewrite and "stream_options" not in request.data:
        return _splice_after_brace(request.body, _USAGE_OPTION)
    if not inject_usage and not rewrite:
        return request.body
    data = dict(fields if changed and fields is not None else request.data)
    data["model"] = model
    if inject_usage:
        data["stream_options"] = {**(data.get("stream_options") or {}), "include_usage": True}
    if strip_options:
        data.pop("stream_options", None)
    if cap is not None:  # in the endpoint's own limit field
        data[request.endpoint.limit_field(data)] = cap
    return orjson.dumps(data)


def _splice_after_brace(body: bytes, field: bytes) -> bytes:
    start = body.index(b"{") + 1
    rest = body[start:].lstrip()
    if rest.startswith(b"}"):
        return body[:start] + field.rstrip(b",") + body[start:]
    return body[:start] + field + body[start:]
