"""The events of one output item of a Responses stream, in OpenAI's order.

Every item opens with ``response.output_item.added`` and closes with
``response.output_item.done`` carrying the whole item; between them:
- a message: per content part, ``content_part.added``, its deltas (``output_text.delta``
  or ``refusal.delta``), their ``.done`` and ``content_part.done``;
- reasoning: ``reasoning_summary_part.added``, ``reasoning_summary_text.delta`` ... and
  their ``.done`` events, when there is text; thinking blocks are collected for its
  ``encrypted_content`` (a signature arrives as a block with empty text: the text is the
  reasoning streamed since the previous block);
- a function call: ``function_call_arguments.delta`` ... ``.done``; a custom tool's call
  gives its whole input once the call is complete (``custom_tool_call_input.delta`` and
  ``.done``), since the model streams it wrapped in JSON.
"""

from __future__ import annotations

from typing import Any

import orjson

from burncloud.protocols.shapes import JSON
from burncloud.protocols.sse import encode_event
from burncloud.providers.openai.front.context import new_id
from burncloud.providers.openai.front.output_items import (
    call_item,
    message_item,
    output_text_part,
    refusal_part,
)
from burncloud.providers.openai.front.reasoning import (
    Reasoning,
    Seal,
    reasoning_item,
    thinking_blocks,
)
from burncloud.providers.openai.front.tools import ToolName

TEXT, REFUSAL = "output_text", "refusal"


class Events:
    """Numbers and encodes the events of one stream (``sequence_number`` from 0)."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def take(self) -> int:
        """The next event's number, used up."""
        self.count += 1
        return self.count - 1

    def emit(self, kind: str, fields: JSON) -> bytes:
        payload = {"type": kind, **fields, "sequence_number": self.take()}
        return encode_event(orjson.dumps(payload), kind)


class _Writer:
    """An output item being streamed, at ``index`` in the output."""

    __slots__ = ("_events", "_index", "item_id")

    def __init__(self, events: Events, index: int, item_id: str) -> None:
        self._events, self._index, self.item_id = events, index, item_id

    def _emit(self, kind: str, fields: JSON) -> bytes:
        return self._events.emit(
            kind, {"item_id": self.item_id, "output_index": self._index, **fields}
        )

    def _item_event(self, kind: str, item: JSON) -> bytes:
        return self._events.emit(kind, {"output_index": self._index, "item": item})


class MessageWriter(_Writer):
    __slots__ = ("_kind", "_parts", "_texts")

    def __init__(self, events: Events, index: int) -> None:
        super().__init__(events, index, new_id("msg_"))
        self._parts: list[JSON] = []
        self._kind: str | None = None  # the open part's
        self._texts: list[str] = []

    def start(self) -> bytes:
        return self._item_event("response.output_item.added", self._item([], "in_progress"))

    def text(self, kind: str, delta: str) -> bytes:
        """A delta of ``kind`` (output text or refusal), in a new part if the kind changed."""
        out = b""
        if kind != self._kind:
            out = self._close_part()
            self._kind, self._texts = kind, []
            part = output_text_part("") if kind == TEXT else refusal_part("")
            out += self._emit("response.content_part.added", {**self._where(), "part": part})
        self._texts.append(delta)
        if kind == TEXT:
            return out + self._emit(
                "response.output_text.delta", {**self._where(), "delta": delta, "logprobs": []}
            )
        return out + self._emit("response.refusal.delta", {**self._where(), "delta": delta})

    def close(self, status: str) -> tuple[bytes, JSON]:
        out = self._close_part()
        item = self._item(self._parts, status)
        return out + self._item_event("response.output_item.done", item), item

    def _close_part(self) -> bytes:
        if self._kind is None:
            return b""
        text, where = "".join(self._texts), self._where()
        if self._kind == TEXT:
            part = output_text_part(text)
            out = self._emit("response.output_text.done", {**where, "text": text, "logprobs": []})
        else:
            part = refusal_part(text)
            out = self._emit("response.refusal.done", {**where, "refusal": text})
        self._parts.append(part)
        self._kind = None
        return out + self._emit("response.content_part.done", {**where, "part": part})

    def _where(self) -> JSON:
        """The open part's place."""
        return {"content_index": len(self._parts)}

    def _item(self, content: list[JSON], status: str) -> JSON:
        return message_item(self.item_id, content, status)


class ReasoningWriter(_Writer):
    __slots__ = ("_blocks", "_seal", "_since", "_texts")

    def __init__(self, events: Events, index: int, seal: Seal | None) -> None:
        super().__init__(events, index, new_id("rs_"))
        self._seal = seal
        self._texts: list[str] = []
        self._since: list[str] = []  # text since the last thinking block
        self._blocks: list[JSON] = []

    def start(self) -> bytes:
        item = {"id": self.item_id, "type": "reasoning", "summary": []}
        return self._item_event("response.output_item.added", item)

    def text(self, delta: str) -> bytes:
        out = b""
        if not self._texts:
            part = {"type": "summary_text", "text": ""}
            out = self._emit(
                "response.reasoning_summary_part.added", {"summary_index": 0, "part": part}
            )
        self._texts.append(delta)
        self._since.append(delta)
        return out + self._emit(
            "response.reasoning_summary_text.delta", {"summary_index": 0, "delta": delta}
        )

    def blocks(self, blocks: list[Any]) -> None:
        for block in thinking_blocks({"thinking_blocks": blocks}):
            if block["type"] == "thinking":
                block["thinking"] = block["thinking"] or "".join(self._since)
                self._since = []
            self._blocks.append(block)

    def close(self, status: str) -> tuple[bytes, JSON]:
        text, out = "".join(self._texts), b""
        if text:
            part = {"type": "summary_text", "text": text}
            out = self._emit(
                "response.reasoning_summary_text.done", {"summary_index": 0, "text": text}
            )
            out += self._emit(
                "response.reasoning_summary_part.done", {"summary_index": 0, "part": part}
            )
        item = reasoning_item(
            self.item_id, Reasoning(text or None, tuple(self._blocks)), self._seal
        )
        return out + self._item_event("response.output_item.done", item), item


class CallWriter(_Writer):
    __slots__ = ("_arguments", "_tool", "call_id")

    def __init__(self, events: Events, index: int, call_id: str, tool: ToolName) -> None:
        super().__init__(events, index, new_id("ctc_" if tool.custom else "fc_"))
        self.call_id, self._tool = call_id, tool
        self._arguments: list[str] = []

    def start(self) -> bytes:
        item = call_item(self.item_id, self.call_id, self._tool, "", "in_progress")
        return self._item_event("response.output_item.added", item)

    def arguments(self, delta: str) -> bytes:
        self._arguments.append(delta)
        if self._tool.custom:
            return b""
        return self._emit("response.function_call_arguments.delta", {"delta": delta})

    def close(self, status: str) -> tuple[bytes, JSON]:
        arguments = "".join(self._arguments)
        item = call_item(self.item_id, self.call_id, self._tool, arguments, "completed")
        if self._tool.custom:
            text = item["input"]
            out = (
                self._emit("response.custom_tool_call_input.delta", {"delta": text})
                if text
                else b""
            )
            out += self._emit("response.custom_tool_call_input.done", {"input": text})
        else:
            out = self._emit("response.function_call_arguments.done", {"arguments": arguments})
        return out + self._item_event("response.output_item.done", item), item
