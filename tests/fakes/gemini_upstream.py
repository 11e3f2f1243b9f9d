"""A strict fake of the Gemini API on 127.0.0.1, replaying recorded answers.

It rejects what Gemini rejects: a key anywhere but ``x-goog-api-key`` or a wrong one (as
HTTP 400 ``API_KEY_INVALID``, like Gemini), roles other than ``user`` / ``model``, a
``functionResponse.response`` that is not an object, embedding requests for another model
than the URL's, a tool that is not exactly one known kind, and Google Search grounding
beside function declarations (Gemini 2 refuses the mix; Gemini 3 takes it only with
``toolConfig.includeServerSideToolInvocations``). Streams need ``alt=sse`` and replay a
recorded file re-chunked at random byte boundaries; ``batchEmbedContents`` answers
``[len(text), 0.5]`` per text (Gemini reports no usage for embeddings).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "gemini"


class FakeGemini(ReplayServer):
    """``async with FakeGemini(key) as fake``: ``fake.base_url``, ``fake.requests``."""

    def __init__(
        self,
        key: str = "sk-canary-gemini-upstream-key",
        *,
        stream_fixture: str = "stream_crlf_usage_changes.sse",
        answer_fixture: str = "nonstream_text.json",
        seed: int = 11,
    ) -> None:
        self.key = key
        self.stream_fixture = stream_fixture
        self.answer_fixture = answer_fixture
        super().__init__(seed)
        self.requests: list[dict[str, Any]] = []
        self.raw_requests: list[bytes] = []

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1beta/models/{call}", self._generate)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        if "key" in request.query or request.headers.get("x-goog-api-key") != self.key:
            return _error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
            )
        model, _, method = request.match_info["call"].partition(":")
        if method == "batchEmbedContents" and model:
            return await self._embed(request, model)
        if method not in ("generateContent", "streamGenerateContent") or not model:
            return _error(404, "NOT_FOUND", "unknown method")
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        problem = _invalid(body) or _tools_problem(model, body) or _over_output_limit(model, body)
        if problem:
            return _error(400, "INVALID_ARGUMENT", problem)
        self.requests.append(body)
        self.raw_requests.append(raw)
        if method == "generateContent":
            raw = (FIXTURES / self.answer_fixture).read_bytes()
            return web.Response(body=raw, content_type="application/json")
        if request.query.get("alt") != "sse":
            return _error(400, "INVALID_ARGUMENT", "this fake only streams with alt=sse")
        return await self.replay(request, FIXTURES / self.stream_fixture)

    async def _embed(self, request: web.Request, model: str) -> web.Response:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return _error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            return _error(400, "INVALID_ARGUMENT", "* BatchEmbedContentsRequest.requests: empty")
        vectors = []
        for index, item in enumerate(items):
            if item.get("model") != f"models/{model}":
                return _error(400, "INVALID_ARGUMENT", f"requests[{index}].model mismatch")
            text = "".join(part.get("text", "") for part in item["content"]["parts"])
            vectors.append({"values": [float(len(text)), 0.5]})
        self.requests.append(body)
        return web.Response(
            body=orjson.dumps({"embeddings": vectors}), content_type="application/json"
        )


def _invalid(body: Any) -> str | None:
    contents = body.get("contents") if isinstance(body, dict) else None
    if not isinstance(contents, list) or not contents:
        return "* GenerateContentRequest.contents: contents is not specified"
    for index, content in enumerate(contents):
        if content.get("role") not in ("user", "model"):
            return f"* GenerateContentRequest.contents[{index}].role: must be user or model"
        for part in content.get("parts") or ():
            answer = part.get("functionResponse")
            if answer is not None and not isinstance(answer.get("response"), dict):
                return "functionResponse.response must be an object"
    return None


_TOOL_KINDS = {
    *("functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution"),
    *("urlContext", "fileSearch", "googleMaps", "computerUse"),
}


def _tools_problem(model: str, body: dict[str, Any]) -> str | None:
    tools = body.get("tools", [])
    if not isinstance(tools, list):
        return "* GenerateContentRequest.tools: must be a list"
    for index, tool in enumerate(tools):
        if not isinstance(tool, dict) or len(tool) != 1 or not set(tool) <= _TOOL_KINDS:
            return f"* GenerateContentRequest.tools[{index}]: set exactly one kind of tool"
    kinds = {kind for tool in tools for kind in tool}
    if not {"googleSearch", "functionDeclarations"} <= kinds:
        return None
    if not model.startswith("gemini-3"):
        return "Tool use with function calling is unsupported by the model."
    config = body.get("toolConfig")
    if isinstance(config, dict) and config.get("includeServerSideToolInvocations") is True:
        return None
    return (
        "Please enable tool_config.include_server_side_tool_invocations to use Built-in tools"
        " with Function calling."
    )


# Models whose maxOutputTokens range the fake enforces as Gemini does (a 400, not a cut).
OUTPUT_LIMITS = {"gemini-2.5-pro": 65_536, "gemini-2.5-flash": 65_536}


def _over_output_limit(model: str, body: dict[str, Any]) -> str | None:
    most = OUTPUT_LIMITS.get(model)
    config = body.get("generationConfig") or {}
    asked = config.get("maxOutputTokens") if isinstance(config, dict) else None
    if most is None or not isinstance(asked, int) or asked <= most:
        return None
    return (
        f"Unable to submit request because it has a maxOutputTokens value of {asked} but the"
        f" supported range is from 1 (inclusive) to {most + 1} (exclusive)."
    )


def _error(status: int, code: str, message: str) -> web.Response:
    body = {"error": {"code": status, "message": message, "status": code}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
