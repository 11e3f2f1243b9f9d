"""A strict fake of Azure OpenAI on 127.0.0.1, replaying recorded answers (PROTOCOLS 5).

Both URL schemes: classic ``/openai/deployments/{deployment}/{operation}?api-version=...``
and v1 ``/openai/v1/{operation}`` with the deployment as ``model``. It rejects what Azure
rejects: no ``api-key`` header or a wrong one (401; an ``Authorization: Bearer`` is taken
for an Entra token and refused too), a classic call without a known ``api-version`` (404
``Resource not found``), a dated version on v1 (400), an unknown deployment (404
``DeploymentNotFound``), a chat call to an embeddings deployment and the reverse (400),
``stream_options`` on classic versions older than 2024-09-01 (400). Streams replay the
recording whose first chunk is the prompt-filter chunk, re-chunked at random byte
boundaries, with a usage chunk when asked for and optionally a ``content_filter`` finish.
Image (generations, edits) and audio operations answer as OpenAI's (``openai_media``), for
the model behind the deployment.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from tests.fakes.openai_media import OPERATIONS, FakeMedia
from tests.fakes.openai_upstream import RecordedRequest, event_data, recorded_events
from tests.fakes.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure"
MEDIA_OPERATIONS = frozenset(OPERATIONS) - {"images/variations"}
DEFAULT_DEPLOYMENTS = {
    "gpt-4": "gpt-4o-2024-11-20",
    "prod-4": "gpt-4o-2024-11-20",
    "embed-small": "text-embedding-3-small",
    "dall-e-3": "dall-e-3",
    "painter": "gpt-image-1",
    "tts": "tts-1",
    "whisper": "whisper-1",
}
API_VERSIONS = frozenset(
    [
        "2023-05-15",
        "2024-02-01",
        "2024-06-01",
        "2024-10-21",
        "2023-12-01-preview",
        "2024-02-15-preview",
        "2024-05-01-preview",
        "2024-07-01-preview",
        "2024-08-01-preview",
        "2024-09-01-preview",
        "2024-10-01-preview",
        "2024-12-01-preview",
        "2025-01-01-preview",
        "2025-03-01-preview",
        "2025-04-01-preview",
    ]
)
V1_VERSIONS = frozenset(("preview", "latest"))
RESPONSES_VERSIONS = frozenset(("2025-03-01-preview", "2025-04-01-preview"))  # before v1
RESPONSES_RECORDING = "responses_stream_text.sse"  # OpenAI's, as Azure answers the same API
STREAM_OPTIONS_SINCE = "2024-09-01"
BAD_KEY = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
    "provide a valid key for an active subscription and use a correct regional API endpoint "
    "for your resource."
)
BAD_TOKEN = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)
NO_DEPLOYMENT = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)
FILTERED = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": True, "severity": "medium"},
}


class AzureError(Exception):
    """An Azure error answer: ``{"error": {...}}`` with the given status."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.status, self.error = status, error

    def response(self) -> web.Response:
        body = orjson.dumps({"error": self.error})
        return web.Response(status=self.status, body=body, content_type="application/json")


def _coded(status: int, code: str, message: str) -> AzureError:
    """Azure's own error shape (platform errors): a string code and a message."""
    return AzureError(status, {"code": code, "message": message})


