"""Moving in from another gateway: One API, New API and LiteLLM's proxy config."""
