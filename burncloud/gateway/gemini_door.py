"""``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``:
the Gemini-format front door. The key may come as ``x-goog-api-key`` or ``?key=``."""

from __future__ import annotations

from urllib.parse import parse_qs

from burncloud.errors import BurncloudError, InvalidRequest, NotFound
from burncloud.gateway.asgi import Scope
from burncloud.gateway.front_door import JSON, Converted
from burncloud.gateway.inbound import Endpoint
from burncloud.gateway.pump import Transcoder
from burncloud.providers.gemini.front_answer import chat_to_gemini
from burncloud.providers.gemini.front_errors import error_event, gemini_error, gemini_rejection
from burncloud.providers.gemini.front_request import contents_to_chat
from burncloud.providers.gemini.front_stream import GeminiEventStream

PREFIX = "/v1beta/models/"


def is_gemini_path(path: str) -> bool:
    return path.startswith(PREFIX) and ":" in path[len(PREFIX) :]


class GeminiDialect:
    """Gemini GenerateContent <-> OpenAI chat, for ``FrontDoor``."""

    endpoint = Endpoint("generateContent", "/chat/completions", "messages", True, 8192)
    native_type = "gemini"
    forwarded_headers: tuple[bytes, ...] = ()

    def convert(self, scope: Scope, body: JSON) -> Converted:
        # The server has percent-decoded the path already: decoding again would let
        # %252F through as "/" (and mangle a model name holding "%").
        model, _, method = scope["path"][len(PREFIX) :].rpartition(":")
        # Latin-1 both ways: any %XX a client sends maps to one byte of the key header.
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), encoding="latin-1")
        if method == "streamGenerateContent":
            if query.get("alt") != ["sse"]:
                raise InvalidRequest("streamGenerateContent is served as SSE only: add ?alt=sse")
            stream = True
        elif method == "generateContent":
            stream = False
        else:
            raise NotFound(f"unknown method {method!r}: use generateContent")
        if not model:
            raise InvalidRequest("the URL names no model")
        chat = contents_to_chat(body, model, stream)
        key = query.get("key")
        extra = ((b"x-goog-api-key", key[0].encode("latin-1")),) if key else ()
        return Converted(chat, model, stream, extra)

    def answer(self, completion: JSON, model: str) -> JSON:
        return chat_to_gemini(completion, model)

    def stream(self, model: str) -> Transcoder:
        return GeminiEventStream(model)

    def error(self, status: int, openai_error: JSON) -> JSON:
        return gemini_error(status, openai_error)

    def rejection(self, error: BurncloudError) -> tuple[int, JSON]:
        return gemini_rejection(error)

    def stream_error(self, message: str) -> bytes:
        return error_event(502, message)
