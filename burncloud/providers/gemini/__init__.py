"""Google Gemini API (native ``generateContent``): request building and answer translation."""

from burncloud.providers.gemini.provider import GeminiProvider

__all__ = ["GeminiProvider"]
