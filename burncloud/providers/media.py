"""Where an image or audio request goes on a channel: the one thing the media endpoints ask
of a provider, since their bodies and answers are OpenAI's own on every kind that serves
them (OpenAI, compatibles, Azure's deployments).

A ``MediaTarget`` says the URL, the auth headers and the model name the body must carry
(None when the URL names the deployment and the body's model does not matter). Pure, like
every provider: nothing is sent here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from burncloud.providers.base import ChannelAccess, PassthroughProvider
from burncloud.providers.openai.request import join_url


@dataclass(frozen=True, slots=True)
class MediaTarget:
    """One media request's destination on one channel."""

    url: str
    headers: dict[str, str]
    model: str | None  # the ``model`` the body must name; None: the body's stands


class MediaProvider(Protocol):
    """A kind whose channels serve OpenAI's image and audio endpoints."""

    def media_target(self, channel: ChannelAccess, operation: str, model: str) -> MediaTarget:
        """Where ``operation`` (``images/generations``, ``audio/speech``...) for upstream
        ``model`` goes on ``channel``."""
        ...


class OpenAIMedia:
    """OpenAI-style channels: ``{base_url}/{operation}`` with the kind's own auth headers."""

    __slots__ = ("_provider",)

    def __init__(self, provider: PassthroughProvider) -> None:
        self._provider = provider

    def media_target(self, channel: ChannelAccess, operation: str, model: str) -> MediaTarget:
        url = join_url(channel.base_url, f"/{operation}")
        return MediaTarget(url, self._provider.headers(channel), model)
