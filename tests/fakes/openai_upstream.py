"""A strict fake OpenAI upstream on 127.0.0.1, with fault switches and a request record.

It answers ``/v1/chat/completions``, ``/v1/completions``, ``/v1/embeddings``,
``/v1/responses`` (replaying a recorded Responses stream: ``responses_recording``, or the
next of ``responses_script``), ``/v1/responses/input_tokens`` (counting words) and
``/v1/models`` in OpenAI's wire shapes (compact JSON, ``data: [DONE]``, the usage chunk
only when ``stream_options.include_usage`` is true) and rejects what OpenAI rejects: a
missing or wrong key (401), bad JSON or missing parameters (400), ``stream_options``
without ``stream`` (400), unknown models (404). Answers are deterministic: the content
echoes the last user text ("Hello! You said: ...") unless a reply is configured, and
``completion_tokens`` is the number of content pieces sent unless a fixed count is
configured.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
import struct
import threading
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from openai.types.responses.input_token_count_params import InputTokenCountParams

from tests.fakes.model_support import ModelSupport, openai_honoured, openai_refusal
from tests.fakes.openai_media import OPERATIONS as MEDIA_OPERATIONS
from tests.fakes.openai_media import FakeMedia
from tests.fakes.responses_params import PARAMS as RESPONSES_PARAMS
from tests.fakes.responses_params import check_request as check_responses_request

DEFAULT_KEY = "sk-canary-upstream"
DEFAULT_MODELS = (
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4",
    "gpt-3.5-turbo-instruct",
    "text-embedding-3-small",
)
CREATED = 1_735_689_600
DONE = b"data: [DONE]\n\n"
MID_STREAM_ERROR = {
    "error": {"message": "upstream overloaded", "type": "server_error", "param": None, "code": None}
}
_MAX_BODY = 64 * 1024 * 1024
_REQUEST_ID = web.RequestKey("request_id", str)


def _names(words: str) -> frozenset[str]:
    return frozenset(words.split())


_CHAT_PARAMS = _names(
    "model messages temperature top_p max_tokens max_completion_tokens stop n stream "
    "stream_options tools tool_choice parallel_tool_calls response_format seed user "
    "safety_identifier prompt_cache_key prompt_cache_retention frequency_penalty "
    "presence_penalty logit_bias logprobs top_logprobs reasoning_effort metadata store "
    "service_tier modalities audio prediction web_search_options verbosity functions "
    "function_call"
)
_LEGACY_PARAMS = _names(
    "model prompt max_tokens temperature top_p n stream stream_options logprobs echo stop "
    "suffix best_of presence_penalty frequency_penalty logit_bias seed user"
)
_EMBEDDING_PARAMS = _names("model input encoding_format dimensions user")
_RESPONSES_PARAMS = RESPONSES_PARAMS  # the openai SDK's ResponseCreateParams
_INPUT_TOKEN_PARAMS = frozenset(typing.get_type_hints(InputTokenCountParams))
_MODERATION_PARAMS = _names("model input")
_RERANK_PARAMS = _names("model query documents top_n return_documents")
MODERATION_CATEGORIES = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
]
RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "openai"
RESPONSES_MIN_OUTPUT = 16  # OpenAI refuses a smaller max_output_tokens
_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_DEFAULT_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Bad request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("invalid_request_error", "unsupported_country_region_territory", "Forbidden."),
    404: ("invalid_request_error", "model_not_found", "The model does not exist."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests."),
    500: ("server_error", None, "The server had an error while processing your request."),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


class ApiError(Exception):
    """An OpenAI-shaped error answer: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.headers = status, headers or {}
        self.error = {"message": message, "type": type, "param": param, "code": code}

    def response(self) -> web.Response:
        """The JSON error response OpenAI would send."""
        return web.Response(
            status=self.status,
            body=orjson.dumps({"error": self.error}),
            content_type="application/json",
            headers=self.headers,
        )


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as it reached the fake, before any check."""

    method: str
    path: str
    query: str
    headers: CIMultiDictProxy[str]
    body: bytes
    json: Any = None

    @property
    def authorization(self) -> str | None:
        """The Authorization header as received (None when absent)."""
        return self.headers.get("Authorization")


@dataclass(slots=True)
class _Injected:
    error: ApiError
    remaining: int | None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A response the fake made without ``store: false``, kept as OpenAI keeps one: what
    ``GET`` (``?stream=true`` replays its events), ``DELETE`` and ``/input_items`` of
    ``/v1/responses/{id}`` answer."""

    response: dict[str, Any]
    events: list[bytes]
    input_items: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one answer will contain: content pieces, finish reason and usage."""

    pieces: list[str]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0

    def chat_usage(self) -> dict[str, Any]:
        """Chat usage with OpenAI's detail objects."""
        return {
            **self.legacy_usage(),
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def legacy_usage(self) -> dict[str, int]:
        """The three-number usage of legacy completions."""
        total = self.prompt_tokens + self.completion_tokens
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": total,
        }


