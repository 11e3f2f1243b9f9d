"""The channel-kind registry: one entry per kind, declaring what it can do; pure and
importable on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from burncloud.errors import ServiceUnavailable
from burncloud.providers.registry import CHANNEL_KINDS, kind_of

CHAT, COMPLETIONS, EMBEDDINGS = "/chat/completions", "/completions", "/embeddings"


@pytest.mark.parametrize("channel_type", sorted(CHANNEL_KINDS))
def test_every_kind_has_its_provider(channel_type: str) -> None:
    kind = kind_of(channel_type)
    assert kind.name == channel_type and kind.provider.name == channel_type
    assert kind.serves(CHAT)  # every kind serves chat completions


@pytest.mark.parametrize(
    ("channel_type", "paths"),
    [
        ("openai", {CHAT, COMPLETIONS, EMBEDDINGS}),
        ("openai-compatible", {CHAT, COMPLETIONS, EMBEDDINGS}),
        ("qwen", {CHAT, COMPLETIONS, EMBEDDINGS}),
        ("azure", {CHAT, EMBEDDINGS}),
        ("gemini", {CHAT, EMBEDDINGS}),
        ("anthropic", {CHAT}),
        ("bedrock", {CHAT}),
    ],
)
def test_each_kind_declares_the_endpoints_it_serves(channel_type: str, paths: set[str]) -> None:
    kind = kind_of(channel_type)
    assert {path for path in (CHAT, COMPLETIONS, EMBEDDINGS) if kind.serves(path)} == paths


@pytest.mark.parametrize(
    ("channel_type", "door", "model", "speaks"),
    [
        ("anthropic", "anthropic", "claude-sonnet-4-5", True),
        ("bedrock", "anthropic", "us.anthropic.claude-sonnet-4-20250514-v1:0", True),
        ("bedrock", "anthropic", "amazon.nova-pro-v1:0", False),
        ("gemini", "gemini", "gemini-2.5-flash", True),
        ("gemini", "anthropic", "gemini-2.5-flash", False),
        ("openai", "anthropic", "gpt-4o", False),
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
