"""What every provider module offers: pure translation between OpenAI chat and its wire format.

A provider never sends anything. The relay asks it for the upstream request, hands it the
upstream's answer (whole, or stream bytes as they arrive) and gets OpenAI-format output back
plus the usage the upstream reported. A ``NativeProvider`` also takes a front door's request
in the door's own format and reads its answer for usage while the client gets it as it came.
Adding a provider is one module and one registry line (``burncloud.providers.registry``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from burncloud.errors import BurncloudError
from burncloud.protocols.shapes import JSON


class ChannelAccess(Protocol):
    """What a provider needs to know about the channel it builds a request for."""

    @property
    def base_url(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def config(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    """One HTTP POST to send upstream."""

    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Usage as the upstream reported it, normalised (PROTOCOLS.md 9.1).

    ``prompt_tokens`` counts every input token, cached or not (OpenAI convention); of them
    ``cached_tokens`` were read from cache and ``cache_write_tokens`` written to it, of which
    ``cache_write_1h_tokens`` with a one-hour lifetime (the rest: five minutes, or unstated);
    ``audio_input_tokens`` and ``image_input_tokens`` are the prompt's audio and image
    tokens. ``completion_tokens`` includes ``reasoning_tokens``, ``audio_output_tokens``
    and ``image_output_tokens``. ``tool_calls`` counts the server-side tool calls the
    upstream bills per call, by kind (``("web_search", 2)``), sorted by kind.
    """

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_1h_tokens: int = 0
    audio_input_tokens: int = 0
    audio_output_tokens: int = 0
    image_input_tokens: int = 0
    image_output_tokens: int = 0
    tool_calls: tuple[tuple[str, int], ...] = ()

    def to_openai(self) -> JSON:
        """The OpenAI ``usage`` object for these numbers.

        Cached and reasoning tokens are always there; the other kinds only when non-zero,
        so an ordinary answer reads as OpenAI writes it. Kinds OpenAI has no field for use
        the extensions ``openai.usage.token_usage`` reads back: a cache write split by
        lifetime in ``cache_creation`` (DashScope's), tool calls in ``server_tool_use``
        (Anthropic's)."""
        prompt: JSON = {"cached_tokens": self.cached_tokens}
        _put(prompt, "audio_tokens", self.audio_input_tokens)
        _put(prompt, "image_tokens", self.image_input_tokens)
        _put(prompt, "cache_write_tokens", self.cache_write_tokens)
        if self.cache_write_1h_tokens:
            prompt["cache_creation"] = {
                "ephemeral_5m_input_tokens": self.cache_write_tokens - self.cache_write_1h_tokens,
                "ephemeral_1h_input_tokens": self.cache_write_1h_tokens,
            }
        completion: JSON = {"reasoning_tokens": self.reasoning_tokens}
        _put(completion, "audio_tokens", self.audio_output_tokens)
        _put(completion, "image_tokens", self.image_output_tokens)
        usage: JSON = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": prompt,
            "completion_tokens_details": completion,
        }
        if self.tool_calls:
            usage["server_tool_use"] = {f"{kind}_requests": n for kind, n in self.tool_calls}
        return usage


def _put(details: JSON, key: str, tokens: int) -> None:
    if tokens:
        details[key] = tokens


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    """A whole upstream answer converted to an OpenAI ``chat.completion`` object."""

    completion: JSON
    usage: TokenUsage | None


@dataclass(frozen=True, slots=True)
class EmbeddingsAnswer:
    """A whole embeddings answer in OpenAI's ``list`` shape, with its usage (None if the
    upstream reports none, as Gemini)."""

    result: JSON
    usage: TokenUsage | None


class ChatStream(Protocol):
    """Turns one upstream stream into OpenAI ``chat.completion.chunk`` SSE bytes.

    ``feed`` takes bytes exactly as they arrive (any chunk boundary, split UTF-8 included)
    and returns the SSE bytes to send now (possibly empty); ``finish`` returns the closing
    bytes: the usage chunk when the client asked for it, then ``data: [DONE]``. ``finished``
    says ``feed`` has already returned ``[DONE]`` (the client may hang up from then on).
    ``usage`` is the upstream's figure once known (None if it never came). For an estimate
    without it, ``texts`` is a sample of the generated text seen so far (content,
    reasoning, tool names and arguments: ``text_sample.TextSample``) and ``text_chars``
    counts all of it, so the sample's token count can be scaled to the whole answer.
    """

    usage: TokenUsage | None

    @property
    def finished(self) -> bool: ...
    @property
    def text_chars(self) -> int: ...

    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def texts(self) -> list[str]: ...


