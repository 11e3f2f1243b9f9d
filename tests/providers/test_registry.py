"""The channel-kind registry: one entry per kind, declaring what it can do; pure and
importable on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from burncloud.errors import ServiceUnavailable
from burncloud.providers.registry import CHANNEL_KINDS, ENDPOINT_NAMES, kind_of, parse_endpoints

OPENAI_STYLE = {"chat", "completions", "embeddings", "responses", "moderations"}
MEDIA = {"images", "image_variations", "speech", "transcriptions", "translations"}


@pytest.mark.parametrize("channel_type", sorted(CHANNEL_KINDS))
def test_every_kind_has_its_provider(channel_type: str) -> None:
    kind = kind_of(channel_type)
    assert kind.name == channel_type and kind.provider.name == channel_type
    assert kind.serves("chat")  # every kind serves chat completions


@pytest.mark.parametrize(
    ("channel_type", "endpoints"),
    [
        ("openai", OPENAI_STYLE | MEDIA),
        ("openai-compatible", OPENAI_STYLE),
        ("qwen", OPENAI_STYLE - {"moderations", "responses"}),  # Responses: converted
        ("azure", {"chat", "embeddings", "responses"} | MEDIA - {"image_variations"}),
        ("gemini", {"chat", "embeddings"}),
        ("anthropic", {"chat"}),
        ("bedrock", {"chat"}),
    ],
)
def test_each_kind_declares_the_endpoints_it_serves(channel_type: str, endpoints: set[str]) -> None:
    kind = kind_of(channel_type)
    assert {name for name in ENDPOINT_NAMES if kind.serves(name)} == endpoints


def test_an_openai_compatible_channel_serves_the_endpoints_its_config_lists() -> None:
    kind = kind_of("openai-compatible")
    listed = {"endpoints": "embeddings,rerank"}
    assert {name for name in ENDPOINT_NAMES if kind.serves(name, listed)} == {
        "embeddings",
        "rerank",
    }


def test_other_kinds_and_an_unreadable_list_keep_the_kinds_endpoints() -> None:
    assert not kind_of("openai").serves("rerank", {"endpoints": "rerank"})
    assert kind_of("openai-compatible").serves("chat", {"endpoints": "chat,bogus"})
    assert not kind_of("openai-compatible").serves("rerank", {"endpoints": "chat,bogus"})


@pytest.mark.parametrize(
    ("listed", "error"), [("chat,realtime", "'realtime'"), (" , ", "no endpoint listed")]
)
def test_an_endpoint_list_names_known_endpoints(listed: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_endpoints(listed)
    assert parse_endpoints(" Chat , rerank,chat") == {"chat", "rerank"}


@pytest.mark.parametrize(
    ("channel_type", "door", "model", "speaks"),
    [
        ("anthropic", "anthropic", "claude-sonnet-4-5", True),
        ("bedrock", "anthropic", "us.anthropic.claude-sonnet-4-20250514-v1:0", True),
        ("bedrock", "anthropic", "amazon.nova-pro-v1:0", False),
        ("gemini", "gemini", "gemini-2.5-flash", True),
        ("gemini", "anthropic", "gemini-2.5-flash", False),
        ("openai", "anthropic", "gpt-4o", False),
        ("openai", "responses", "gpt-4o", True),
        ("azure", "responses", "gpt-4o", True),
        ("openai-compatible", "responses", "llama", True),
        ("qwen", "responses", "qwen-plus", False),  # converted to chat
        ("anthropic", "responses", "claude-sonnet-4-5", False),
    ],
)
def test_a_kind_says_which_front_door_format_it_takes_untouched(
    channel_type: str, door: str, model: str, speaks: bool
) -> None:
    assert kind_of(channel_type).speaks(door, model) is speaks


def test_only_kinds_that_cannot_take_image_urls_get_them_fetched() -> None:
    fetched = {name for name, kind in CHANNEL_KINDS.items() if kind.needs_image_bytes}
    assert fetched == {"gemini", "bedrock"}


def test_unknown_channel_type_is_a_clear_503() -> None:
    with pytest.raises(ServiceUnavailable, match="'vertex'"):
        kind_of("vertex")


def test_the_registry_loads_no_gateway_service_or_ui_code() -> None:
    code = (
        "import sys, burncloud.providers.registry\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in (['burncloud', 'gateway'],"
        " ['burncloud', 'services'], ['burncloud', 'cli'], ['burncloud', 'db'])"
        " or m.split('.')[0] in ('aiohttp', 'typer', 'rich', 'textual')]\n"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


@pytest.mark.parametrize("channel_type", sorted(CHANNEL_KINDS))
def test_a_kind_serving_images_or_audio_knows_where_they_go(channel_type: str) -> None:
    kind = kind_of(channel_type)
    media = {name for name in MEDIA if kind.serves(name, {"endpoints": ",".join(MEDIA)})}
    assert (kind.media is not None) == bool(media)


def test_an_openai_compatible_channel_serves_images_and_audio_only_when_listed() -> None:
    kind = kind_of("openai-compatible")
    assert not any(kind.serves(name) for name in MEDIA)
    assert kind.serves("speech", {"endpoints": "chat,speech"})
    assert not kind.serves("images", {"endpoints": "chat,speech"})


def test_a_compatible_channel_takes_responses_untouched_only_when_it_serves_them() -> None:
    kind = kind_of("openai-compatible")
    assert kind.speaks("responses", "llama", {"endpoints": "chat,responses"})
    assert not kind.speaks("responses", "llama", {"endpoints": "chat,embeddings"})
    assert kind.serves("chat", {"endpoints": "chat,embeddings"})  # so: converted to chat
