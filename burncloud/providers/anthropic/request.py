"""The upstream request for an OpenAI chat body: URL, headers and Messages API JSON.

``max_tokens`` is required by Anthropic: it comes from ``max_completion_tokens`` or
``max_tokens``, else the channel's ``max_tokens_default`` config entry, else 4096 (the
largest value every Claude model accepts, so a default never fails on an older model; set
the config entry to the model's real maximum, e.g. 64000, for long answers).

``reasoning_effort`` (or a ``thinking`` object) turns on extended thinking, budgeted and
fitted under ``max_tokens`` by ``providers.reasoning``. Thinking is left off when it cannot
be honoured: a forced tool (Anthropic allows only auto/none with thinking), too small a
limit, or a tool loop whose assistant turn carries no signed thinking blocks (Anthropic
requires them back; they are returned as ``thinking_blocks``). With thinking on,
``temperature`` and ``top_k`` are dropped and ``top_p`` is kept only from 0.95 up, as
Anthropic requires. ``web_search_options`` adds Anthropic's server web search tool
(``tools.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from burncloud.errors import InvalidRequest, UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.anthropic.messages import convert_messages
from burncloud.providers.anthropic.tools import (
    convert_tool_choice,
    convert_tools,
    forces_tool,
    format_instruction,
)
from burncloud.providers.base import ChannelAccess, UpstreamRequest
from burncloud.providers.reasoning import claude_output_limit, fit_thinking, requested_budget

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
MAX_TOKENS_CONFIG = "max_tokens_default"
BETA_CONFIG = "anthropic_beta"
_THINKING_FIRST = ("thinking", "redacted_thinking")


def build_request(channel: ChannelAccess, body: JSON, model: str, stream: bool) -> UpstreamRequest:
    """The POST to ``/v1/messages`` for ``body``, sent as upstream ``model``."""
    payload = build_body(body, model, stream, channel.config)
    return UpstreamRequest(
        url=messages_url(channel.base_url),
        headers=request_headers(channel.key, channel.config),
        body=orjson.dumps(payload),
    )


def native_request(
    channel: ChannelAccess,
    raw: bytes,
    body: JSON,
    model: str,
    max_tokens: int | None,
    client_headers: Mapping[str, str],
) -> UpstreamRequest:
    """A Messages request from an Anthropic-format client, sent as it came: only a mapped
    model or a limit on ``max_tokens`` re-serialises it. The client's ``anthropic-version``
    and ``anthropic-beta`` go along (Claude Code relies on its betas); its key does not."""
    headers = request_headers(channel.key, channel.config)
    if client_headers.get("anthropic-version"):
        headers["anthropic-version"] = client_headers["anthropic-version"]
    betas = _merged_betas(client_headers.get("anthropic-beta"), headers.get("anthropic-beta"))
    if betas:
        headers["anthropic-beta"] = betas
    if body.get("model") != model or max_tokens is not None:
        body = {**body, "model": model}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        raw = orjson.dumps(body)
    return UpstreamRequest(url=messages_url(channel.base_url), headers=headers, body=raw)


def _merged_betas(*values: str | None) -> str:
    betas: list[str] = []
    for value in values:
        for beta in (value or "").split(","):
            if beta.strip() and beta.strip() not in betas:
                betas.append(beta.strip())
    return ",".join(betas)


def messages_url(base_url: str) -> str:
    """``{base}/v1/messages``; a base URL already ending in ``/v1`` is accepted too."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    base = base.removesuffix("/v1")
    return base + "/v1/messages"


def request_headers(key: str, config: Mapping[str, str]) -> dict[str, str]:
    """Auth, API version and content type; ``anthropic-beta`` from the channel config."""
    headers = {
        "x-api-key": key,
        "anthropic-version": API_VERSION,
        "content-type": "application/json",
    }
    if config.get(BETA_CONFIG):
        headers["anthropic-beta"] = config[BETA_CONFIG]
    return headers


def check_config(config: Mapping[str, str]) -> None:
    """Raise InvalidRequest when the channel's Anthropic config entries are malformed."""
    raw = config.get(MAX_TOKENS_CONFIG)
    if raw and not (raw.isdigit() and int(raw) > 0):
        raise InvalidRequest(f"{MAX_TOKENS_CONFIG} must be a positive integer")


