"""Every channel kind and what it can do: one entry per kind, the only place that says.

An entry names the kind's provider and its capabilities as typed fields: the OpenAI
endpoints it serves (``endpoints``, by the names of ``ENDPOINT_NAMES``; an
``openai-compatible`` channel may list its own in its ``endpoints`` config entry), whether
it takes OpenAI bodies as they are (``passthrough``), serves embeddings through a
conversion, answers a front door's format untouched (``native``, for ``door_format`` and
the models ``native_models`` accepts), where its image and audio requests go (``media``),
needs image URLs fetched into bytes, and the rules
its channels' URLs and config follow. Adding a provider is one folder under ``providers/``
and one entry here; nothing asks a provider what it can do. Providers are stateless, so
one instance per kind serves every request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from burncloud.errors import ServiceUnavailable
from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.azure import AzureProvider
from burncloud.providers.base import (
    ChatProvider,
    EmbeddingsProvider,
    NativeProvider,
    PassthroughProvider,
)
from burncloud.providers.bedrock import BedrockProvider, is_claude_model
from burncloud.providers.gemini import GeminiProvider
from burncloud.providers.gemini.request import runs_web_search as gemini_runs_web_search
from burncloud.providers.media import MediaProvider, OpenAIMedia
from burncloud.providers.openai import OpenAIProvider
from burncloud.providers.qwen import QwenProvider

# Every OpenAI endpoint a channel may serve, by the name ``--endpoints`` takes (a front
# door's requests count as ``chat``; ``images`` are generations and edits, ``translations``
# apart from ``transcriptions`` as some servers have one without the other).
ENDPOINT_NAMES = (
    "chat",
    "completions",
    "embeddings",
    "responses",
    "moderations",
    "rerank",
    "images",
    "image_variations",
    "speech",
    "transcriptions",
    "translations",
)
# Endpoints any channel serving another one serves too, by converting to it (a Responses
# request to a channel serving only chat: ``gateway.doors.responses``).
CONVERTED_VIA = {"responses": "chat"}
ENDPOINTS_CONFIG = "endpoints"  # the config entry listing an openai-compatible channel's own
CONFIGURABLE = frozenset({"openai-compatible"})  # the kinds whose channels may list their own
# Images and audio: OpenAI's own; an openai-compatible channel's when its list names them.
MEDIA = frozenset({"images", "image_variations", "speech", "transcriptions", "translations"})
_OPENAI_STYLE = frozenset(ENDPOINT_NAMES) - {"rerank"} - MEDIA
_CHAT, _CHAT_EMBEDDINGS = frozenset({"chat"}), frozenset({"chat", "embeddings"})


def _every_model(_model: str) -> bool:
    return True


def _never(_body: dict[str, Any]) -> bool:
    return False


def _always(_body: dict[str, Any]) -> bool:
    return True


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """One upstream kind: its provider, what it can do, and its channels' rules."""

    name: str
    provider: ChatProvider  # chat completions, converted to and from the kind's format
    endpoints: frozenset[str]  # the ENDPOINT_NAMES its channels serve unless configured
    passthrough: PassthroughProvider | None = None  # OpenAI bodies as they are
    embeddings: EmbeddingsProvider | None = None  # OpenAI embeddings, converted
    native: NativeProvider | None = None  # a front door's requests, untouched
    media: MediaProvider | None = None  # where image and audio requests go (MEDIA)
    door_format: str | None = None  # ... of this format
    native_models: Callable[[str], bool] = _every_model  # ... for these upstream models
    # Whether the kind runs the built-in web search a chat body allows
    # (``web_search_options``): Anthropic's server tool, Gemini's Google Search.
    runs_web_search: Callable[[dict[str, Any]], bool] = _never
    needs_image_bytes: bool = False  # client image URLs fetched into data URLs first
    default_base_url: str | None = None
    base_url_template: str | None = None  # from config entries, e.g. Bedrock's region
    required_config: tuple[str, ...] = ()
    # Token kinds beyond input and output the upstream reports and may bill at a price of
    # their own (``services.pricing.TOKEN_KINDS``): ``price list`` flags a model served by
    # this kind as incomplete while its price leaves one of them to fall back.
    reports: frozenset[str] = frozenset({"cached"})

    def serves(self, endpoint: str, config: Mapping[str, str] | None = None) -> bool:
        """Whether a channel of this kind with ``config`` serves ``endpoint`` (a name of
        ``ENDPOINT_NAMES``): the channel's own list when its kind lets it have one."""
        listed = config.get(ENDPOINTS_CONFIG) if config else None
        if listed is not None and self.name in CONFIGURABLE:
            try:
                return endpoint in parse_endpoints(listed)
            except ValueError:  # stored before it was validated: the kind's own list
                pass
        return endpoint in self.endpoints

    def reaches(self, endpoint: str, config: Mapping[str, str] | None = None) -> str | None:
        """How a channel of this kind with ``config`` serves ``endpoint``: "untouched" (it
        serves it), "converted" (the Responses API on a channel serving chat), or None."""
        if self.serves(endpoint, config):
            return "untouched"
        via = CONVERTED_VIA.get(endpoint)
        return "converted" if via is not None and self.serves(via, config) else None

    def speaks(self, door_format: str, model: str, config: Mapping[str, str] | None = None) -> bool:
        """Whether a channel of this kind with ``config`` takes ``door_format`` requests
        untouched for upstream ``model`` (a Responses request: when it serves that
        endpoint, which an openai-compatible channel may not)."""
        return (
            self.native is not None
            and door_format == self.door_format
            and self.native_models(model)
            and (door_format not in ENDPOINT_NAMES or self.serves(door_format, config))
        )


