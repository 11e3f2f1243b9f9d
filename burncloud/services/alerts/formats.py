"""What each kind of webhook receives: the event object, or a message for people.

``json`` gets the event object (``RaisedEvent.to_json``: id, event, created_at, text,
data). ``slack`` gets ``{"text": ...}`` with Slack's three control characters escaped, so
a token named ``<!channel>`` pings nobody; ``discord`` gets ``{"content": ...}`` with
mentions switched off; ``telegram`` gets a ``sendMessage`` body for the hook's chat id,
as plain text. A message is one line, ``[burncloud <event>] <text>``, cut to what each
service accepts.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.services.alerts.events import RaisedEvent

DISCORD_LIMIT = 2000
TELEGRAM_LIMIT = 4096
SLACK_LIMIT = 3000
_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def render_body(format: str, event: RaisedEvent, chat_id: str = "") -> bytes:
    """The request body a hook of ``format`` gets for ``event``."""
    if format == "json":
        return orjson.dumps(event.to_json())
    return orjson.dumps(_message(format, message_text(event), chat_id))


def message_text(event: RaisedEvent) -> str:
    """The event as one line for people."""
    line = f"[burncloud {event.kind}] {event.text}"
    return "".join(ch if ch.isprintable() else " " for ch in line)


def _message(format: str, text: str, chat_id: str) -> dict[str, Any]:
    if format == "slack":
        return {"text": _cut(text, SLACK_LIMIT).translate(_SLACK_ESCAPES)}
    if format == "discord":
        return {"content": _cut(text, DISCORD_LIMIT), "allowed_mentions": {"parse": []}}
    if format == "telegram":
        return {
            "chat_id": chat_id,
            "text": _cut(text, TELEGRAM_LIMIT),
            "disable_web_page_preview": True,
        }
    raise ValueError(f"unknown webhook format {format!r}")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
