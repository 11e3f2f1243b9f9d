"""``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``
(also under ``/v1/``): the Gemini-format front door. The key may come as
``x-goog-api-key`` or ``?key=``."""

from __future__ import annotations

from urllib.parse import parse_qs

from burncloud.errors import InvalidRequest, NotFound
from burncloud.gateway.asgi import Scope
from burncloud.gateway.doors.front_door import JSON, DoorFields
from burncloud.gateway.relay.inbound import Endpoint, model_name, positive_int
from burncloud.gateway.relay.pump import Transcoder
from burncloud.providers.gemini.front.answer import chat_to_gemini
from burncloud.providers.gemini.front.errors import error_event, gemini_error
from burncloud.providers.gemini.front.request import contents_to_chat, field
from burncloud.providers.gemini.front.stream import GeminiEventStream

PREFIXES = ("/v1beta/models/", "/v1/models/")  # the API versions the google-genai SDK calls
MAX_CANDIDATES = 8  # Gemini's own limit on candidateCount


def is_gemini_path(path: str) -> bool:
    """``/v1beta/models/{model}:{method}`` or the same under ``/v1/``."""
    return any(path.startswith(p) and ":" in path[len(p) :] for p in PREFIXES)


def _model_and_method(path: str) -> tuple[str, str]:
    # The server has percent-decoded the path already: decoding again would let %252F
    # through as "/" (and mangle a model name holding "%").
    for prefix in PREFIXES:
        if path.startswith(prefix):
            model, _, method = path[len(prefix) :].rpartition(":")
            return model, method
    raise NotFound("no such endpoint")


def _query(scope: Scope) -> dict[str, list[str]]:
    # Latin-1 both ways: any %XX a client sends maps to one byte of the key header.
    return parse_qs(scope.get("query_string", b"").decode("latin-1"), encoding="latin-1")


class GeminiDialect:
    """Gemini GenerateContent <-> OpenAI chat, for ``FrontDoor``."""

    format = "gemini"
    endpoint = Endpoint("generateContent", "/chat/completions", "messages", True, 8192)
    forwarded_headers: tuple[bytes, ...] = ()

    def credentials(self, scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
        """The ``?key=`` of the URL, as the ``x-goog-api-key`` header it stands for."""
        key = _query(scope).get("key")
        return ((b"x-goog-api-key", key[0].encode("latin-1")),) if key else ()

    def fields(self, scope: Scope, body: JSON) -> DoorFields:
        """The model and method from the URL; the answer limit and count from
        ``generationConfig``."""
        model, method = _model_and_method(scope["path"])
        if method == "streamGenerateContent":
            if _query(scope).get("alt") != ["sse"]:
                raise InvalidRequest("streamGenerateContent is served as SSE only: add ?alt=sse")
            stream = True
        elif method == "generateContent":
            stream = False
        else:
            raise NotFound(f"unknown method {method!r}: use generateContent")
        if not model:
            raise InvalidRequest("the URL names no model")
        config = field(body, "generationConfig")
        config = config if isinstance(config, dict) else {}
        answers = positive_int(field(config, "candidateCount")) or 1
        return DoorFields(
            model=model_name(model),
            stream=stream,
            max_tokens=positive_int(field(config, "maxOutputTokens")),
            answers=min(answers, MAX_CANDIDATES),
        )

    def convert(self, scope: Scope, body: JSON) -> JSON:
        model, method = _model_and_method(scope["path"])
        return contents_to_chat(body, model, method == "streamGenerateContent")

    def answer(self, completion: JSON, model: str) -> JSON:
        return chat_to_gemini(completion, model)

    def stream(self, model: str) -> Transcoder:
        return GeminiEventStream(model)

    def error(self, status: int, openai_error: JSON) -> JSON:
        return gemini_error(status, openai_error)

    def stream_error(self, message: str) -> bytes:
        return error_event(502, message)
