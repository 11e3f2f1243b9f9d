"""OpenAI chat messages -> Converse ``system`` blocks and ``messages`` (PROTOCOLS.md 8.5).

System and developer messages become top-level system blocks; user, assistant and tool
messages become content blocks in strictly alternating user/assistant turns, tool results
first in their user turn. Images and documents travel only as base64 bytes from data URLs
(or S3 locations): the gateway never fetches a URL.

For Claude, an assistant message's ``thinking_blocks`` (as ``response.py`` returns them)
open its turn as ``reasoningContent`` blocks: ``reasoningText`` with its signature, or
``redactedContent`` (the base64 text Bedrock sent). Unsigned thinking, and a bare
``reasoning_content``, cannot be verified by Claude and are not sent back.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON

_DATA_URL = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(?:;[^,;]*)*),(?P<data>.*)$", re.S
)
_IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg"}
_IMAGE_FORMATS |= {"image/gif": "gif", "image/webp": "webp"}
_DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/plain": "txt",
    "text/markdown": "md",
    "text/html": "html",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
_DOCUMENT_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9\-()\[\] ]+|\s{2,}")


def convert_messages(
    messages: list[JSON], *, reasoning: bool = False
) -> tuple[list[JSON], list[JSON]]:
    """The Converse ``system`` blocks and ``messages`` for OpenAI chat ``messages``;
    ``reasoning``: send assistant thinking back (Claude)."""
    system: list[JSON] = []
    turns: list[JSON] = []
    for message in messages:
        if not isinstance(message, dict):
            raise InvalidRequest("each message must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            system += [{"text": text} for text in _texts(message.get("content"), role) if text]
        elif role == "user":
            _append(turns, "user", _user_blocks(message.get("content")))
        elif role == "assistant":
            thinking = _reasoning_blocks(message.get("thinking_blocks")) if reasoning else []
            _append(turns, "assistant", thinking + _assistant_blocks(message))
        elif role == "tool":
            _append(turns, "user", [_tool_result(message)])
        else:
            raise InvalidRequest(f"unsupported message role: {role!r}")
    for turn in turns:  # tool results open a user turn, reasoning an assistant turn
        turn["content"].sort(key=lambda b: "toolResult" not in b and "reasoningContent" not in b)
    return system, turns


def history_has_tool_blocks(turns: list[JSON]) -> bool:
    """Whether any turn holds a toolUse or toolResult block (toolConfig is then required)."""
    return any("toolUse" in b or "toolResult" in b for turn in turns for b in turn["content"])


def _append(turns: list[JSON], role: str, blocks: list[JSON]) -> None:
    """Add ``blocks`` as a ``role`` turn, merged into the last turn when it has that role."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _texts(content: Any, role: str) -> list[str]:
    """The texts of a string or a list of text parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise InvalidRequest(f"{role} message content must be a string or a list of parts")
    texts = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") not in ("text", "refusal"):
            raise InvalidRequest(f"{role} messages accept only text parts")
        texts.append(part.get("text") or part.get("refusal") or "")
    return texts


def _user_blocks(content: Any) -> list[JSON]:
    if isinstance(content, str) or content is None:
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise InvalidRequest("user message content must be a string or a list of parts")
    blocks = []
    for index, part in enumerate(content):
        block = _user_part(part, index)
        if block is not None:
            blocks.append(block)
    return blocks


def _user_part(part: Any, index: int) -> JSON | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        text = part.get("text") or ""
        return {"text": text} if text else None
    if kind == "image_url":
        return _image_block(part.get("image_url") or {})
    if kind == "file":
        return _document_block(part.get("file") or {}, index)
    raise InvalidRequest(f"Bedrock channels do not accept {kind!r} content parts")


def _image_block(image: Any) -> JSON:
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise InvalidRequest("image_url.url must be a string")
    if url.startswith("s3://"):
        fmt = _IMAGE_FORMATS.get("image/" + url.rsplit(".", 1)[-1].lower())
        if fmt is None:
            raise InvalidRequest("S3 image URLs must end in .png, .jpeg, .jpg, .gif or .webp")
        return {"image": {"format": fmt, "source": {"s3Location": {"uri": url}}}}
    mime, data = _parse_data_url(url, "image")
    fmt = _IMAGE_FORMATS.get(mime)
    if fmt is None:
        raise InvalidRequest(f"unsupported image type {mime!r}: use png, jpeg, gif or webp")
    return {"image": {"format": fmt, "source": {"bytes": data}}}


def _document_block(file: JSON, index: int) -> JSON:
    mime, data = _parse_data_url(file.get("file_data") or "", "file")
    fmt = _DOCUMENT_FORMATS.get(mime)
    if fmt is None:
        raise InvalidRequest(f"unsupported document type {mime!r}")
    stem = str(file.get("filename") or "").rsplit(".", 1)[0]
    name = _DOCUMENT_NAME_UNSAFE.sub("-", stem).strip(" -") or f"document-{index + 1}"
    return {"document": {"format": fmt, "name": name, "source": {"bytes": data}}}


def _parse_data_url(url: str, what: str) -> tuple[str, str]:
    """The MIME type and base64 data of a ``data:<mime>;base64,<data>`` URL."""
    match = _DATA_URL.match(url)
    if match is None:
        raise InvalidRequest(
            f"Bedrock channels take {what}s only as base64 data URLs; URLs are never fetched"
        )
    if ";base64" not in match["params"].lower():
        raise InvalidRequest(f"{what} data URLs must be base64-encoded")
    return match["mime"].lower(), "".join(match["data"].split())


def _assistant_blocks(message: JSON) -> list[JSON]:
    blocks: list[JSON] = [{"text": t} for t in _texts(message.get("content"), "assistant") if t]
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        blocks.append(
            {
                "toolUse": {
                    "toolUseId": str(call.get("id") or ""),
                    "name": str(function.get("name") or ""),
                    "input": _parse_arguments(function.get("arguments")),
                }
            }
        )
    return blocks


def _reasoning_blocks(blocks: Any) -> list[JSON]:
    """``reasoningContent`` blocks for the signed and the redacted ``thinking_blocks``."""
    converted = []
    for block in blocks if isinstance(blocks, list) else ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking" and _filled(block, "signature"):
            text = block.get("thinking") if isinstance(block.get("thinking"), str) else ""
            reasoning = {"reasoningText": {"text": text, "signature": block["signature"]}}
            converted.append({"reasoningContent": reasoning})
        elif kind == "redacted_thinking" and _filled(block, "data"):
            converted.append({"reasoningContent": {"redactedContent": block["data"]}})
    return converted


def _filled(block: JSON, key: str) -> bool:
    value = block.get(key)
    return isinstance(value, str) and bool(value)


def _parse_arguments(arguments: Any) -> JSON:
    """Tool-call arguments as an object; invalid or non-object JSON becomes ``{}``."""
    if isinstance(arguments, dict):
        return arguments
    try:
        parsed = orjson.loads(arguments or "{}")
    except (orjson.JSONDecodeError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _tool_result(message: JSON) -> JSON:
    text = "".join(_texts(message.get("content"), "tool"))
    result: JSON = {"toolUseId": str(message.get("tool_call_id") or ""), "status": "success"}
    result["content"] = _result_content(text)
    return {"toolResult": result}


def _result_content(text: str) -> list[JSON]:
    """A JSON object result as a ``json`` block, anything else as text (nothing if empty)."""
    if not text:
        return []
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        parsed = None
    return [{"json": parsed}] if isinstance(parsed, dict) else [{"text": text}]