def build_body(body: JSON, model: str, stream: bool, config: Mapping[str, str]) -> JSON:
    """The Messages API JSON for an OpenAI chat ``body`` (PROTOCOLS.md 8.1)."""
    _reject_unsupported(body)
    conversation = convert_messages(body.get("messages"))
    max_tokens, explicit = _max_tokens(body, config)
    payload: JSON = {"model": model, "max_tokens": max_tokens, "messages": conversation.messages}
    system = _system(conversation.system, format_instruction(body.get("response_format")))
    if system:
        payload["system"] = system
    _add_sampling(payload, body)
    tools = convert_tools(body)
    if tools:
        payload["tools"] = tools
        choice = convert_tool_choice(body)
        if choice is not None:
            payload["tool_choice"] = choice
    _add_thinking(payload, requested_budget(body), explicit, claude_output_limit(model, config))
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str) and user:
        payload["metadata"] = {"user_id": user}
    if stream:
        payload["stream"] = True
    return payload


def _reject_unsupported(body: JSON) -> None:
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("n > 1 is not supported for Anthropic models")
    modalities = body.get("modalities")
    if isinstance(modalities, list) and "audio" in modalities:
        raise InvalidRequest("audio output is not supported for Anthropic models")


def _max_tokens(body: JSON, config: Mapping[str, str]) -> tuple[int, bool]:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"{key} must be a positive integer")
        return value, True
    return _default_max_tokens(config), False


def _default_max_tokens(config: Mapping[str, str]) -> int:
    raw = config.get(MAX_TOKENS_CONFIG)
    if not raw:
        return DEFAULT_MAX_TOKENS
    if not raw.isdigit() or int(raw) < 1:
        raise UpstreamError(f"the channel's {MAX_TOKENS_CONFIG} config is not a positive integer")
    return int(raw)


def _system(blocks: list[JSON], instruction: str | None) -> str | list[JSON] | None:
    if instruction:
        blocks = [*blocks, {"type": "text", "text": instruction}]
    if not blocks:
        return None
    if any("cache_control" in block for block in blocks):
        return blocks
    return "\n\n".join(block["text"] for block in blocks)


def _add_sampling(payload: JSON, body: JSON) -> None:
    temperature = _number(body, "temperature")
    if temperature is not None:
        payload["temperature"] = min(max(temperature, 0), 1)
    top_p = _number(body, "top_p")
    if top_p is not None:
        payload["top_p"] = top_p
    top_k = body.get("top_k")
    if isinstance(top_k, int) and not isinstance(top_k, bool):
        payload["top_k"] = top_k
    stops = _stop_sequences(body.get("stop"))
    if stops:
        payload["stop_sequences"] = stops


def _number(body: JSON, key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidRequest(f"{key} must be a number")
    return value


def _stop_sequences(stop: Any) -> list[str]:
    """Stop strings as a list, without blank ones (Anthropic rejects whitespace-only stops)."""
    if stop is None:
        return []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise InvalidRequest("stop must be a string or an array of strings")
    return [s for s in stops if s.strip()]


def _add_thinking(payload: JSON, budget: int | None, explicit: bool, limit: int | None) -> None:
    if budget is None or forces_tool(payload.get("tool_choice")):
        return
    if _unsigned_tool_turn(payload["messages"]):
        return
    fit = fit_thinking(budget, payload["max_tokens"], explicit=explicit, limit=limit)
    if fit is None:
        return
    payload["max_tokens"] = fit.max_tokens
    payload["thinking"] = {"type": "enabled", "budget_tokens": fit.budget}
    payload.pop("temperature", None)
    payload.pop("top_k", None)
    if payload.get("top_p", 1) < 0.95:
        del payload["top_p"]


def _unsigned_tool_turn(messages: list[JSON]) -> bool:
    """True when the last assistant turn used tools without the thinking that preceded it."""
    for message in reversed(messages):
        if message["role"] == "assistant":
            blocks = message["content"]
            uses_tools = any(block["type"] == "tool_use" for block in blocks)
            return uses_tools and blocks[0]["type"] not in _THINKING_FIRST
    return False
