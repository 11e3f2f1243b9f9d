"""The generated text a stream keeps for a token estimate, when the upstream reports no usage.

Memory stays bounded: only the first ``SAMPLE_CHARS`` characters are kept, in the pieces
they came in, but every character is counted, so the estimate (a tokenizer's count of the
sample) can be scaled to the whole answer instead of billing a long answer as 16 KiB.
Every ``ChatStream`` keeps one and exposes it the same way: ``texts()`` the sample,
``text_chars`` the total.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SAMPLE_CHARS = 16_384


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
