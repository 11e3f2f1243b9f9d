"""Strict local fakes of each provider's model listing, on 127.0.0.1.

Each answers in its provider's documented shape and refuses what the provider refuses:

* ``FakeOpenAIModels``: ``GET /v1/models`` (``{"object": "list", "data": [...]}``); a
  missing or wrong ``Authorization: Bearer`` key is a 401 in OpenAI's error shape. With
  ``prefix="/compatible-mode/v1"`` and ``dashscope=True`` it is DashScope's compatible
  mode (its errors carry a ``request_id``).
* ``FakeAnthropicModels``: ``GET /v1/models?limit=&after_id=`` with ``has_more``,
  ``first_id`` and ``last_id``; ``x-api-key`` only (401 ``authentication_error``),
  ``anthropic-version`` required (400), ``limit`` from 1 to 1000 (default 20).
* ``FakeGeminiModels``: ``GET /v1beta/models?pageSize=&pageToken=`` with
  ``nextPageToken`` (left out on the last page); the key in ``x-goog-api-key`` or
  ``?key=``: none is 403 ``PERMISSION_DENIED``, a wrong one 400 ``API_KEY_INVALID``.
  ``pageSize`` defaults to 50, more than 1000 counts as 1000.
* ``FakeBedrockModels``: the control plane's ``GET /foundation-models`` (its ``by...``
  filters) and ``GET /inference-profiles?maxResults=&nextToken=&type=``; a SigV4
  signature botocore reproduces over the request as received (service ``bedrock``,
  fresh ``x-amz-date``) or a Bedrock API key as a bearer token, else 403 in Bedrock's
  error shape; ``maxResults`` over 1000 is a 400 ``ValidationException``.

``page_cap`` makes a fake answer fewer items per page than asked, as a server may, so a
client's paging is exercised. ``requests`` records every request as it arrived. Use
``async with`` in async tests, or ``serving(fake)`` for the CLI's synchronous runner.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import threading
import time
from calendar import timegm
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

OPENAI_KEY = "sk-canary-models-openai"
ANTHROPIC_KEY = "sk-ant-canary-models"
GEMINI_KEY = "AIzaCanaryModelsGemini000"
BEDROCK_ACCESS = "AKIDFAKEMODELS0001"
BEDROCK_SECRET = "fake/Secret+Key/for/Bedrock/models01"
MAX_SKEW_SECONDS = 300

OPENAI_MODELS = ("gpt-4o", "gpt-4o-mini", "o3-mini", "text-embedding-3-small", "whisper-1")
ANTHROPIC_MODELS = (  # newest first, as the API lists them
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-22T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
)
_GENERATE = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]
GEMINI_MODELS: tuple[dict[str, Any], ...] = (
    {"name": "models/gemini-2.5-pro", "displayName": "Gemini 2.5 Pro", "methods": _GENERATE},
    {"name": "models/gemini-2.5-flash", "displayName": "Gemini 2.5 Flash", "methods": _GENERATE},
    {
        "name": "models/gemini-embedding-001",
        "displayName": "Gemini Embedding 001",
        "methods": ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"],
    },
    {"name": "models/imagen-4.0-generate-001", "displayName": "Imagen 4", "methods": ["predict"]},
    {
        "name": "models/aqa",
        "displayName": "Model that performs AQA.",
        "methods": ["generateAnswer"],
    },
)
_ARN = "arn:aws:bedrock:{region}::foundation-model/{model}"
BEDROCK_FOUNDATION: tuple[dict[str, Any], ...] = (
    {
        "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "inferenceTypesSupported": ["ON_DEMAND", "INFERENCE_PROFILE"],
    },
    {
        "modelId": "anthropic.claude-sonnet-4-20250514-v1:0",
        "providerName": "Anthropic",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["TEXT"],
        "inferenceTypesSupported": ["INFERENCE_PROFILE"],
    },
    {
        "modelId": "amazon.nova-pro-v1:0",
        "providerName": "Amazon",
        "inputModalities": ["TEXT", "IMAGE", "VIDEO"],
        "outputModalities": ["TEXT"],
        "inferenceTypesSupported": ["ON_DEMAND", "INFERENCE_PROFILE"],
    },
    {
        "modelId": "amazon.titan-embed-text-v2:0",
        "providerName": "Amazon",
        "inputModalities": ["TEXT"],
        "outputModalities": ["EMBEDDING"],
        "inferenceTypesSupported": ["ON_DEMAND"],
    },
    {
        "modelId": "stability.sd3-5-large-v1:0",
        "providerName": "Stability AI",
        "inputModalities": ["TEXT", "IMAGE"],
        "outputModalities": ["IMAGE"],
        "inferenceTypesSupported": ["ON_DEMAND"],
    },
)
BEDROCK_PROFILES: tuple[tuple[str, str], ...] = (  # (profile id, the model it routes to)
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"),
    ("us.amazon.nova-pro-v1:0", "amazon.nova-pro-v1:0"),
    ("us.stability.sd3-5-large-v1:0", "stability.sd3-5-large-v1:0"),
)

Server = TypeVar("Server", bound="ListingServer")


@dataclass(frozen=True, slots=True)
class Seen:
    """One request as it reached a fake."""

    method: str
    path: str  # raw, with the query
    headers: dict[str, str]  # lower-case names


class ListingServer:
    """An aiohttp app on a free loopback port; subclasses add routes in ``routes``."""

    def __init__(self, page_cap: int | None = None) -> None:
        self.page_cap = page_cap
        self.requests: list[Seen] = []
        self.base_url = ""
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def page_size(self, asked: int) -> int:
        return asked if self.page_cap is None else min(asked, self.page_cap)

    def seen(self, request: web.Request) -> None:
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.requests.append(Seen(request.method, request.raw_path, headers))

    async def __aenter__(self: Server) -> Server:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


@contextmanager
def serving(fake: Server) -> Iterator[Server]:
    """Run ``fake`` in a thread of its own (for the CLI runner, which blocks its caller)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-models", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fake.__aenter__(), loop).result(timeout=10)
        try:
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(fake.__aexit__(), loop).result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(token: str) -> int | None:
    try:
        kind, _, value = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
    except ValueError:
        return None
    return int(value) if kind == "offset" and value.isdigit() else None


