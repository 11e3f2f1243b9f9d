"""A whole OpenAI ``chat.completion`` as a Response object (``POST /v1/responses``).

Output items in the order OpenAI gives them: the reasoning (``reasoning.py``), the message
(text, then a refusal), then one item per tool call, named as the client named its tools.
An answer cut by its token limit is ``incomplete`` (``max_output_tokens``), as is one a
content filter stopped (``content_filter``); its message is ``incomplete`` too.
"""

from __future__ import annotations

from typing import Any

from burncloud.protocols.shapes import JSON, object_field
from burncloud.providers.openai.front.content import json_text
from burncloud.providers.openai.front.context import ResponsesContext, new_id
from burncloud.providers.openai.front.output_items import (
    call_item,
    finished_status,
    message_item,
    output_text_part,
    refusal_part,
    response_object,
    responses_usage,
)
from burncloud.providers.openai.front.reasoning import Seal, reasoning_item, reasoning_of
from burncloud.providers.openai.usage import token_usage


def chat_to_response(completion: JSON, context: ResponsesContext, *, seal: Seal) -> JSON:
    """The Response for ``completion`` (its first choice); ``seal`` seals the reasoning's
    ``encrypted_content`` when the request included it."""
    choices = completion.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else {}
    choice = choice if isinstance(choice, dict) else {}
    status, incomplete = finished_status(choice.get("finish_reason"))
    output = output_items(object_field(choice, "message"), context, seal, status)
    usage = responses_usage(token_usage(completion.get("usage")))
    return response_object(context, status, output, usage, incomplete=incomplete)


def output_items(message: JSON, context: ResponsesContext, seal: Seal, status: str) -> list[JSON]:
    """The output items of a chat assistant ``message``."""
    items: list[JSON] = []
    reasoning = reasoning_of(message)
    if reasoning:
        sealing = seal if context.include_encrypted_reasoning else None
        items.append(reasoning_item(new_id("rs_"), reasoning, sealing))
    content = _content(message)
    if content:
        items.append(message_item(new_id("msg_"), content, status))
    for call in message.get("tool_calls") or ():
        if isinstance(call, dict):
            items.append(_call(call, context))
    return items


def _content(message: JSON) -> list[JSON]:
    parts = []
    text = _text(message.get("content"))
    if text:
        parts.append(output_text_part(text))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append(refusal_part(refusal))
    return parts


def _text(content: Any) -> str:
    """A message's text: its string, or its text parts joined (some upstreams send parts)."""
    if isinstance(content, str):
        return content
    parts = content if isinstance(content, list) else ()
    return "".join(
        str(part.get("text") or "")
        for part in parts
        if isinstance(part, dict) and part.get("type") in ("text", "output_text")
    )


def _call(call: JSON, context: ResponsesContext) -> JSON:
    function = object_field(call, "function")
    tool = context.client_name(str(function.get("name") or ""))
    arguments = function.get("arguments")
    call_id = call.get("id") if isinstance(call.get("id"), str) else None
    return call_item(
        new_id("ctc_" if tool.custom else "fc_"),
        call_id or new_id("call_"),
        tool,
        arguments if isinstance(arguments, str) else json_text(arguments or {}),
        "completed",
    )
