"""The provider registry: one provider per channel type, pure and importable on its own."""

from __future__ import annotations

import subprocess
import sys

import pytest

from burncloud.errors import ServiceUnavailable
from burncloud.providers.registry import PROVIDERS, provider_for
from burncloud.services.channel_types import CHANNEL_TYPES


@pytest.mark.parametrize("channel_type", sorted(CHANNEL_TYPES))
def test_every_channel_type_has_a_provider(channel_type: str) -> None:
    provider = provider_for(channel_type)
    assert provider.name == channel_type
    for method in ("chat_request", "chat_answer", "chat_stream", "error"):
        assert callable(getattr(provider, method))


@pytest.mark.parametrize("channel_type", ["openai", "openai-compatible", "azure", "qwen"])
def test_openai_family_is_always_present_and_does_embeddings(channel_type: str) -> None:
    provider = PROVIDERS[channel_type]
    assert provider is provider_for(channel_type)
    assert callable(getattr(provider, "embeddings_request", None))
    assert callable(getattr(provider, "embeddings_answer", None))


def test_unknown_channel_type_is_a_clear_503() -> None:
    with pytest.raises(ServiceUnavailable, match="'vertex'"):
        provider_for("vertex")


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
