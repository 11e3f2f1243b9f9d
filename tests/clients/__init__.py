"""Real LLM clients (Claude Code from npm) run against the router, and what they send."""