@lru_cache(maxsize=256)
def parse_endpoints(listed: str) -> frozenset[str]:
    """The endpoint names of a comma-separated list; ValueError naming an unknown one."""
    names = frozenset(part.strip().lower() for part in listed.split(",") if part.strip())
    unknown = sorted(names - set(ENDPOINT_NAMES))
    if unknown:
        raise ValueError(
            f"unknown endpoint {unknown[0]!r}: use some of {', '.join(ENDPOINT_NAMES)}"
        )
    if not names:
        raise ValueError(f"no endpoint listed: use some of {', '.join(ENDPOINT_NAMES)}")
    return names


def _openai_kind(
    name: str,
    provider: OpenAIProvider,
    url: str | None = None,
    reports: frozenset[str] = frozenset({"cached"}),
    endpoints: frozenset[str] = _OPENAI_STYLE,
    media: bool = True,
) -> ChannelKind:
    responses = "responses" in endpoints
    return ChannelKind(
        name,
        provider,
        endpoints,
        passthrough=provider,
        embeddings=provider,
        native=provider if responses else None,
        door_format="responses" if responses else None,
        media=OpenAIMedia(provider) if media else None,
        default_base_url=url,
        reports=reports,
    )


_OPENAI_REPORTS = frozenset(
    {"cached", "cache_write", "audio_input", "audio_output", "image_input", "image_output"}
)


_AZURE, _ANTHROPIC, _GEMINI, _BEDROCK = (
    AzureProvider(),
    AnthropicProvider(),
    GeminiProvider(),
    BedrockProvider(),
)

CHANNEL_KINDS: dict[str, ChannelKind] = {
    kind.name: kind
    for kind in (
        _openai_kind(
            "openai",
            OpenAIProvider("openai"),
            "https://api.openai.com/v1",
            _OPENAI_REPORTS,
            _OPENAI_STYLE | MEDIA,
        ),
        _openai_kind("openai-compatible", OpenAIProvider("openai-compatible")),
        ChannelKind(
            "azure",
            _AZURE,
            _CHAT_EMBEDDINGS | {"responses"} | MEDIA - {"image_variations"},  # no DALL-E 2
            embeddings=_AZURE,
            media=_AZURE,
            native=_AZURE,
            door_format="responses",  # at /openai/v1/responses
            reports=frozenset({"cached", "audio_input", "audio_output"}),
        ),
        ChannelKind(
            "anthropic",
            _ANTHROPIC,
            _CHAT,
            native=_ANTHROPIC,
            door_format="anthropic",
            runs_web_search=_always,
            default_base_url="https://api.anthropic.com",
            reports=frozenset({"cached", "cache_write", "cache_write_1h"}),
        ),
        ChannelKind(
            "gemini",
            _GEMINI,
            _CHAT_EMBEDDINGS,
            embeddings=_GEMINI,
            native=_GEMINI,
            door_format="gemini",
            runs_web_search=gemini_runs_web_search,
            needs_image_bytes=True,
            default_base_url="https://generativelanguage.googleapis.com",
            reports=frozenset({"cached", "audio_input", "audio_output", "image_output"}),
        ),
        _openai_kind(
            "qwen",
            QwenProvider(),
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
            frozenset({"cached", "cache_write"}),
            # No moderations at DashScope; Responses requests are converted to chat.
            _OPENAI_STYLE - {"moderations", "responses"},
            media=False,  # DashScope's images and audio have APIs of their own
        ),
        ChannelKind(
            "bedrock",
            _BEDROCK,
            _CHAT,
            native=_BEDROCK,
            door_format="anthropic",
            native_models=is_claude_model,  # Claude over InvokeModel; others over Converse
            needs_image_bytes=True,
            base_url_template="https://bedrock-runtime.{region}.amazonaws.com",
            required_config=("region",),
            reports=frozenset({"cached", "cache_write", "cache_write_1h"}),
        ),
    )
}


def kind_of(channel_type: str) -> ChannelKind:
    """The kind called ``channel_type``; ServiceUnavailable if this build has none."""
    kind = CHANNEL_KINDS.get(channel_type)
    if kind is None:
        raise ServiceUnavailable(f"no provider for {channel_type!r} channels in this build")
    return kind
