"""Importing a LiteLLM proxy config.yaml: ``config`` reads it into a ``Migration``
(channels from ``model_list``, prices, the router settings that have an equivalent).
Imports services and the manifest model; nothing of the gateway or the CLI."""
