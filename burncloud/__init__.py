"""burncloud: an LLM aggregation gateway with exact billing, and its operator tool."""

__version__ = "0.1.0"
