"""Azure OpenAI channels: OpenAI bodies on Azure's URLs with ``api-key`` auth (PROTOCOLS 5)."""

from burncloud.providers.azure.provider import AzureProvider

__all__ = ["AzureProvider"]