def _integer(text: str | None, default: int) -> int | None:
    """A query integer (``default`` when absent); None when it is not one."""
    if text is None:
        return default
    return int(text) if text.isdigit() else None


class FakeOpenAIModels(ListingServer):
    """OpenAI's ``GET /v1/models``, or DashScope's compatible mode's."""

    def __init__(
        self,
        key: str = OPENAI_KEY,
        models: Sequence[str] = OPENAI_MODELS,
        *,
        prefix: str = "/v1",
        dashscope: bool = False,
        status: int = 200,
    ) -> None:
        super().__init__()
        self.key, self.models, self.prefix = key, list(models), prefix
        self.dashscope, self.status = dashscope, status

    @property
    def api_base(self) -> str:
        """The channel base URL (SDK style, ending at the API root)."""
        return self.base_url + self.prefix

    def routes(self, app: web.Application) -> None:
        app.router.add_get(f"{self.prefix}/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        self.seen(request)
        given = request.headers.get("Authorization", "")
        if not given.startswith("Bearer "):
            return self._error(401, "You didn't provide an API key.", None)
        if given.removeprefix("Bearer ") != self.key:
            return self._error(401, "Incorrect API key provided.", "invalid_api_key")
        if self.status != 200:
            return self._error(self.status, "The server had an error.", None)
        owner = "system" if self.dashscope else "openai"
        data = [
            {"id": model, "object": "model", "created": 1_715_367_049, "owned_by": owner}
            for model in self.models
        ]
        return _json(200, {"object": "list", "data": data})

    def _error(self, status: int, message: str, code: str | None) -> web.Response:
        kind = "invalid_request_error" if status < 500 else "server_error"
        error = {"message": message, "type": kind, "param": None, "code": code}
        body: dict[str, Any] = {"error": error}
        if self.dashscope:
            body["request_id"] = "5f1c0e2a-0000-0000-0000-000000000000"
        return _json(status, body)


class FakeAnthropicModels(ListingServer):
    """Anthropic's ``GET /v1/models``, newest first, paged by ``after_id``."""

    def __init__(
        self,
        key: str = ANTHROPIC_KEY,
        models: Sequence[tuple[str, str, str]] = ANTHROPIC_MODELS,
        *,
        page_cap: int | None = None,
    ) -> None:
        super().__init__(page_cap)
        self.key, self.models = key, list(models)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        self.seen(request)
        if "x-api-key" not in request.headers:
            return _anthropic_error(401, "authentication_error", "x-api-key header is required")
        if request.headers["x-api-key"] != self.key:
            return _anthropic_error(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return _anthropic_error(
                400, "invalid_request_error", "anthropic-version: header is required"
            )
        limit = _integer(request.query.get("limit"), 20)
        if limit is None or not 1 <= limit <= 1000:
            return _anthropic_error(
                400, "invalid_request_error", "limit: Input should be between 1 and 1000"
            )
        ids = [model for model, _, _ in self.models]
        after = request.query.get("after_id")
        if after is not None and after not in ids:
            return _anthropic_error(400, "invalid_request_error", f"after_id: unknown {after}")
        start = 0 if after is None else ids.index(after) + 1
        page = self.models[start : start + self.page_size(limit)]
        data = [
            {"type": "model", "id": model, "display_name": name, "created_at": created}
            for model, name, created in page
        ]
        return _json(
            200,
            {
                "data": data,
                "has_more": start + len(page) < len(self.models),
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            },
        )


def _anthropic_error(status: int, kind: str, message: str) -> web.Response:
    return _json(status, {"type": "error", "error": {"type": kind, "message": message}})


class FakeGeminiModels(ListingServer):
    """The Gemini API's ``GET /v1beta/models`` (and ``/v1/models``), paged by token."""

    def __init__(
        self,
        key: str = GEMINI_KEY,
        models: Sequence[dict[str, Any]] = GEMINI_MODELS,
        *,
        page_cap: int | None = None,
    ) -> None:
        super().__init__(page_cap)
        self.key, self.models = key, list(models)

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1beta/models", self._models)
        app.router.add_get("/v1/models", self._models)

    async def _models(self, request: web.Request) -> web.Response:
        self.seen(request)
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not key:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established"
                " identity). Please use API Key or other form of API consumer identity to"
                " call this API.",
            )
        if key != self.key:
            return _google_error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
            )
        size = _integer(request.query.get("pageSize"), 50)
        token = request.query.get("pageToken")
        start = 0 if not token else _offset(token)
        if size is None or start is None:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid page size or page token.")
        end = start + self.page_size(min(size or 50, 1000))
        body: dict[str, Any] = {}
        page = [self._card(model) for model in self.models[start:end]]
        if page:
            body["models"] = page
        if end < len(self.models):
            body["nextPageToken"] = _cursor(end)
        return _json(200, body)

    @staticmethod
    def _card(model: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": model["name"],
            "version": "001",
            "displayName": model["displayName"],
            "description": model["displayName"],
            "inputTokenLimit": 1_048_576,
            "outputTokenLimit": 65_536,
            "supportedGenerationMethods": model["methods"],
        }


