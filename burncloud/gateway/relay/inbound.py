"""OpenAI-format requests as they arrive: validated just enough to route, bill and relay.

Fields a client could use to pick the upstream or its credentials (LiteLLM honours
``api_base`` and ``api_key`` in a body; SDK options such as ``extra_headers`` end up there
by mistake) are removed here, where the body is first parsed, so no path can send them on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.multipart import Form
from burncloud.providers.openai.media_usage import MediaReservation
from burncloud.services.pricing import UnitUse, Usage


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One OpenAI endpoint the relay serves."""

    name: str
    path: str  # appended to the channel's SDK-style base URL
    required: str  # the field besides ``model`` every request must carry
    streams: bool
    default_max_tokens: int  # reserved for the answer when the request sets no limit
    # Its name in what a channel serves (``providers.registry.ENDPOINT_NAMES``); a front
    # door's requests count as chat.
    listed_as: str = "chat"
    # The fields that carry one answer's token limit, read in this order; a cap is written
    # to the first one the request set, else to the last.
    limit_fields: tuple[str, ...] = ("max_completion_tokens", "max_tokens")
    default_model: str | None = None  # the model of a request that names none (else 400)
    required_lists: tuple[str, ...] = ()  # fields that must be non-empty arrays
    # An image or audio endpoint's own body parser (``media_request``), used instead of
    # ``parse_request``'s reading; ``form``: its body is a multipart/form-data upload.
    parser: Callable[[Endpoint, bytes], InboundRequest] | None = None
    form: bool = False

    def limit_field(self, data: dict[str, Any]) -> str:
        """The field of ``data`` a cap on the answer's tokens is written to."""
        return next((name for name in self.limit_fields if name in data), self.limit_fields[-1])


CHAT = Endpoint("chat.completions", "/chat/completions", "messages", True, 4096, "chat")
COMPLETIONS = Endpoint("completions", "/completions", "prompt", True, 16, "completions")
EMBEDDINGS = Endpoint("embeddings", "/embeddings", "input", False, 0, "embeddings")
# The Responses API's door (``doors.responses``): its requests are routed by this view;
# a channel that serves the API gets them untouched, any other their chat conversion,
# which is what this endpoint's path and fields describe.
RESPONSES = Endpoint("responses", "/chat/completions", "messages", True, 4096, "chat")
# ``model`` is optional in OpenAI's moderations API; defaulted so routing and pricing have one.
MODERATIONS = Endpoint(
    "moderations",
    "/moderations",
    "input",
    False,
    0,
    "moderations",
    default_model="omni-moderation-latest",
)
RERANK = Endpoint(  # the Cohere/Jina shape vLLM, Jina and SiliconFlow serve
    "rerank", "/rerank", "query", False, 0, "rerank", required_lists=("documents",)
)
DOCUMENTS_PER_SEARCH = 100  # Cohere: one search unit per query of up to 100 documents
SEARCH_CHUNK_BYTES = 1_500  # ... each chunk of 500 tokens counted as one document
MAX_N = 128  # OpenAI's own limit on ``n`` (and far above its ``best_of`` limit)
MAX_MODEL_LENGTH = 256  # longer than any real model id or Bedrock ARN; bounds a log row
CLIENT_OVERRIDES = frozenset(
    {
        "api_base",
        "base_url",
        "api_key",
        "api_version",
        "organization",
        "extra_headers",  # this and extra_query: SDK request options, never body fields
        "extra_query",
    }
)


@dataclass(frozen=True, slots=True)
class MediaBody:
    """What an image or audio request holds besides its fields (``media_request``)."""

    hold: MediaReservation  # the most it may use: reserved instead of a token estimate
    unanswered: Usage  # what it bills when no answer came back (the upstream had it)
    form: Form | None = None  # a multipart upload, parsed (None: a JSON body)
    seconds: float | None = None  # the uploaded audio's own duration, when it tells


