"""Strict local fakes of upstream providers for integration tests (127.0.0.1 only)."""

from __future__ import annotations

from tests.fakes.openai_upstream import (
    DEFAULT_KEY,
    DEFAULT_MODELS,
    MID_STREAM_ERROR,
    FakeOpenAI,
    RecordedRequest,
    running_fake_openai,
)

__all__ = [
    "DEFAULT_KEY",
    "DEFAULT_MODELS",
    "MID_STREAM_ERROR",
    "FakeOpenAI",
    "RecordedRequest",
    "running_fake_openai",
]
