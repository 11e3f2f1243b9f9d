"""A strict fake of DashScope's OpenAI-compatible mode on 127.0.0.1 (PROTOCOLS 6).

It answers ``/compatible-mode/v1/chat/completions`` and ``/embeddings`` and rejects what
DashScope rejects: a missing or wrong Bearer key (401 ``invalid_api_key``), unknown models
(404), ``stream_options`` without ``stream`` (400) and, above all, a non-stream call with
thinking on: ``enable_thinking: true``, or a hybrid open-weight Qwen3 model (``qwen3-32b``,
``qwen3-235b-a22b``; they think by default) without ``enable_thinking: false``. Answers
replay the recordings; a thinking stream (``reasoning_content`` deltas, shaped as DashScope
documents them) is synthesized since no recording of one exists. Streams carry
``"usage": null`` on every chunk and, when ``include_usage`` is asked for, a last
``choices: []`` chunk with the usage; they are re-chunked at random byte boundaries.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes.openai_upstream import RecordedRequest
from tests.fakes.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "qwen"
ROOT = "/compatible-mode/v1"
CHAT_MODELS = frozenset(
    [
        "qwen-plus",
        "qwen-plus-latest",
        "qwen-max",
        "qwen-turbo",
        "qwen3-32b",
        "qwen3-8b",
        "qwen3-235b-a22b",
        "qwen3-30b-a3b",
        "qwen3-235b-a22b-instruct-2507",
    ]
)
EMBEDDING_MODELS = frozenset(("text-embedding-v3", "text-embedding-v4"))
_HYBRID_QWEN3 = re.compile(r"^qwen3-\d+(\.\d+)?b(-a\d+b)?$")
THINKING_STREAM_ONLY = "parameter.enable_thinking must be set to false for non-streaming calls"
REASONING = ("The user", " says hello", "; answer", " briefly.")
ANSWER = ("Hello", "! How can I help?")
THINKING_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 30,
    "total_tokens": 42,
    "completion_tokens_details": {"reasoning_tokens": 24},
}


class QwenError(Exception):
    """A DashScope compatible-mode error: OpenAI's shape plus ``request_id``."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error = {
            "code": code,
            "param": param,
            "message": message,
            "type": "invalid_request_error",
        }

    def response(self) -> web.Response:
        body = {"error": self.error, "request_id": "5f1c0e2a-0000-0000-0000-000000000000"}
        return web.Response(
            status=self.status, body=orjson.dumps(body), content_type="application/json"
        )


def thinks_by_default(model: str) -> bool:
    """True for hybrid open-weight Qwen3 models, whose thinking is on unless turned off."""
    return _HYBRID_QWEN3.match(model) is not None


class FakeQwen(ReplayServer):
    """``async with FakeQwen(key) as fake``: ``fake.base_url`` (the host), ``fake.requests``;
    channels use ``fake.base_url + ROOT``."""

    def __init__(self, key: str = "sk-canary-qwen-upstream-key", *, seed: int = 17) -> None:
        self.key = key
        super().__init__(seed)
        self.requests: list[RecordedRequest] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post(f"{ROOT}/chat/completions", self._chat)
        app.router.add_post(f"{ROOT}/embeddings", self._embeddings)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._admit(request, CHAT_MODELS)
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                raise QwenError(400, "invalid_parameter_error", "messages is required", "messages")
            stream = body.get("stream") is True
            options = body.get("stream_options")
            if options is not None and not stream:
                raise QwenError(
                    400,
                    "invalid_parameter_error",
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                )
            thinking = _thinking(body)
            if thinking and not stream:
                raise QwenError(400, "invalid_parameter_error", THINKING_STREAM_ONLY)
        except QwenError as error:
            return error.response()
        if not stream:
            raw = await asyncio.to_thread((FIXTURES / "compat_nonstream.json").read_bytes)
            return web.Response(body=raw, content_type="application/json")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        events = _thinking_events(body["model"]) if thinking else await _recorded_events()
        if not include_usage:
            events = events[:-2] + events[-1:]  # the usage chunk comes only when asked for
        return await self.replay_bytes(request, b"".join(events))

    async def _embeddings(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await self._admit(request, EMBEDDING_MODELS)
            texts = body.get("input")
            texts = [texts] if isinstance(texts, str) else texts
            if not isinstance(texts, list) or not texts:
                raise QwenError(400, "invalid_parameter_error", "input is required", "input")
        except QwenError as error:
            return error.response()
        data = [
            {"embedding": _vector(str(text)), "index": index, "object": "embedding"}
            for index, text in enumerate(texts)
        ]
        tokens = sum(max(len(str(text).split()), 1) for text in texts)
        payload = {
            "data": data,
            "model": body["model"],
            "object": "list",
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            "id": "5f1c0e2a-0000-0000-0000-000000000001",
        }
        return web.Response(body=orjson.dumps(payload), content_type="application/json")

    async def _admit(self, request: web.Request, models: frozenset[str]) -> dict[str, Any]:
        """Record the request, check its key and model, return its JSON body."""
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        self.requests.append(
            RecordedRequest(request.method, request.path, request.query_string, headers, raw, body)
        )
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            raise QwenError(401, "invalid_api_key", "Incorrect API key provided. ")
        if not isinstance(body, dict):
            raise QwenError(400, "invalid_parameter_error", "The request body is not valid JSON")
        model = body.get("model")
        if model not in models:
            raise QwenError(
                404,
                "model_not_found",
                f"The model `{model}` does not exist or you do not have access to it.",
            )
        return body


def _thinking(body: dict[str, Any]) -> bool:
    flag = body.get("enable_thinking")
    if flag is not None:
        return flag is True
    return thinks_by_default(body["model"])


async def _recorded_events() -> list[bytes]:
    raw = await asyncio.to_thread((FIXTURES / "compat_stream_with_usage.sse").read_bytes)
    return [event + b"\n\n" for event in raw.split(b"\n\n") if event.strip()]


def _thinking_events(model: str) -> list[bytes]:
    """A thinking stream as DashScope sends it: reasoning deltas with ``content: null``,
    then content deltas, the finishing chunk, the usage chunk and ``[DONE]``."""
    head = {"object": "chat.completion.chunk", "usage": None, "created": 1745000000}
    head |= {"system_fingerprint": None, "model": model}
    head["id"] = "chatcmpl-7d1b5c2e-0000-4000-8000-000000000000"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
        return b"data: " + orjson.dumps({"choices": [choice], **head}) + b"\n\n"

    events = [chunk({"content": None, "role": "assistant", "reasoning_content": ""})]
    events += [chunk({"content": None, "reasoning_content": text}) for text in REASONING]
    events += [chunk({"content": text, "reasoning_content": None}) for text in ANSWER]
    events.append(chunk({"content": ""}, "stop"))
    usage_chunk = {"choices": [], **head, "usage": THINKING_USAGE}
    events.append(b"data: " + orjson.dumps(usage_chunk) + b"\n\n")
    return [*events, b"data: [DONE]\n\n"]


def _vector(text: str) -> list[float]:
    return [(byte - 128) / 128 for byte in hashlib.sha256(text.encode()).digest()[:8]]
