"""A native answer stream passed on unchanged while the provider's OpenAI transcoder reads it.

A front-door request sent to a channel of the door's own format gets the upstream's bytes
back as they came. Billing still needs the usage and the generated text, which the
provider's ``ChatStream`` already knows how to read: it is fed the same bytes and its
OpenAI output is discarded, except for an error event, which becomes ``failure`` (the
client got the upstream's own error event).
"""

from __future__ import annotations

from burncloud.protocols.openai_chunks import ERROR_MARK, in_band_failure
from burncloud.providers.base import ChatStream, TokenUsage


class PassthroughStream:
    """A ``NativeStream`` whose client bytes are the upstream's, read by ``reader``."""

    __slots__ = ("_reader", "failure")
    finished = False  # the end marker, the upstream's own, is not watched for

    def __init__(self, reader: ChatStream) -> None:
        self._reader = reader
        self.failure: tuple[int, str] | None = None

    @property
    def usage(self) -> TokenUsage | None:
        return self._reader.usage

    def feed(self, chunk: bytes) -> bytes:
        """``chunk`` itself, once the reader has seen it."""
        self._watch(self._reader.feed(chunk))
        return chunk

    def finish(self) -> bytes:
        """Nothing: the upstream's stream ends as it ended (an incomplete one is a failure)."""
        self._watch(self._reader.finish())
        return b""

    def texts(self) -> list[str]:
        return self._reader.texts()

    @property
    def text_chars(self) -> int:
        return self._reader.text_chars

    def _watch(self, converted: bytes) -> None:
        if self.failure is None and ERROR_MARK in converted:
            self.failure = in_band_failure(converted)
