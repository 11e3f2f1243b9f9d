"""Anthropic's server tools (web search) in answers converted to OpenAI chat.

A server tool's blocks (``server_tool_use`` and its ``*_tool_result``) are calls Anthropic
ran itself: they are not the client's tool calls and are not passed on. The text around
them is kept; text that resumes after them starts a new paragraph, so the parts do not run
together. Web search citations on text blocks become OpenAI ``url_citation`` annotations
spanning the cited text (whole answers only: chat chunks have no annotations).
"""

from __future__ import annotations

from typing import Any

from burncloud.protocols.shapes import JSON

PARAGRAPH = "\n\n"
_SERVER_CALLS = ("server_tool_use", "mcp_tool_use")


def is_server_block(kind: Any) -> bool:
    """True for the blocks of a call Anthropic ran itself, and for their results."""
    return isinstance(kind, str) and (kind in _SERVER_CALLS or kind.endswith("_tool_result"))


class TextJoin:
    """Joins an answer's text pieces into one ``content``; bounded state for streams."""

    __slots__ = ("_interrupted", "length")

    def __init__(self) -> None:
        self.length = 0  # characters of content so far
        self._interrupted = False  # a server tool ran since the last text

    def interrupt(self) -> None:
        """A server tool block came: the next text starts a new paragraph."""
        self._interrupted = True

    def join(self, text: str) -> str:
        """``text`` as it continues the content (after a paragraph break if one is due)."""
        if not text:
            return text
        if self._interrupted and self.length:
            text = PARAGRAPH + text
        self._interrupted = False
        self.length += len(text)
        return text


def url_citations(citations: Any, start: int, end: int) -> list[JSON]:
    """OpenAI annotations for a text block's web search ``citations``, spanning
    ``content[start:end]``."""
    if not isinstance(citations, list):
        return []
    return [
        {
            "type": "url_citation",
            "url_citation": {
                "start_index": start,
                "end_index": end,
                "url": citation["url"],
                "title": citation.get("title") or "",
            },
        }
        for citation in citations
        if isinstance(citation, dict)
        and citation.get("type") == "web_search_result_location"
        and isinstance(citation.get("url"), str)
    ]