def split_words(text: str) -> list[str]:
    """Word pieces with their leading whitespace, joining back to exactly ``text``."""
    pieces = re.findall(r"\s*\S+", text)
    tail = text[len("".join(pieces)) :]
    if tail:
        pieces = [*pieces[:-1], pieces[-1] + tail] if pieces else [tail]
    return pieces


def split_even(text: str, count: int) -> list[str]:
    """``text`` cut into ``count`` near-equal pieces (fewer if it is shorter)."""
    count = min(max(count, 1), len(text))
    size, extra = divmod(len(text), count) if count else (0, 0)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(text[start:end])
        start = end
    return pieces


def embed(text: str, dim: int) -> list[float]:
    """A deterministic vector of float32-exact values in [-1, 1] derived from ``text``."""
    digest = hashlib.sha256(text.encode()).digest() * (dim // 32 + 1)
    raw = [(byte - 127.5) / 127.5 for byte in digest[:dim]]
    return list(struct.unpack(f"<{dim}f", struct.pack(f"<{dim}f", *raw)))


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def chat_events(head: dict[str, Any], plan: Plan, include_usage: bool) -> list[bytes]:
    """The SSE events of a chat stream, exactly as OpenAI orders and shapes them."""
    tail: dict[str, Any] = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**head, "choices": [choice], **tail})

    events = [chunk({"role": "assistant", "content": "", "refusal": None}, None)]
    events += [chunk({"content": piece}, None) for piece in plan.pieces]
    events.append(chunk({}, plan.finish_reason))
    if include_usage:
        events.append(_sse({**head, "choices": [], "usage": plan.chat_usage()}))
    return [*events, DONE]


def legacy_events(head: dict[str, Any], plan: Plan, include_usage: bool) -> list[bytes]:
    """The SSE events of a legacy text-completion stream."""
    model = {"model": head["model"]}
    tail: dict[str, Any] = {"usage": None} if include_usage else {}
    base = {key: head[key] for key in ("id", "object", "created")}

    def chunk(text: str, finish: str | None) -> bytes:
        choice = {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice], **model, **tail})

    events = [chunk(piece, None) for piece in plan.pieces]
    events.append(chunk("", plan.finish_reason))
    if include_usage:
        events.append(_sse({**base, "choices": [], **model, "usage": plan.legacy_usage()}))
    return [*events, DONE]


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            "but what was sent was not valid JSON.)",
        )
    return body


def _check_known(body: dict[str, Any], known: frozenset[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise ApiError(
            400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0]
        )


def _missing(param: str) -> ApiError:
    return ApiError(
        400,
        f"Missing required parameter: '{param}'.",
        param=param,
        code="missing_required_parameter",
    )


def _invalid_type(param: str, expected: str) -> ApiError:
    return ApiError(
        400, f"Invalid type for '{param}': expected {expected}.", param=param, code="invalid_type"
    )


def _require_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise _missing("messages")
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array of objects")
    if not messages:
        raise ApiError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, "
            "but got an empty array instead.",
            param="messages",
            code="empty_array",
        )
    for index, message in enumerate(messages):
        _check_message(index, message)
    return messages


def _check_message(index: int, message: Any) -> None:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise _invalid_type(param, "an object")
    if "role" not in message:
        raise _missing(f"{param}.role")
    if message["role"] not in _ROLES:
        raise ApiError(
            400,
            f"Invalid value: '{message['role']}'. Supported values are: {', '.join(_ROLES)}.",
            param=f"{param}.role",
            code="invalid_value",
        )


def _stream_flag(body: dict[str, Any]) -> bool:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _invalid_type("stream", "a boolean")
    return stream is True


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [part.get("text", "") for part in content if isinstance(part, dict)]
        return " ".join(part for part in parts if isinstance(part, str))
    return ""


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    users = [m for m in messages if m.get("role") == "user"]
    return _text_of(users[-1].get("content")) if users else ""


def _words(texts: Iterable[str]) -> int:
    return sum(len(text.split()) for text in texts)


def _prompt_texts(prompt: Any) -> list[str]:
    """Legacy/embedding inputs as texts; token-id lists count one word per id."""
    if isinstance(prompt, str):
        return [prompt]
    texts: list[str] = []
    for item in prompt:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, int):
            texts.append(str(item))
        else:
            texts.append(" ".join(str(token) for token in item))
    return texts


