"""The content of Responses input items as OpenAI chat content.

User content keeps its parts: text, images (``image_url``: a URL or a data URL), PDF files
(chat's ``file`` part, from ``file_data``) and audio. What chat cannot carry is refused:
an uploaded file's id (``file_id``: the file lives at OpenAI) and a file by URL. System,
developer and assistant content is text; separate parts are joined with a blank line. A
tool's output keeps its text; its images and files go to a user message after the tool
messages (chat's tool messages hold text only).
"""

from __future__ import annotations

import mimetypes
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON

TEXT_TYPES = frozenset({"input_text", "output_text", "summary_text", "reasoning_text"})
_DETAILS = frozenset({"auto", "low", "high"})
_DEFAULT_FILE_TYPE = "application/pdf"


def user_content(content: Any, where: str) -> str | list[JSON]:
    """A user message's chat content: the string, else its parts (one text part: a string)."""
    if isinstance(content, str):
        return content
    parts = [user_part(part, f"{where}[{i}]") for i, part in enumerate(_parts(content, where))]
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def text_content(content: Any, where: str) -> str:
    """The text of a system, developer or assistant message (refusals included)."""
    if isinstance(content, str):
        return content
    texts = []
    for index, part in enumerate(_parts(content, where)):
        kind = _kind(part, f"{where}[{index}]")
        if kind in TEXT_TYPES:
            texts.append(str(part.get("text") or ""))
        elif kind == "refusal":
            texts.append(str(part.get("refusal") or ""))
        else:
            raise InvalidRequest(
                f"'{where}[{index}]' is a {kind} part; this model's provider takes only text here."
            )
    return "\n\n".join(text for text in texts if text)


def tool_output(output: Any, where: str) -> tuple[str, list[JSON]]:
    """A tool's output as the tool message's text and the parts that must follow in a user
    message (images, files)."""
    if isinstance(output, str):
        return output, []
    if output is None:
        return "", []
    texts, parts = [], []
    for index, part in enumerate(_parts(output, where)):
        converted = user_part(part, f"{where}[{index}]")
        if converted["type"] == "text":
            texts.append(str(converted["text"]))
        else:
            parts.append(converted)
    return "\n\n".join(texts), parts


def json_text(value: Any) -> str:
    """``value`` as compact JSON text (a string stays itself)."""
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def user_part(part: Any, where: str) -> JSON:
    """One input content part as a chat content part."""
    kind = _kind(part, where)
    if kind in TEXT_TYPES:
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        return _image(part, where)
    if kind == "input_file":
        return _file(part, where)
    if kind == "input_audio" and isinstance(part.get("input_audio"), dict):
        return {"type": "input_audio", "input_audio": part["input_audio"]}
    raise InvalidRequest(f"Invalid value: '{kind}'. Unsupported content type at '{where}.type'.")


def _parts(content: Any, where: str) -> list[Any]:
    if not isinstance(content, list):
        raise InvalidRequest(
            f"Invalid type for '{where}': expected a string or an array of content parts."
        )
    return content


def _kind(part: Any, where: str) -> str:
    if not isinstance(part, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.")
    kind = part.get("type")
    if not isinstance(kind, str):
        raise InvalidRequest(f"Missing required parameter: '{where}.type'.")
    return kind


def _image(part: JSON, where: str) -> JSON:
    url = part.get("image_url")
    if isinstance(url, dict):  # chat's own shape, which some clients send here too
        url = url.get("url")
    if not isinstance(url, str) or not url:
        if part.get("file_id"):
            raise InvalidRequest(
                f"'{where}' names an uploaded file (file_id), which this model's provider "
                "cannot read: send the image as image_url (a URL or a data URL)."
            )
        raise InvalidRequest(f"Missing required parameter: '{where}.image_url'.")
    image: JSON = {"url": url}
    if part.get("detail") in _DETAILS:
        image["detail"] = part["detail"]
    return {"type": "image_url", "image_url": image}


def _file(part: JSON, where: str) -> JSON:
    data = part.get("file_data")
    if not isinstance(data, str) or not data:
        source = (
            "a file_id" if part.get("file_id") else "a file_url" if part.get("file_url") else None
        )
        if source is None:
            raise InvalidRequest(f"Missing required parameter: '{where}.file_data'.")
        raise InvalidRequest(
            f"'{where}' gives the file by {source}, which this model's provider cannot read: "
            "send its content as file_data (a base64 data URL)."
        )
    filename = part.get("filename")
    name = filename if isinstance(filename, str) and filename else "document.pdf"
    if not data.startswith("data:"):
        media_type = mimetypes.guess_type(name)[0] or _DEFAULT_FILE_TYPE
        data = f"data:{media_type};base64,{data}"
    return {"type": "file", "file": {"file_data": data, "filename": name}}
