"""A Gemini ``GenerateContentResponse`` as an OpenAI ``chat.completion`` (PROTOCOLS.md 8.4).

The pieces here (tool calls, finish reasons) are shared with the stream transcoder; usage is
read by ``gemini.usage``.
Thought parts (``"thought": true``) become ``reasoning_content``; each ``functionCall``
becomes a tool call whose id carries its thought signature (``call_ids``).
"""

from __future__ import annotations

import time
import uuid

import orjson

from burncloud.errors import UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import ChatAnswer
from burncloud.providers.gemini import call_ids
from burncloud.providers.gemini.usage import token_usage

_FILTERED = ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED", "SPII", "LANGUAGE")


def finish_reason(reason: str | None, has_tool_calls: bool) -> str:
    """OpenAI's finish_reason for Gemini's; a function call ends with STOP on Gemini."""
    if has_tool_calls:
        return "tool_calls"
    if reason == "MAX_TOKENS":
        return "length"
    if reason and any(marker in reason for marker in _FILTERED):
        return "content_filter"
    return "stop"


def tool_call(part: JSON, response_id: str, candidate: int, position: int) -> JSON:
    """The OpenAI tool call for a ``functionCall`` part, signature packed into its id."""
    call = part["functionCall"]
    base = call.get("id") or call_ids.synthesize(response_id, candidate, position)
    return {
        "id": call_ids.encode(base, part.get("thoughtSignature")),
        "type": "function",
        "function": {
            "name": str(call.get("name", "")),
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }


def completion_id(data: JSON) -> str:
    """The upstream response id, or a fresh one when Gemini sent none."""
    response_id = data.get("responseId")
    return response_id if isinstance(response_id, str) and response_id else uuid.uuid4().hex


def convert_answer(raw: bytes, model: str) -> ChatAnswer:
    """The ``chat.completion`` for a whole ``generateContent`` answer."""
    data = _load(raw)
    response_id = completion_id(data)
    candidates = data.get("candidates") or []
    choices = [_choice(c, i, response_id) for i, c in enumerate(candidates)]
    completion: JSON = {
        "id": "chatcmpl-" + response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices or [_empty_choice(data)],
    }
    usage = token_usage(data.get("usageMetadata"))
    if usage is not None:
        completion["usage"] = usage.to_openai()
    return ChatAnswer(completion, usage)


def _load(raw: bytes) -> JSON:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("the Gemini upstream sent an answer that is not JSON") from exc
    if not isinstance(data, dict):
        raise UpstreamError("the Gemini upstream sent an answer that is not a JSON object")
    if isinstance(data.get("error"), dict):
        message = data["error"].get("message") or "unknown error"
        raise UpstreamError(f"the Gemini upstream reported an error: {message}")
    return data


def _choice(candidate: JSON, position: int, response_id: str) -> JSON:
    index = candidate.get("index", position)
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        if not isinstance(part, dict):
            continue
        if isinstance(part.get("functionCall"), dict):
            calls.append(tool_call(part, response_id, index, len(calls)))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    message: JSON = {"role": "assistant", "content": "".join(texts) or (None if calls else "")}
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    reason = finish_reason(candidate.get("finishReason"), bool(calls))
    return {"index": index, "message": message, "logprobs": None, "finish_reason": reason}


def _empty_choice(data: JSON) -> JSON:
    """The one choice for an answer without candidates: a blocked prompt, usually."""
    message = {"role": "assistant", "content": ""}
    reason = "content_filter" if prompt_blocked(data) else "stop"
    return {"index": 0, "message": message, "logprobs": None, "finish_reason": reason}


def prompt_blocked(data: JSON) -> bool:
    """True when Gemini refused the prompt itself (``promptFeedback.blockReason``)."""
    feedback = data.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))
