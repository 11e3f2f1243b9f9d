"""The Anthropic front door's conversions, the reverse direction of this package: a
Messages request as an OpenAI chat request, an OpenAI answer or chunk stream as an
Anthropic message or event stream, and errors in Anthropic's shape (PROTOCOLS.md 8.6)."""