def _check_input(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name)
    if value is None:
        raise _missing(name)
    if not (value and (isinstance(value, str) or _input_list(value))):
        raise ApiError(400, f"'$.{name}' is invalid. Please check the API reference.", param=name)
    return _prompt_texts(value)


def _input_list(value: Any) -> bool:
    """A non-empty list of non-empty strings, of token ids, or of token-id lists."""
    if not isinstance(value, list):
        return False
    if all(isinstance(item, str) and item for item in value):
        return True
    if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return True
    return all(_int_list(item) and item for item in value)


def _int_list(item: Any) -> bool:
    return isinstance(item, list) and all(isinstance(token, int) for token in item)


# Models whose answer-token limit the fake enforces as OpenAI does (a 400, not a cut).
OUTPUT_LIMITS = {"gpt-4o": 16_384, "gpt-4o-mini": 16_384}


def _check_output_limit(model: str, limit: int | None) -> None:
    most = OUTPUT_LIMITS.get(model)
    if most is not None and limit is not None and limit > most:
        raise ApiError(
            400,
            f"max_tokens is too large: {limit}. This model supports at most {most} completion"
            f" tokens, whereas you provided {limit}.",
            param="max_tokens",
            code="invalid_value",
        )


def _positive_int(body: dict[str, Any], names: Sequence[str], default: int | None) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid_type(name, "an integer")
        if value < 1:
            raise ApiError(
                400,
                f"Invalid '{name}': integer below minimum value. Expected a value >= 1, "
                f"but got {value} instead.",
                param=name,
                code="integer_below_min_value",
            )
        return value
    return default


def recorded_events(name: str) -> list[bytes]:
    """The raw SSE events of a recording in tests/fixtures/openai, blank lines included."""
    raw = (RECORDINGS / name).read_bytes()
    return [event + b"\n\n" for event in raw.split(b"\n\n") if event.strip()]


def event_data(event: bytes) -> dict[str, Any]:
    """The JSON object of a one-``data:``-line event."""
    line = next(line for line in event.split(b"\n") if line.startswith(b"data:"))
    data: dict[str, Any] = orjson.loads(line[5:])
    return data


def _check_response_body(body: dict[str, Any]) -> bool:
    """Responses' own checks (model and input required, stream_options only when streaming,
    OpenAI's minimum output limit); whether the request streams."""
    for name in ("model", "input"):
        if body.get(name) is None:
            raise _missing(name)
    if not isinstance(body["input"], str | list):
        raise _invalid_type("input", "a string or an array of input items")
    stream = _stream_flag(body)
    if body.get("stream_options") is not None and not stream:
        raise ApiError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    limit = _positive_int(body, ("max_output_tokens",), None)
    if limit is not None and limit < RESPONSES_MIN_OUTPUT:
        raise ApiError(
            400,
            "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
            f"{RESPONSES_MIN_OUTPUT}, but got {limit} instead.",
            param="max_output_tokens",
            code="integer_below_min_value",
        )
    return stream


def _check_response_values(body: dict[str, Any]) -> None:
    """Input item, tool, ``include``, ``reasoning`` and ``text`` values OpenAI accepts."""
    rejection = check_responses_request(body)
    if rejection is not None:
        raise ApiError(400, rejection.message, param=rejection.param, code=rejection.code)


def chat_completion(head: dict[str, Any], plan: Plan, with_usage: bool) -> dict[str, Any]:
    """A non-stream ``chat.completion`` object."""
    message = {"role": "assistant", "content": "".join(plan.pieces), "refusal": None}
    choice = {"index": 0, "message": {**message, "annotations": []}, "logprobs": None}
    payload = {**head, "choices": [{**choice, "finish_reason": plan.finish_reason}]}
    return {**payload, "usage": plan.chat_usage()} if with_usage else payload


def legacy_completion(head: dict[str, Any], plan: Plan, with_usage: bool) -> dict[str, Any]:
    """A non-stream ``text_completion`` object."""
    choice = {"text": "".join(plan.pieces), "index": 0, "logprobs": None}
    payload = {**head, "choices": [{**choice, "finish_reason": plan.finish_reason}]}
    return {**payload, "usage": plan.legacy_usage()} if with_usage else payload