def _invalid(message: str, param: str | None = None) -> AzureError:
    """The OpenAI-shaped 400 the model service answers for a bad body."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    return AzureError(400, error)


class FakeAzure(ReplayServer):
    """``async with FakeAzure(key) as fake``: ``fake.base_url`` (the resource), ``fake.requests``.

    ``deployments`` maps deployment names to the models behind them; ``stream_usage`` is the
    (prompt, completion) figure of the usage chunk; ``content_filter`` ends streams with a
    filtered choice.
    """

    def __init__(
        self,
        key: str = "0123456789abcdef0123456789abcdef",
        *,
        deployments: dict[str, str] | None = None,
        stream_usage: tuple[int, int] = (16, 4),
        content_filter: bool = False,
        seed: int = 13,
    ) -> None:
        self.key = key
        self.deployments = dict(DEFAULT_DEPLOYMENTS if deployments is None else deployments)
        self.stream_usage = stream_usage
        self.content_filter = content_filter
        self.media = FakeMedia()  # images and audio (no variations: Azure has no DALL-E 2)
        super().__init__(seed)
        self.requests: list[RecordedRequest] = []
        self.stored: dict[str, dict[str, Any]] = {}  # Responses by id (unless store: false)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/openai/deployments/{deployment}/{operation:.+}", self._classic)
        app.router.add_post("/openai/responses", self._classic_responses)
        app.router.add_post("/openai/v1/{operation:.+}", self._v1)
        for method in ("GET", "DELETE"):
            app.router.add_route(method, "/openai/v1/responses/{id}", self._stored)
            app.router.add_route(method, "/openai/responses/{id}", self._stored)

    async def _classic_responses(self, request: web.Request) -> web.StreamResponse:
        """The Responses API before v1: at the resource, ``?api-version=`` a preview."""
        try:
            raw = await self._receive(request)
            if request.query.get("api-version") not in RESPONSES_VERSIONS:
                raise _coded(404, "404", "Resource not found")
            return await self._responses(request, _json_body(raw))
        except AzureError as error:
            return error.response()

    async def _responses(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        """A recorded Responses answer from the deployment ``model`` names (its model
        echoed as Azure does: the deployment's model); stored unless ``store`` is false."""
        deployment = body.get("model")
        if not isinstance(deployment, str) or not deployment:
            raise _invalid("Missing required parameter: 'model'.", "model")
        if "max_tokens" in body or not isinstance(body.get("input"), str | list):
            raise _invalid("Invalid Responses request: 'input' is required.", "input")
        model = self._deployed(deployment)
        events = recorded_events(RESPONSES_RECORDING)
        completed = event_data(events[-1])["response"]
        completed["model"] = model
        if body.get("store") is not False:
            self.stored[completed["id"]] = completed
        if body.get("stream") is True:
            last = (
                b"event: response.completed\ndata: "
                + orjson.dumps(
                    {
                        "type": "response.completed",
                        "sequence_number": len(events) - 1,
                        "response": completed,
                    }
                )
                + b"\n\n"
            )
            return await self.replay_bytes(request, b"".join([*events[:-1], last]))
        return web.json_response(completed)

    async def _stored(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._receive(request)
            response = self.stored.get(request.match_info["id"])
            if response is None:
                raise _coded(404, "404", "Response not found")
            if request.method == "DELETE":
                del self.stored[request.match_info["id"]]
                return web.json_response(
                    {"id": response["id"], "object": "response.deleted", "deleted": True}
                )
            return web.json_response(response)
        except AzureError as error:
            return error.response()

    async def _classic(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await self._receive(request)
            version = request.query.get("api-version")
            if version not in API_VERSIONS:
                raise _coded(404, "404", "Resource not found")
            deployment = request.match_info["deployment"]
            operation = request.match_info["operation"]
            if operation in MEDIA_OPERATIONS:  # the deployment's model, whatever the body says
                model = self._deployed(deployment)
                return await self.media.serve(request, raw, operation, model)
            return await self._operate(request, deployment, _json_body(raw), version)
        except AzureError as error:
            return error.response()

    async def _v1(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = await self._receive(request)
            version = request.query.get("api-version")
            if version is not None and version not in V1_VERSIONS:
                raise _coded(400, "BadRequest", "API version not supported")
            operation = request.match_info["operation"]
            if operation in MEDIA_OPERATIONS:  # the body's model names the deployment
                return await self.media.serve(request, raw, operation, deployed=self._deployed)
            body = _json_body(raw)
            if operation == "responses":
                return await self._responses(request, body)
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise _invalid("you must provide a model parameter", "model")
            return await self._operate(request, model, body, None)
        except AzureError as error:
            return error.response()

    async def _receive(self, request: web.Request) -> bytes:
        """Record the request, check its key and return its body."""
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = None
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        self.requests.append(
            RecordedRequest(request.method, request.path, request.query_string, headers, raw, body)
        )
        self._check_key(request)
        return raw

    def _deployed(self, deployment: str) -> str:
        """The model behind ``deployment``; 404 DeploymentNotFound when there is none."""
        model = self.deployments.get(deployment)
        if model is None:
            raise _coded(404, "DeploymentNotFound", NO_DEPLOYMENT)
        return model

    def _check_key(self, request: web.Request) -> None:
        key = request.headers.get("api-key")
        if key is None and request.headers.get("Authorization"):
            raise _coded(401, "PermissionDenied", BAD_TOKEN)  # not an Entra token
        if key != self.key:
            raise _coded(401, "401", BAD_KEY)

    async def _operate(
        self, request: web.Request, deployment: str, body: dict[str, Any], version: str | None
    ) -> web.StreamResponse:
        model = self._deployed(deployment)
        operation = request.match_info["operation"]
        embedding = model.startswith("text-embedding")
        if operation == "chat/completions" and not embedding:
            return await self._chat(request, body, version)
        if operation == "embeddings" and embedding:
            return _embeddings(body, model)
        if operation in ("chat/completions", "embeddings"):
            name = "chatCompletion" if operation == "chat/completions" else "embeddings"
            raise _coded(
                400,
                "OperationNotSupported",
                f"The {name} operation does not work with the specified model, {model}. "
                "Please choose different model and try again.",
            )
        raise _coded(404, "404", "Resource not found")

    async def _chat(
        self, request: web.Request, body: dict[str, Any], version: str | None
    ) -> web.StreamResponse:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _invalid("'messages' is a required property", "messages")
        stream = body.get("stream") is True
        options = body.get("stream_options")
        if options is not None:
            if version is not None and version[:10] < STREAM_OPTIONS_SINCE:
                raise _invalid("Unrecognized request argument supplied: stream_options")
            if not stream:
                raise _invalid(
                    "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                    "stream_options",
                )
        if not stream:
            raw = await asyncio.to_thread((FIXTURES / "chat_nonstream.json").read_bytes)
            return web.Response(body=raw, content_type="application/json")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return await self.replay_bytes(request, await self._stream_bytes(include_usage))

    async def _stream_bytes(self, include_usage: bool) -> bytes:
        path = FIXTURES / "chat_stream_prompt_filter_first_chunk.sse"
        events = (await asyncio.to_thread(path.read_bytes)).split(b"\n\n")
        events = [event for event in events if event.strip()]
        done = events.pop()
        if self.content_filter:
            events[-1] = _filtered(events[-1])
        if include_usage:
            events.append(self._usage_event(events[-1]))
        return b"".join(event + b"\n\n" for event in [*events, done])

    def _usage_event(self, last: bytes) -> bytes:
        head = orjson.loads(last.removeprefix(b"data: "))
        prompt, completion = self.stream_usage
        usage = {
            "completion_tokens": completion,
            "completion_tokens_details": {"reasoning_tokens": 0},
            "prompt_tokens": prompt,
            "prompt_tokens_details": {"cached_tokens": 0},
            "total_tokens": prompt + completion,
        }
        return b"data: " + orjson.dumps({**head, "choices": [], "usage": usage})


def _json_body(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise _invalid("We could not parse the JSON body of your request.")
    return body


def _filtered(event: bytes) -> bytes:
    """The finishing chunk turned into a completion stopped by the content filter."""
    chunk = orjson.loads(event.removeprefix(b"data: "))
    for choice in chunk["choices"]:
        choice["finish_reason"] = "content_filter"
        choice["content_filter_results"] = FILTERED
    return b"data: " + orjson.dumps(chunk)


def _embeddings(body: dict[str, Any], model: str) -> web.Response:
    """OpenAI's embeddings list with a deterministic vector and one token per word."""
    texts = body.get("input")
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise _invalid("'input' is a required property", "input")
    data = [
        {"object": "embedding", "index": index, "embedding": _vector(text)}
        for index, text in enumerate(texts)
    ]
    tokens = sum(max(len(text.split()), 1) for text in texts)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    payload = {"object": "list", "data": data, "model": model, "usage": usage}
    return web.Response(body=orjson.dumps(payload), content_type="application/json")


def _vector(text: str) -> list[float]:
    return [(byte - 128) / 128 for byte in hashlib.sha256(text.encode()).digest()[:8]]
