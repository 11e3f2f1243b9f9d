"""The generated text a stream keeps for a token estimate, when the upstream reports no usage.

Memory stays bounded: only the first ``SAMPLE_CHARS`` characters are kept, in the pieces
they came in, but every character is counted, so the estimate (a tokenizer's count of the
sample) can be scaled to the whole answer instead of billing a long answer as 16 KiB.
Every ``ChatStream`` keeps one and exposes it the same way: ``texts()`` the sample,
``text_chars`` the total.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

SAMPLE_CHARS = 16_384
SAMPLE_BYTES = 32_768  # unparsed chunks' bytes kept to read a sample from (per stream)


@dataclass(slots=True)
class TextSample:
    """The first ``SAMPLE_CHARS`` characters of an answer's text, and how many it had."""

    parts: list[str] = field(default_factory=list)
    chars: int = 0  # characters in ``parts``
    total: int = 0  # characters generated, sampled or not

    def add(self, text: str) -> None:
        """Count ``text``; keep what fits in the sample."""
        self.total += len(text)
        room = SAMPLE_CHARS - self.chars
        if room > 0 and text:
            kept = text[:room]
            self.parts.append(kept)
            self.chars += len(kept)

    def add_unread(self, chars: int) -> None:
        """Count ``chars`` characters the stream generated but did not read (estimated)."""
        self.total += chars

    def extend(self, other: TextSample) -> None:
        """Append ``other``'s sample and count all of its characters."""
        for part in other.parts:
            self.add(part)
        self.total += other.total - other.chars


class KeptChunks:
    """A stream's content chunks, kept unparsed (the first ``SAMPLE_BYTES`` of them) and
    only counted past that: a stream that reports its usage never parses them, and one
    that does not reads its sample from them once, scaled to every chunk it counted."""

    __slots__ = ("_bytes", "_chunks", "_sample", "_unread")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._bytes = 0
        self._unread = 0  # bytes of chunks past SAMPLE_BYTES
        self._sample: TextSample | None = None

    def keep(self, chunk: bytes) -> None:
        self._sample = None
        if self._bytes < SAMPLE_BYTES:
            self._chunks.append(chunk)
            self._bytes += len(chunk)
        else:
            self._unread += len(chunk)

    def changed(self) -> None:
        """Forget the sample read (the stream found more text elsewhere)."""
        self._sample = None

    def sample(
        self, texts_of: Callable[[bytes], Iterable[str]], more: TextSample | None = None
    ) -> TextSample:
        """The text of the kept chunks (``texts_of`` reads one), scaled to every counted
        chunk, then ``more``'s; read once until something changes."""
        if self._sample is None:
            sample = TextSample()
            for chunk in self._chunks:
                for text in texts_of(chunk):
                    sample.add(text)
            if self._unread:
                sample.add_unread(-(-sample.total * self._unread // self._bytes))
            if more is not None:
                sample.extend(more)
            self._sample = sample
        return self._sample
