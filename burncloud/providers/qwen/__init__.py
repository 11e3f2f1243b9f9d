"""Alibaba Qwen through DashScope's OpenAI-compatible mode (PROTOCOLS 6)."""

from burncloud.providers.qwen.provider import QwenProvider

__all__ = ["QwenProvider"]