def _encode_vector(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


Endpoint = Callable[[web.Request, RecordedRequest], Any]


class FakeOpenAI:
    """The fake server. ``async with FakeOpenAI(key) as fake:`` then use ``fake.base_url``.

    Configuration (attributes, changeable at runtime): ``key`` (and ``other_keys``, a set of
    further keys the account accepts), ``models`` (None accepts any
    model), ``reply`` (None echoes; a string, or a list of exact pieces), ``chunks`` (None
    splits the reply into words; N cuts it into N pieces), ``chunk_delay`` (seconds between
    stream events), ``prompt_tokens`` / ``completion_tokens`` (None counts words / pieces),
    ``cached_tokens``, ``embedding_dim``. Fault switches: see ``clear_faults``.
    """

    def __init__(
        self,
        key: str = DEFAULT_KEY,
        *,
        models: Iterable[str] | None = None,
        reply: str | Sequence[str] | None = None,
        chunks: int | None = None,
        chunk_delay: float = 0.0,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        cached_tokens: int = 0,
        embedding_dim: int = 8,
        support: ModelSupport | None = None,
    ) -> None:
        self.key = key
        self.other_keys: set[str] = set()
        # None: chat takes any feature and answers with text; a ModelSupport: chat refuses
        # what the model lacks as OpenAI does and honours the rest (``model_support``).
        self.support = support
        self.models = tuple(models) if models is not None else None
        self.reply, self.chunks, self.chunk_delay = reply, chunks, chunk_delay
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens
        self.cached_tokens, self.embedding_dim = cached_tokens, embedding_dim
        self.responses_recording = "responses_stream_text.sse"  # what /v1/responses replays
        self.stored_responses: dict[str, StoredResponse] = {}  # by id
        # Recordings the next /v1/responses requests replay, one each, in order (a tool call,
        # then the text after it); once used up, ``responses_recording`` answers.
        self.responses_script: list[str] = []
        # What /v1/rerank reports: "tokens" (Jina/vLLM usage.total_tokens), "search_units"
        # (Cohere's meta.billed_units), or "none".
        self.rerank_usage = "tokens"
        self.search_units = 1
        self.media = FakeMedia()  # /v1/images/* and /v1/audio/* (tests/fakes/openai_media.py)
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._serial = 0
        self.open_streams = 0
        self.clear_faults()
        self.reset()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what an OpenAI client takes as base_url."""
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self) -> None:
        """Listen on 127.0.0.1 with an OS-assigned port."""
        self._closing = False
        self._runner = web.AppRunner(
            self._app(), handler_cancellation=True, access_log=None, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop listening; requests still stalled or streaming are cut."""
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def clear_faults(self) -> None:
        """Switch every fault off.

        Switches: ``stall_before_headers`` / ``stall_after_headers`` (seconds),
        ``die_after_chunks`` (close the connection after K body writes, no final chunk),
        ``stall_after_chunks`` (streams: K events, then silence until the caller leaves),
        ``error_after_chunks`` (streams: K events, then ``MID_STREAM_ERROR`` in-band and a clean
        end without ``[DONE]``), ``omit_usage``, ``reject_stream_options``,
        ``allow_unknown_params``, ``linger_before_eof`` (seconds between the last part and the
        end of the body), and the queue filled by ``fail_with``.
        """
        self.stall_before_headers = 0.0
        self.stall_after_headers = 0.0
        self.linger_before_eof = 0.0
        self.die_after_chunks: int | None = None
        self.stall_after_chunks: int | None = None
        self.error_after_chunks: int | None = None
        self.omit_usage = False
        self.reject_stream_options = False
        self.allow_unknown_params = False
        self._injected: list[_Injected] = []

    def fail_with(
        self,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests (None: all) with this OpenAI error; queued."""
        default_type, default_code, default_message = _DEFAULT_ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, "Error.")
        )
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = str(retry_after)
        error = ApiError(
            status,
            message or default_message,
            type=type or default_type,
            param=param,
            code=code or default_code,
            headers=extra,
        )
        self._injected.append(_Injected(error, times))

    def reset(self) -> None:
        """Forget recorded requests and zero the counters (``open_streams`` stays live)."""
        self.requests: list[RecordedRequest] = []
        self.prompt_tokens_served = 0
        self.completion_tokens_served = 0
        self.max_open_streams = self.open_streams
        self.streams_completed = 0
        self.cancelled = 0

    @property
    def open_connections(self) -> int:
        """TCP connections the server holds open now (idle keep-alive ones included)."""
        server = None if self._runner is None else self._runner.server
        return 0 if server is None else len(server.connections)

    @property
    def request_count(self) -> int:
        """How many requests arrived (rejected ones included)."""
        return len(self.requests)

    @property
    def last_request(self) -> RecordedRequest:
        """The most recent request."""
        return self.requests[-1]

    async def wait_until(self, predicate: Callable[[], bool], within: float = 2.0) -> None:
        """Poll ``predicate`` until true; TimeoutError after ``within`` seconds."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {within} s")
            await asyncio.sleep(0.005)

    def wait_until_blocking(self, predicate: Callable[[], bool], within: float = 2.0) -> None:
        """``wait_until`` for sync tests (the server runs in another thread)."""
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {within} s")
            time.sleep(0.005)

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=_MAX_BODY)
        app.router.add_post("/v1/chat/completions", self._route(self._chat))
        app.router.add_post("/v1/completions", self._route(self._legacy))
        app.router.add_post("/v1/embeddings", self._route(self._embeddings))
        app.router.add_post("/v1/responses", self._route(self._responses))
        app.router.add_post("/v1/responses/input_tokens", self._route(self._input_tokens))
        app.router.add_get("/v1/responses/{id}", self._route(self._retrieve_response))
        app.router.add_delete("/v1/responses/{id}", self._route(self._delete_response))
        app.router.add_get("/v1/responses/{id}/input_items", self._route(self._input_items))
        app.router.add_post("/v1/moderations", self._route(self._moderations))
        app.router.add_post("/v1/rerank", self._route(self._rerank))
        app.router.add_get("/v1/models", self._route(self._models))
        app.router.add_get("/v1/models/{model:.+}", self._route(self._model))
        for operation in MEDIA_OPERATIONS:
            app.router.add_post(f"/v1/{operation}", self._route(self.media.endpoint(operation)))
        app.router.add_route("*", "/{tail:.*}", self._route(self._invalid_url))
        return app

    def _route(self, endpoint: Endpoint) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._dispatch(request, endpoint)

        return handle

    async def _dispatch(self, request: web.Request, endpoint: Endpoint) -> web.StreamResponse:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            record = await self._record(request)
            request[_REQUEST_ID] = f"req_fake{len(self.requests):06d}"
            if self.stall_before_headers:
                await asyncio.sleep(self.stall_before_headers)
            self._check_auth(record)
            self._raise_injected()
            return await endpoint(request, record)
        except ApiError as error:
            response = error.response()
            response.headers["x-request-id"] = request[_REQUEST_ID]
            return response
        except (asyncio.CancelledError, ConnectionError):
            if not self._closing:
                self.cancelled += 1
            raise
        finally:
            self._tasks.discard(task)

    async def _record(self, request: web.Request) -> RecordedRequest:
        body = await request.read()
        try:
            parsed = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = None
        headers = CIMultiDictProxy(CIMultiDict(request.headers))
        record = RecordedRequest(
            request.method, request.path, request.query_string, headers, body, parsed
        )
        self.requests.append(record)
        return record

    def _check_auth(self, record: RecordedRequest) -> None:
        scheme, _, token = (record.authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if token != self.key and token not in self.other_keys:
            masked = f"{token[:3]}{'*' * max(len(token) - 7, 0)}{token[-4:]}"
            raise ApiError(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    def _raise_injected(self) -> None:
        if not self._injected:
            return
        head = self._injected[0]
        if head.remaining is not None:
            head.remaining -= 1
            if head.remaining <= 0:
                self._injected.pop(0)
        error = head.error
        raise ApiError(error.status, headers=error.headers, **error.error)

    def _require_model(self, body: dict[str, Any], known: frozenset[str]) -> str:
        if not self.allow_unknown_params:
            _check_known(body, known)
        model = body.get("model")
        if model is None:
            raise ApiError(400, "you must provide a model parameter", param="model")
        if not isinstance(model, str):
            raise _invalid_type("model", "a string")
        if self.models is not None and model not in self.models:
            raise ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
        return model

    def _include_usage(self, body: dict[str, Any], stream: bool) -> bool:
        options = body.get("stream_options")
        if options is None:
            return False
        if self.reject_stream_options:
            raise ApiError(
                400,
                "Unrecognized request argument supplied: stream_options",
                param="stream_options",
            )
        if not stream:
            raise ApiError(
                400,
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        if not isinstance(options, dict):
            raise _invalid_type("stream_options", "an object")
        return options.get("include_usage") is True and not self.omit_usage

    def _plan(self, echo: str, prompt_words: int, limit: int | None) -> Plan:
        reply = self.reply if self.reply is not None else f"Hello! You said: {echo}"
        if not isinstance(reply, str):
            pieces = list(reply)
        else:
            pieces = split_even(reply, self.chunks) if self.chunks else split_words(reply)
        tokens = len(pieces) if self.completion_tokens is None else self.completion_tokens
        finish = "stop"
        if limit is not None and tokens > limit:
            pieces, tokens, finish = pieces[:limit], limit, "length"
        prompt = self._prompt_count(prompt_words)
        return Plan(pieces, finish, prompt, tokens, min(self.cached_tokens, prompt))

    def _prompt_count(self, words: int) -> int:
        return max(words, 1) if self.prompt_tokens is None else self.prompt_tokens

    def _head(self, prefix: str, obj: str, model: str) -> dict[str, Any]:
        self._serial += 1
        return {
            "id": f"{prefix}-fake{self._serial:06d}",
            "object": obj,
            "created": CREATED,
            "model": model,
        }

    async def _chat(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = _require_object(record.json)
        model = self._require_model(body, _CHAT_PARAMS)
        messages = _require_messages(body)
        stream = _stream_flag(body)
        include_usage = self._include_usage(body, stream)
        limit = _positive_int(body, ("max_completion_tokens", "max_tokens"), None)
        _check_output_limit(model, limit)
        if self.support is not None:
            refusal = openai_refusal(self.support, model, body)
            if refusal is not None:
                raise ApiError(400, refusal.message, param=refusal.param, code=refusal.code)
        words = _words(_text_of(message.get("content")) for message in messages)
        plan = self._plan(_last_user_text(messages), words, limit)
        head = {**self._head("chatcmpl", "chat.completion", model), "system_fingerprint": "fp_fake"}
        if stream:
            chunk_head = {**head, "object": "chat.completion.chunk"}
            return await self._send_stream(
                request, chat_events(chunk_head, plan, include_usage), plan
            )
        payload = chat_completion(head, plan, not self.omit_usage)
        if self.support is not None:
            payload = openai_honoured(self.support, body, payload)
        return await self._send_json(request, payload, plan)

    async def _legacy(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = _require_object(record.json)
        model = self._require_model(body, _LEGACY_PARAMS)
        texts = _check_input(body, "prompt")
        stream = _stream_flag(body)
        include_usage = self._include_usage(body, stream)
        limit = _positive_int(body, ("max_tokens",), 16)
        plan = self._plan(" ".join(texts), _words(texts), limit)
        head = self._head("cmpl", "text_completion", model)
        if stream:
            return await self._send_stream(request, legacy_events(head, plan, include_usage), plan)
        payload = legacy_completion(head, plan, not self.omit_usage)
        return await self._send_json(request, payload, plan)

    async def _embeddings(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        body = _require_object(record.json)
        model = self._require_model(body, _EMBEDDING_PARAMS)
        texts = _check_input(body, "input")
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise ApiError(
                400, f"Invalid value: '{encoding}'.", param="encoding_format", code="invalid_value"
            )
        dim = _positive_int(body, ("dimensions",), None) or self.embedding_dim
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": _encode_vector(embed(t, dim), encoding),
            }
            for i, t in enumerate(texts)
        ]
        prompt = self._prompt_count(_words(texts))
        usage = {"prompt_tokens": prompt, "total_tokens": prompt}
        payload = {"object": "list", "data": data, "model": model, "usage": usage}
        return await self._send_json(request, payload, Plan([], "stop", prompt, 0))

    async def _responses(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        body = _require_object(record.json)
        if not self.allow_unknown_params:
            _check_known(body, _RESPONSES_PARAMS)
        stream = _check_response_body(body)
        if not self.allow_unknown_params:
            _check_response_values(body)
        self._require_model(body, _RESPONSES_PARAMS)
        events = self._recorded_response()
        completed = event_data(events[-1])["response"]
        if body.get("store") is not False:
            items = _input_items(body["input"], len(self.stored_responses))
            self.stored_responses[completed["id"]] = StoredResponse(completed, events, items)
        usage = completed["usage"]
        plan = Plan([], "stop", usage["input_tokens"], usage["output_tokens"])
        if stream:
            return await self._send_stream(request, events, plan)
        # The whole answer is the ``response`` object of the recording's
        # ``response.completed`` event: a real recorded object, not one made up here.
        return await self._send_json(request, completed, plan)

    async def _input_tokens(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        """OpenAI's count of a Responses request's input: the words of its instructions and
        input texts here (or ``prompt_tokens``); unknown parameters refused."""
        body = _require_object(record.json)
        if not self.allow_unknown_params:
            _check_known(body, _INPUT_TOKEN_PARAMS)
        if body.get("model") is not None:
            self._require_model(body, _INPUT_TOKEN_PARAMS)
        value = body.get("input")
        if value is not None and not isinstance(value, str | list):
            raise _invalid_type("input", "a string or an array of input items")
        texts = [str(body.get("instructions") or ""), *_input_texts(value)]
        payload = {
            "object": "response.input_tokens",
            "input_tokens": self._prompt_count(_words(texts)),
        }
        return await self._send_json(request, payload, None)

    def _recorded_response(self) -> list[bytes]:
        """The recording's events; the usage of its last (``response.completed``) replaced
        by the configured counts where set (``prompt_tokens``, ``completion_tokens``,
        ``cached_tokens``), so a test can bill round numbers."""
        events = recorded_events(self._next_recording())
        if self.prompt_tokens is None and self.completion_tokens is None and not self.cached_tokens:
            return events
        completed = event_data(events[-1])
        usage = completed["response"]["usage"]
        if self.prompt_tokens is not None:
            usage["input_tokens"] = self.prompt_tokens
        if self.completion_tokens is not None:
            usage["output_tokens"] = self.completion_tokens
        usage["input_tokens_details"]["cached_tokens"] = self.cached_tokens
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        last = b"event: response.completed\ndata: " + orjson.dumps(completed) + b"\n\n"
        return [*events[:-1], last]

    def _next_recording(self) -> str:
        """The next scripted recording, used up; else ``responses_recording``."""
        return self.responses_script.pop(0) if self.responses_script else self.responses_recording

    async def _moderations(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        """OpenAI's moderations: ``model`` optional (omni-moderation-latest), no usage."""
        body = _require_object(record.json)
        if not self.allow_unknown_params:
            _check_known(body, _MODERATION_PARAMS)
        model = body.get("model", "omni-moderation-latest")
        if not isinstance(model, str):
            raise _invalid_type("model", "a string")
        texts = _check_input(body, "input")
        results = [_moderation_result("kill" in text.lower()) for text in texts]
        self._serial += 1
        payload = {"id": f"modr-fake{self._serial:06d}", "model": model, "results": results}
        return await self._send_json(request, payload, None)

    async def _rerank(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        """The Cohere/Jina rerank shape; usage as ``rerank_usage`` says."""
        body = _require_object(record.json)
        model = self._require_model(body, _RERANK_PARAMS)
        query = body.get("query")
        if not isinstance(query, str) or not query:
            raise _missing("query")
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents:
            raise _missing("documents")
        texts = [doc if isinstance(doc, str) else str(doc.get("text", "")) for doc in documents]
        top_n = _positive_int(body, ("top_n",), len(texts)) or len(texts)
        ranked = sorted(range(len(texts)), key=lambda i: (-_overlap(query, texts[i]), i))
        results: list[dict[str, Any]] = []
        for index in ranked[:top_n]:
            result = {"index": index, "relevance_score": _overlap(query, texts[index])}
            if body.get("return_documents"):
                result["document"] = {"text": texts[index]}
            results.append(result)
        payload: dict[str, Any] = {"id": f"rerank-fake{self._serial:06d}", "results": results}
        tokens = self._prompt_count(_words([query, *texts]))
        if self.rerank_usage == "tokens":
            payload |= {"model": model, "usage": {"total_tokens": tokens}}
        elif self.rerank_usage == "search_units":
            payload["meta"] = {"billed_units": {"search_units": self.search_units}}
        return await self._send_json(request, payload, Plan([], "stop", tokens, 0))

    async def _models(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        cards = [_model_card(model) for model in self.models or DEFAULT_MODELS]
        return await self._send_json(request, {"object": "list", "data": cards}, None)

    async def _model(self, request: web.Request, record: RecordedRequest) -> web.StreamResponse:
        model = request.match_info["model"]
        if self.models is not None and model not in self.models:
            raise ApiError(
                404, f"The model '{model}' does not exist", param="model", code="model_not_found"
            )
        return await self._send_json(request, _model_card(model), None)

    def _stored(self, request: web.Request) -> StoredResponse:
        response_id = request.match_info["id"]
        stored = self.stored_responses.get(response_id)
        if stored is None:
            raise ApiError(404, f"Response with id '{response_id}' not found.")
        return stored

    async def _retrieve_response(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        stored = self._stored(request)
        if _query_flag(request, "stream"):
            return await self._send_stream(request, stored.events, Plan([], "stop", 0, 0))
        return await self._send_json(request, stored.response, None)

    async def _delete_response(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        self._stored(request)
        response_id = request.match_info["id"]
        del self.stored_responses[response_id]
        deleted = {"id": response_id, "object": "response.deleted", "deleted": True}
        return await self._send_json(request, deleted, None)

    async def _input_items(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        """OpenAI's list of a stored response's input items (newest first by default)."""
        items = self._stored(request).input_items
        order = request.query.get("order", "desc")
        if order not in ("asc", "desc"):
            raise ApiError(
                400,
                f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.",
                param="order",
                code="invalid_value",
            )
        limit = _query_int(request, "limit", 20, 1, 100)
        ordered = items if order == "asc" else items[::-1]
        after = request.query.get("after")
        ids = [item["id"] for item in ordered]
        start = ids.index(after) + 1 if after in ids else 0
        page = ordered[start : start + limit]
        payload = {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": start + limit < len(ordered),
        }
        return await self._send_json(request, payload, None)

    async def _invalid_url(
        self, request: web.Request, record: RecordedRequest
    ) -> web.StreamResponse:
        raise ApiError(404, f"Invalid URL ({request.method} {request.path})")

    def _headers(self, request: web.Request, content_type: str) -> dict[str, str]:
        return {
            "Content-Type": content_type,
            "x-request-id": request[_REQUEST_ID],
            "openai-processing-ms": "1",
        }

    async def _send_json(
        self, request: web.Request, payload: dict[str, Any], plan: Plan | None
    ) -> web.StreamResponse:
        body = orjson.dumps(payload)
        response = web.StreamResponse(headers=self._headers(request, "application/json"))
        response.content_length = len(body)
        await self._deliver(request, response, [body], plan, stream=False)
        return response

    async def _send_stream(
        self, request: web.Request, events: list[bytes], plan: Plan
    ) -> web.StreamResponse:
        headers = self._headers(request, "text/event-stream; charset=utf-8")
        response = web.StreamResponse(headers={**headers, "Cache-Control": "no-cache"})
        self.open_streams += 1
        self.max_open_streams = max(self.max_open_streams, self.open_streams)
        try:
            if await self._deliver(request, response, events, plan, stream=True):
                self.streams_completed += 1
        finally:
            self.open_streams -= 1
        return response

    async def _deliver(
        self,
        request: web.Request,
        response: web.StreamResponse,
        parts: list[bytes],
        plan: Plan | None,
        *,
        stream: bool,
    ) -> bool:
        """Send headers then ``parts`` one write each; False if a fault cut the body."""
        await response.prepare(request)
        if self.stall_after_headers:
            await asyncio.sleep(self.stall_after_headers)
        for index, part in enumerate(parts):
            if self.die_after_chunks is not None and index >= self.die_after_chunks:
                assert request.transport is not None
                request.transport.close()  # flushes what was written, never ends the body
                return False
            if stream and self.error_after_chunks is not None and index >= self.error_after_chunks:
                await response.write(_sse(MID_STREAM_ERROR))
                await response.write_eof()
                return False
            if stream and index == self.stall_after_chunks:
                await asyncio.get_running_loop().create_future()  # a generation that hangs
            if stream and index and self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            await response.write(part)
        if self.linger_before_eof:
            await asyncio.sleep(self.linger_before_eof)
        await response.write_eof()
        if plan is not None:
            self.prompt_tokens_served += plan.prompt_tokens
            self.completion_tokens_served += plan.completion_tokens
        return True


def _moderation_result(flagged: bool) -> dict[str, Any]:
    return {
        "flagged": flagged,
        "categories": {name: flagged and name == "violence" for name in MODERATION_CATEGORIES},
        "category_scores": {
            name: 0.9 if flagged and name == "violence" else 0.001 for name in MODERATION_CATEGORIES
        },
        "category_applied_input_types": {name: ["text"] for name in MODERATION_CATEGORIES},
    }


def _overlap(query: str, text: str) -> float:
    """A relevance score: the share of the query's words the text holds."""
    words = set(query.lower().split())
    return round(len(words & set(text.lower().split())) / max(len(words), 1), 4)


def _input_items(value: Any, serial: int) -> list[dict[str, Any]]:
    """A Responses request's ``input`` as the items OpenAI lists for it: each with an id,
    messages in the typed form."""
    listed = [{"role": "user", "content": value}] if isinstance(value, str) else value
    items = []
    for index, item in enumerate(listed):
        if not isinstance(item, dict):
            continue  # only when ``allow_unknown_params`` let the request through unchecked
        content = item.get("content")
        if "role" in item and isinstance(content, str):
            part = "output_text" if item["role"] == "assistant" else "input_text"
            item = {**item, "type": "message", "content": [{"type": part, "text": content}]}
        items.append({"id": f"msg_fake{serial:04d}{index:04d}", **item})
    return items


def _input_texts(value: Any) -> list[str]:
    """The texts of a Responses ``input``: the string, or its items' text content."""
    if isinstance(value, str):
        return [value]
    texts = []
    for item in value or ():
        content = item.get("content") if isinstance(item, dict) else None
        parts = [{"text": content}] if isinstance(content, str) else content or ()
        texts += [str(p.get("text") or "") for p in parts if isinstance(p, dict)]
    return texts


def _query_flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false")
    if value not in ("true", "false"):
        raise _invalid_type(name, "a boolean")
    return value == "true"


def _query_int(request: web.Request, name: str, default: int, least: int, most: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _invalid_type(name, "an integer") from None
    if not least <= value <= most:
        raise ApiError(
            400,
            f"Invalid '{name}': expected a value from {least} to {most}, but got {value}.",
            param=name,
            code="invalid_value",
        )
    return value


def _model_card(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": CREATED, "owned_by": "system"}


@contextmanager
def running_fake_openai(key: str = DEFAULT_KEY, **options: Any) -> Iterator[FakeOpenAI]:
    """Run a ``FakeOpenAI(key, **options)`` in a background thread with its own event loop."""
    fake = FakeOpenAI(key, **options)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-openai", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
