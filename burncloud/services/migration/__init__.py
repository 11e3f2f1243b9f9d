"""Moving in from another gateway: ``oneapi`` (One API and New API databases) and
``litellm`` (LiteLLM's proxy config) each read their source into a ``report.Migration``,
whose manifest ``services.manifest`` plans and applies."""
