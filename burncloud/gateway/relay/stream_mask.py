"""Masking a channel's key in a stream's bytes once the stream carries an error.

An upstream may quote the key it was sent in an error, and an error in the middle of a
stream reaches the client as the upstream wrote it (passthrough) or converted (other
providers). Content chunks are not searched: that would cost every stream CPU on the hot
path for a leak only error text has shown. From the first chunk whose bytes hold
``"error"`` (an error event's member or type in every format relayed; also when split
across two chunks) on, every chunk is masked (``crypto.mask_in``: the whole key and any run
of ``FRAGMENT_CHARS`` of it), so an error event split over several chunks is masked to its
end. While masking, the last ``FRAGMENT_CHARS - 1`` characters of each chunk wait for the
next one, so a key split across two chunks cannot slip through as two short runs.
"""

from __future__ import annotations

from burncloud.crypto import FRAGMENT_CHARS, mask_in, public_error_text

ERROR_WORD = b'"error"'
_WORD_HEADS = tuple(ERROR_WORD[:n] for n in range(1, len(ERROR_WORD)))  # '"', '"e', ...
_HELD_CHARS = FRAGMENT_CHARS - 1


class StreamKeyMask:
    """One stream's masking of ``secret`` (an empty secret masks nothing)."""

    __slots__ = ("_held", "_last", "_secret", "armed")

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self.armed = False  # an error showed up: every chunk from here on is masked
        self._last = b""  # the previous chunk (or its last bytes), for a split "error"
        self._held = ""  # the masked text's last characters, sent with the next chunk

    def __call__(self, out: bytes) -> bytes:
        """What of ``out`` the client may get now (some may wait for ``flush``)."""
        if not self.armed:
            if not self._secret or not out:
                return out
            if ERROR_WORD not in out and not self._completes_word(out):
                self._last = out if len(out) >= len(ERROR_WORD) else self._last[-6:] + out
                return out
            self.armed = True
        text = mask_in(self._held + out.decode("utf-8", "surrogateescape"), self._secret)
        text, self._held = text[:-_HELD_CHARS], text[-_HELD_CHARS:]
        return text.encode("utf-8", "surrogateescape")

    def flush(self) -> bytes:
        """The characters still held back, masked: send them before the stream ends."""
        held, self._held = self._held, ""
        return held.encode("utf-8", "surrogateescape")

    def text(self, message: str, limit: int) -> str:
        """An upstream's ``message`` for a log row: masked whole, then cut to ``limit``."""
        return public_error_text(message, self._secret, limit)

    def _completes_word(self, out: bytes) -> bool:
        """Whether ``out`` ends an "error" that earlier chunks began (checked only when the
        last one ended like the word's start, so ordinary chunks cost one C call)."""
        last = self._last
        return last.endswith(_WORD_HEADS) and ERROR_WORD in last[-6:] + out[:6]