class ChatProvider(Protocol):
    """One upstream kind, for OpenAI-format chat completions."""

    @property
    def name(self) -> str:
        """The channel type this provider speaks for (read-only: providers are shared)."""
        ...

    def chat_request(
        self, channel: ChannelAccess, body: JSON, model: str, stream: bool
    ) -> UpstreamRequest:
        """The upstream request for an OpenAI chat ``body`` routed to upstream ``model``.

        Raises InvalidRequest for what the upstream cannot express (e.g. ``n > 1``)."""
        ...

    def chat_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """Convert a whole 200 answer; ``model`` is the name the client asked for."""
        ...

    def chat_stream(self, model: str, include_usage: bool) -> ChatStream:
        """A fresh transcoder for one streamed answer."""
        ...

    def error(self, status: int, raw: bytes, retry_after: str | None) -> BurncloudError:
        """The OpenAI-shaped error for a non-200 upstream answer (PROTOCOLS.md 8.7)."""
        ...


class NativeStream(Protocol):
    """One streamed answer to a request sent in the provider's native format.

    ``feed`` and ``finish`` return the bytes the client gets, in the client's own format
    (the upstream's bytes unchanged, or re-framed when the upstream wraps them); ``usage``,
    ``finished``, ``texts`` and ``text_chars`` are as in ``ChatStream``; ``failure`` is the
    (status, message) of an error the stream carried, None while there is none.
    """

    @property
    def usage(self) -> TokenUsage | None: ...
    @property
    def failure(self) -> tuple[int, str] | None: ...
    @property
    def finished(self) -> bool: ...
    @property
    def text_chars(self) -> int: ...

    def feed(self, chunk: bytes) -> bytes: ...
    def finish(self) -> bytes: ...
    def texts(self) -> list[str]: ...


class NativeProvider(ChatProvider, Protocol):
    """A provider that also takes a front door's request in the door's own format, and
    answers it in that format (the Anthropic Messages API for Anthropic channels and for
    Bedrock's Claude models, the Gemini API for Gemini channels)."""

    def native_request(
        self,
        channel: ChannelAccess,
        raw: bytes,
        body: JSON,
        model: str,
        stream: bool,
        max_tokens: int | None,
        client_headers: Mapping[str, str],
    ) -> UpstreamRequest:
        """The upstream request for ``body`` (whose bytes are ``raw``) sent as ``model``,
        with the answer limited to ``max_tokens`` when given; the bytes are reused as they
        are when nothing needs changing."""
        ...

    def native_stream(self, model: str) -> NativeStream:
        """A fresh reader of one streamed native answer; ``model`` is the client's name."""
        ...

    def native_answer(self, raw: bytes, model: str) -> ChatAnswer:
        """The usage and texts of a whole 200 native answer, which the client gets as it
        came (as a ``chat.completion``, like ``chat_answer``); BurncloudError if unreadable."""
        ...


class EmbeddingsProvider(ChatProvider, Protocol):
    """An upstream kind that also serves OpenAI-format ``/v1/embeddings``."""

    def embeddings_request(self, channel: ChannelAccess, body: JSON, model: str) -> UpstreamRequest:
        """The upstream request for an OpenAI embeddings ``body`` routed to ``model``."""
        ...

    def embeddings_answer(self, raw: bytes, model: str, body: JSON) -> EmbeddingsAnswer:
        """Convert a whole 200 answer to the client's ``body`` (which says how many inputs
        and which ``encoding_format``); ``model`` is the name the client asked for."""
        ...


class PassthroughProvider(ChatProvider, Protocol):
    """An upstream kind that takes OpenAI bodies as they are, for every OpenAI endpoint: the
    relay sends the client's bytes with these headers, changed only by ``prepare``."""

    def prepare(self, body: JSON, model: str, stream: bool) -> JSON:
        """The body with the vendor's request quirks applied (the same object when none)."""
        ...

    def headers(self, channel: ChannelAccess) -> dict[str, str]:
        """The upstream's auth and account headers for ``channel``."""
        ...
