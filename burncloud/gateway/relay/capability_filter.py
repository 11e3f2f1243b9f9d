"""Which of a request's channels can serve what it uses: images, tools, parallel tool calls,
a JSON schema, reasoning, usage in its stream, and the size of its prompt.

``needs_of`` reads the body the door already parsed (``InboundRequest.data``: an OpenAI
chat, completions or Responses body, or a front door's Anthropic or Gemini body); nothing
is parsed again, and only turns whose content is a list of parts are looked into (a turn
of plain text costs one lookup: cheaper than searching the body's bytes). The prompt's
size is estimated low (bytes / 4 of the body without inline images), so a channel is only
skipped for a prompt that surely exceeds its context.

Parallel tool calls are needed only when the request says ``parallel_tool_calls: true``
(a model calling one tool at a time still serves tools), usage in a stream only when the
client asked for it. ``capable`` keeps the channels whose capabilities
(``Upstream.capabilities``) do not rule the request out: a capability nobody recorded
counts as supported. The skipped ones go into the route trace with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from burncloud.errors import InvalidRequest
from burncloud.gateway.relay.inbound import InboundRequest
from burncloud.gateway.snapshot import Candidate
from burncloud.services.capabilities import CONTEXT, LACKS, NO_NEEDS, Needs

BYTES_PER_TOKEN = 4  # an estimate that errs low: a prompt is refused only when surely too long
IMAGE_TOKENS = 85  # the least an image costs (OpenAI's ``detail: low``)
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_TOOL_TYPES = frozenset({"function", "custom"})  # not the built-in server tools
_UNTYPED_TOOLS = frozenset({"input_schema", "functionDeclarations", "function_declarations"})
_NO_EFFORT = (None, "none")
_TURNS = (("messages", "content"), ("input", "content"), ("contents", "parts"))


class CapabilityNotServed(InvalidRequest):
    """No channel serving the model can take what the request uses (images, tools, ...)."""

    code = "capability_not_served"


class ContextTooLong(InvalidRequest):
    """The prompt exceeds the context of every channel serving the model."""

    code = "context_length_exceeded"


def needs_of(request: InboundRequest) -> Needs:
    """What ``request`` uses of a channel (a front door's request: its body as the client
    wrote it, which ``request.data`` holds)."""
    if request.media is not None or not request.endpoint.streams:
        return NO_NEEDS  # an upload, embeddings, moderations, rerank: no chat capability
    data = request.data
    images, image_bytes = _images(data)
    names = [  # in the order of BOOLEANS
        name
        for name, uses in (
            ("stream_usage", request.client_wants_usage),
            ("tools", _has_tools(data)),
            ("parallel_tools", data.get("parallel_tool_calls") is True),
            ("vision", images > 0),
            ("json_schema", _wants_schema(data)),
            ("reasoning", _wants_reasoning(data)),
        )
        if uses
    ]
    text_bytes = max(len(request.body) - image_bytes, 0)
    return Needs(tuple(names), text_bytes // BYTES_PER_TOKEN + images * IMAGE_TOKENS)


def capable(
    candidates: Sequence[Candidate], model: str, needs: Needs
) -> tuple[list[Candidate], list[dict[str, Any]]]:
    """The candidates that can serve a request of ``model`` with ``needs``, and the route
    trace entries of those skipped: ``{"id": 3, "reason": "no image input (vision=false)"}``."""
    if not needs:
        return list(candidates), []
    kept: list[Candidate] = []
    skipped: list[dict[str, Any]] = []
    for candidate in candidates:
        shortfall = candidate.upstream.capabilities.unmet(model, needs)
        if shortfall is None:
            kept.append(candidate)
        else:
            skipped.append({"id": candidate.upstream.id, "reason": shortfall.reason})
    return kept, skipped


def incapable_error(model: str, needs: Needs, candidates: Sequence[Candidate]) -> InvalidRequest:
    """The client's error when ``capable`` kept none of ``candidates``: what the request
    uses that no channel of ``model`` offers (not which channels: that is the operator's)."""
    found = [c.upstream.capabilities.unmet(model, needs) for c in candidates]
    shortfalls = [shortfall for shortfall in found if shortfall is not None]
    lacking = [name for name in needs.names if any(s.name == name for s in shortfalls)]
    if not lacking:
        limit = max((s.limit or 0 for s in shortfalls), default=0)
        return ContextTooLong(
            f"model {model!r} takes at most {limit} prompt tokens on every channel serving"
            f" it; this request has about {needs.context}"
        )
    uses = [f"{LACKS[name].removeprefix('no ')} ({name})" for name in lacking]
    if any(s.name == CONTEXT for s in shortfalls):
        uses.append(f"a prompt of about {needs.context} tokens (context)")
    return CapabilityNotServed(
        f"no channel serving model {model!r} offers what this request uses: {', '.join(uses)}"
    )


def _has_tools(data: dict[str, Any]) -> bool:
    """Client tools, the model may call: OpenAI chat and Responses function (or custom)
    tools, Anthropic tools with an input schema, Gemini function declarations; not the
    built-in server tools (web search, code execution)."""
    if data.get("functions"):
        return True
    tools = data.get("tools")
    return isinstance(tools, list) and any(_client_tool(tool) for tool in tools)


def _client_tool(tool: Any) -> bool:
    if not isinstance(tool, dict):
        return False
    kind = tool.get("type")
    if kind in _TOOL_TYPES:
        return True
    return kind is None and not tool.keys().isdisjoint(_UNTYPED_TOOLS)


def _wants_schema(data: dict[str, Any]) -> bool:
    """A JSON schema for the answer: OpenAI's ``response_format``, Responses' ``text.format``,
    Anthropic's ``output_format``, Gemini's ``responseSchema`` / ``responseJsonSchema``."""
    for holder, field in (
        (data, "response_format"),
        (data.get("text"), "format"),
        (data, "output_format"),
    ):
        spec = holder.get(field) if isinstance(holder, dict) else None
        if isinstance(spec, dict) and spec.get("type") == "json_schema":
            return True
    config = data.get("generationConfig")
    return isinstance(config, dict) and (
        "responseSchema" in config or "responseJsonSchema" in config
    )


def _wants_reasoning(data: dict[str, Any]) -> bool:
    """Reasoning asked for: ``reasoning_effort``, Responses' ``reasoning.effort``, a
    ``thinking`` object (Anthropic, LiteLLM), Gemini's ``thinkingConfig`` budget."""
    if data.get("reasoning_effort") not in _NO_EFFORT:
        return True
    reasoning = data.get("reasoning")
    if isinstance(reasoning, dict) and reasoning.get("effort") not in _NO_EFFORT:
        return True
    thinking = data.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        return True
    config = data.get("generationConfig")
    thought = config.get("thinkingConfig") if isinstance(config, dict) else None
    return isinstance(thought, dict) and bool(
        thought.get("includeThoughts") or thought.get("thinkingBudget")
    )


def _images(data: dict[str, Any]) -> tuple[int, int]:
    """(images in the conversation, bytes of the inline ones) over every format's turns:
    ``messages`` (OpenAI, Anthropic; a tool result's content too), ``input`` items
    (Responses), ``contents`` parts (Gemini). A turn of plain text is skipped at once."""
    count = size = 0
    for key, field in _TURNS:
        turns = data.get(key)
        if not isinstance(turns, list):
            continue
        for turn in turns:
            parts = turn.get(field) if isinstance(turn, dict) else None
            if isinstance(parts, list):
                found, inline = _parts_images(parts)
                count, size = count + found, size + inline
    return count, size


def _parts_images(parts: list[Any]) -> tuple[int, int]:
    count = size = 0
    for part in parts:
        if not isinstance(part, dict):
            continue
        inline = _image_size(part)
        if inline is not None:
            count, size = count + 1, size + inline
        nested = part.get("content")
        if isinstance(nested, list):
            found, inline = _parts_images(nested)
            count, size = count + found, size + inline
    return count, size


def _image_size(part: dict[str, Any]) -> int | None:
    """The inline bytes of an image part (0 for a URL), None when it is no image."""
    if part.get("type") in _IMAGE_PARTS:
        return len(str(_image_data(part)))
    inline = part.get("inlineData") or part.get("inline_data") or part.get("fileData")
    if isinstance(inline, dict) and str(inline.get("mimeType", "")).startswith("image/"):
        return len(str(inline.get("data", "")))
    return None


def _image_data(part: dict[str, Any]) -> Any:
    """What an image part carries: an OpenAI ``image_url`` (object or string), a
    Responses ``image_url``, an Anthropic ``source``."""
    image = part.get("image_url")
    if isinstance(image, dict):
        return image.get("url", "")
    source = part.get("source")
    if isinstance(source, dict):
        return source.get("data", "")
    return image or ""