def _google_error(status: int, reason: str, message: str) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": reason}
    if reason == "INVALID_ARGUMENT" and "API key" in message:
        error["details"] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            }
        ]
    return _json(status, {"error": error})


class BedrockRefusal(Exception):
    def __init__(self, status: int, name: str, message: str) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message

    def response(self) -> web.Response:
        namespace = "http://internal.amazon.com/coral/com.amazon.coral.service/"
        headers = {"x-amzn-ErrorType": f"{self.name}:{namespace}"}
        return _json(self.status, {"message": self.message}, headers)


class FakeBedrockModels(ListingServer):
    """Bedrock's control plane: ListFoundationModels and ListInferenceProfiles."""

    def __init__(
        self,
        access_key: str = BEDROCK_ACCESS,
        secret_key: str = BEDROCK_SECRET,
        *,
        api_key: str | None = None,
        region: str = "us-east-1",
        foundation: Sequence[dict[str, Any]] = BEDROCK_FOUNDATION,
        profiles: Sequence[tuple[str, str]] = BEDROCK_PROFILES,
        page_cap: int | None = None,
    ) -> None:
        super().__init__(page_cap)
        self.access_key, self.secret_key, self.api_key = access_key, secret_key, api_key
        self.region, self.foundation, self.profiles = region, list(foundation), list(profiles)

    @property
    def key(self) -> str:
        """The channel key for these credentials: ``ACCESS:SECRET``."""
        return f"{self.access_key}:{self.secret_key}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/foundation-models", self._guarded(self._foundation))
        app.router.add_get("/inference-profiles", self._guarded(self._profiles))

    def _guarded(self, answer: Any) -> Any:
        async def handle(request: web.Request) -> web.Response:
            self.seen(request)
            try:
                self._authenticate(request)
                return answer(request)
            except BedrockRefusal as refusal:
                return refusal.response()

        return handle

    def _foundation(self, request: web.Request) -> web.Response:
        filters = {
            "byProvider": lambda m, v: m["providerName"].lower() == v.lower(),
            "byOutputModality": lambda m, v: v in m["outputModalities"],
            "byInferenceType": lambda m, v: v in m["inferenceTypesSupported"],
        }
        models = self.foundation
        for name, value in request.query.items():
            if name not in filters:
                raise BedrockRefusal(400, "ValidationException", f"Unknown parameter {name}")
            models = [m for m in models if filters[name](m, value)]
        return _json(200, {"modelSummaries": [self._summary(model) for model in models]})

    def _summary(self, model: dict[str, Any]) -> dict[str, Any]:
        arn = _ARN.format(region=self.region, model=model["modelId"])
        return {
            "modelArn": arn,
            "modelName": model["modelId"].split(".")[1],
            "responseStreamingSupported": True,
            "customizationsSupported": [],
            "modelLifecycle": {"status": "ACTIVE"},
            **model,
        }

    def _profiles(self, request: web.Request) -> web.Response:
        size = _integer(request.query.get("maxResults"), 1000)
        token = request.query.get("nextToken")
        start = 0 if token is None else _offset(token)
        if size is None or not 1 <= size <= 1000 or start is None:
            raise BedrockRefusal(
                400, "ValidationException", "maxResults must be 1 to 1000 with a valid nextToken"
            )
        wanted = request.query.get("type", "SYSTEM_DEFINED")
        listed = self.profiles if wanted == "SYSTEM_DEFINED" else []
        end = start + self.page_size(size)
        body: dict[str, Any] = {
            "inferenceProfileSummaries": [self._profile(*item) for item in listed[start:end]]
        }
        if end < len(listed):
            body["nextToken"] = _cursor(end)
        return _json(200, body)

    def _profile(self, profile: str, model: str) -> dict[str, Any]:
        regions = ("us-east-1", "us-east-2", "us-west-2")
        return {
            "inferenceProfileName": f"US {model}",
            "inferenceProfileId": profile,
            "inferenceProfileArn": f"arn:aws:bedrock:{self.region}:123456789012:"
            f"inference-profile/{profile}",
            "models": [{"modelArn": _ARN.format(region=r, model=model)} for r in regions],
            "status": "ACTIVE",
            "type": "SYSTEM_DEFINED",
            "createdAt": "2025-05-22T00:00:00Z",
            "updatedAt": "2025-05-22T00:00:00Z",
        }

    def _authenticate(self, request: web.Request) -> None:
        given = request.headers.get("Authorization", "")
        if given.startswith("Bearer "):
            if self.api_key is None or given.removeprefix("Bearer ") != self.api_key:
                raise BedrockRefusal(
                    403, "UnrecognizedClientException", "The security token is invalid."
                )
            return
        if not given:
            raise BedrockRefusal(
                403, "MissingAuthenticationTokenException", "Missing Authentication Token"
            )
        fields = dict(
            part.strip().split("=", 1)
            for part in given.removeprefix("AWS4-HMAC-SHA256 ").split(",")
        )
        access, _, scope = fields.get("Credential", "").partition("/")
        stamp = request.headers.get("x-amz-date", "")
        if access != self.access_key:
            raise BedrockRefusal(
                403, "UnrecognizedClientException", "The security token is invalid."
            )
        if scope != f"{stamp[:8]}/{self.region}/bedrock/aws4_request":
            raise BedrockRefusal(403, "InvalidSignatureException", f"Credential scope {scope}")
        if abs(time.time() - timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))) > MAX_SKEW_SECONDS:
            raise BedrockRefusal(403, "InvalidSignatureException", "Signature expired")
        signed = fields.get("SignedHeaders", "").split(";")
        if not {"host", "x-amz-date"} <= set(signed):
            raise BedrockRefusal(403, "InvalidSignatureException", "host and x-amz-date unsigned")
        if not hmac.compare_digest(
            self._signature(request, signed, stamp), fields.get("Signature", "")
        ):
            raise BedrockRefusal(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match.",
            )

    def _signature(self, request: web.Request, signed: list[str], stamp: str) -> str:
        """The signature botocore computes for this request as received."""
        headers = {name: ",".join(request.headers.getall(name, [])) for name in signed}
        url = f"http://{request.headers.get('Host', '')}{request.raw_path}"
        aws = AWSRequest(method=request.method, url=url, data=b"", headers=headers)
        aws.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key), "bedrock", self.region)
        return signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
