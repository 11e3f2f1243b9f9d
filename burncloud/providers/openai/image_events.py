"""The use of a streamed image answer (``stream: true``, GPT image models): each image's
``image_generation.completed`` or ``image_edit.completed`` event is one image and carries
its usage; the partial images before it are passed over unparsed. Pure, like
``media_usage``, whose ``image_metering`` it follows.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import orjson

from burncloud.protocols.sse import EventReader, parse_event
from burncloud.providers.base import TokenUsage
from burncloud.providers.openai.media_usage import Fields, MediaUse, image_metering
from burncloud.providers.openai.usage import token_usage

_COMPLETED = b'.completed"'  # in the event's ``type``: quotes are escaped inside strings
_COUNTS = tuple(f.name for f in fields(TokenUsage) if f.name != "tool_calls")


class ImageEventMeter(EventReader):
    """Reads one streamed image answer for ``images`` images as it passes."""

    __slots__ = ("_images", "completed", "usage")

    def __init__(self, images: int) -> None:
        super().__init__()
        self._images = images
        self.completed: list[dict[str, Any]] = []  # the completed events' data
        self.usage: TokenUsage | None = None  # their usage, summed

    @property
    def done(self) -> bool:
        """Every image asked for has completed."""
        return len(self.completed) >= self._images

    def metering(self, request: Fields) -> MediaUse:
        """The use, as ``image_metering`` reads a whole answer: the completed images and
        their reported tokens (the requested images, estimated, when none completed)."""
        if not self.completed:
            return image_metering(request, None)
        last = self.completed[-1]
        answer = {"data": self.completed, "size": last.get("size"), "quality": last.get("quality")}
        return MediaUse(self.usage, image_metering(request, answer).units)

    def read(self, raw: bytes) -> None:
        if _COMPLETED not in raw:
            return
        event = parse_event(raw)
        try:
            data = orjson.loads(event.data) if event is not None else None
        except orjson.JSONDecodeError:
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if not isinstance(kind, str) or not kind.endswith(".completed"):
            return
        assert isinstance(data, dict)
        self.completed.append(data)
        usage = token_usage(data.get("usage"))
        if usage is not None:
            self.usage = usage if self.usage is None else _sum(self.usage, usage)


def _sum(first: TokenUsage, second: TokenUsage) -> TokenUsage:
    return replace(
        first, **{name: getattr(first, name) + getattr(second, name) for name in _COUNTS}
    )