@dataclass(frozen=True, slots=True)
class InboundRequest:
    endpoint: Endpoint
    body: bytes
    data: dict[str, Any]
    model: str
    stream: bool
    client_wants_usage: bool  # the client's stream carries the usage (asked, or always)
    max_tokens: int | None  # per answer
    answers: int = 1  # answers generated: n (at least best_of), times the prompts of a list
    media: MediaBody | None = None  # an image or audio request's upload and reservation

    def answer_budget(self) -> int:
        """Tokens to reserve for the answers: each one's limit (the request's, else the
        endpoint default) times how many are generated."""
        return self.answer_limit() * self.answers

    def answer_limit(self) -> int:
        """The token limit of one answer: the request's, else the endpoint default (a media
        request's: the most its answer may cost)."""
        if self.media is not None:
            return self.media.hold.completion_tokens
        return self.max_tokens if self.max_tokens is not None else self.endpoint.default_max_tokens

    def cap_to_apply(self, cap: int | None) -> int | None:
        """The answer-token cap the balance imposes, or None when the request's own limit
        already fits under it (then nothing in the body needs to change)."""
        if cap is None or (self.max_tokens is not None and self.max_tokens <= cap):
            return None
        return cap

    def prompt_estimate(self) -> int:
        """A deliberately generous prompt token estimate for the reservation (bytes / 3;
        a media request's upload is no text: its own ceiling)."""
        if self.media is not None:
            return self.media.hold.prompt_tokens
        return len(self.body) // 3 + 1

    def reserved_units(self) -> tuple[UnitUse, ...]:
        """The most of each per-unit kind the request may be billed, for the reservation:
        a rerank's searches (Cohere counts one per 100 documents, a long document as one
        per 500-token chunk: here one per 1,500 bytes, more than that), a media request's
        images, characters or seconds."""
        if self.media is not None:
            return self.media.hold.units
        if self.endpoint is not RERANK:
            return ()
        documents = self.data.get("documents")
        chunks = sum(
            max(1, -(-len(orjson.dumps(document)) // SEARCH_CHUNK_BYTES))
            for document in (documents if isinstance(documents, list) else ())
        )
        return (UnitUse("search", Decimal(max(1, -(-chunks // DOCUMENTS_PER_SEARCH)))),)


def parse_request(endpoint: Endpoint, body: bytes) -> InboundRequest:
    """Parse and check ``body``; InvalidRequest with OpenAI's wording when it is malformed."""
    if endpoint.parser is not None:
        return endpoint.parser(endpoint, body)
    data, body = without_overrides(parse_object(body), body)
    model = model_name(data.get("model") or endpoint.default_model)
    _check_required(endpoint, data)
    stream = data.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise InvalidRequest("'stream' must be a boolean")
    stream = bool(stream) and endpoint.streams
    options = data.get("stream_options")
    if options is not None and not stream:
        raise InvalidRequest("stream_options is only allowed when stream is true")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("'stream_options' must be an object")
    return InboundRequest(
        endpoint=endpoint,
        body=body,
        data=data,
        model=model,
        stream=stream,
        client_wants_usage=bool(options and options.get("include_usage") is True),
        max_tokens=_max_tokens(endpoint, data),
        answers=_answers(endpoint, data),
    )


def parse_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; InvalidRequest for anything else (invalid UTF-8, NaN,
    nesting past orjson's limit and trailing bytes included)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidRequest("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("the request body must be a JSON object")
    return data


def without_overrides(data: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    """``data`` and its bytes without CLIENT_OVERRIDES; re-serialised only when one was
    there, so an ordinary body's bytes go on untouched."""
    if data.keys().isdisjoint(CLIENT_OVERRIDES):
        return data, body
    clean = {name: value for name, value in data.items() if name not in CLIENT_OVERRIDES}
    return clean, orjson.dumps(clean)


def without_fields(request: InboundRequest, names: tuple[str, ...]) -> InboundRequest:
    """``request`` without the body fields ``names`` (re-serialised: a rare change)."""
    data = {name: value for name, value in request.data.items() if name not in names}
    return replace(request, data=data, body=orjson.dumps(data))


def model_name(model: Any) -> str:
    """The requested model: a short printable name (it is logged and may end up in a URL)."""
    if model is None or model == "":
        raise InvalidRequest("you must provide a model parameter")
    if not isinstance(model, str):
        raise InvalidRequest("'model' must be a string")
    if not model.strip() or len(model) > MAX_MODEL_LENGTH or not model.isprintable():
        raise InvalidRequest(
            f"'model' must be a model name of at most {MAX_MODEL_LENGTH} printable characters"
        )
    return model


def _check_required(endpoint: Endpoint, data: dict[str, Any]) -> None:
    value = data.get(endpoint.required)
    if endpoint.required == "messages":
        if not isinstance(value, list) or not value:
            raise InvalidRequest("'messages' must be a non-empty array")
    elif value is None or (isinstance(value, str | list) and len(value) == 0):
        raise InvalidRequest(f"you must provide a non-empty '{endpoint.required}' parameter")
    elif not isinstance(value, str | list):
        raise InvalidRequest(f"'{endpoint.required}' must be a string or an array")
    for name in endpoint.required_lists:
        items = data.get(name)
        if not isinstance(items, list) or not items:
            raise InvalidRequest(f"'{name}' must be a non-empty array")


def _answers(endpoint: Endpoint, data: dict[str, Any]) -> int:
    """How many answers the upstream generates (and bills) for this request."""
    if not endpoint.streams:  # embeddings, moderations, rerank: one answer, no ``n``
        return 1
    answers = _count(data, "n")
    if endpoint is COMPLETIONS:
        answers = max(answers, _count(data, "best_of"))
        prompt = data.get("prompt")
        if isinstance(prompt, list) and prompt and not isinstance(prompt[0], int):
            answers *= len(prompt)  # a list of prompts (strings or token arrays)
    return answers


def _count(data: dict[str, Any], field: str) -> int:
    value = data.get(field)
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_N:
        raise InvalidRequest(f"'{field}' must be an integer from 1 to {MAX_N}")
    return value


def positive_int(value: Any) -> int | None:
    """``value`` if it is a positive integer (not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def _max_tokens(endpoint: Endpoint, data: dict[str, Any]) -> int | None:
    for field in endpoint.limit_fields:
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise InvalidRequest(f"'{field}' must be a positive integer")
        return value
    return None
