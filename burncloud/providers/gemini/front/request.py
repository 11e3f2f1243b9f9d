"""Gemini front door: a ``generateContent`` request -> an OpenAI chat request.

The reverse of ``request``/``messages`` (PROTOCOLS.md 4.2, 8.4). Field names are read in
camelCase or snake_case, as Gemini's REST API accepts both. A ``functionCall`` becomes a tool
call whose id is built by ``call_ids`` (Gemini's own id or a stable synthesized one, plus the
thought signature), so a Gemini channel behind the relay gets its signature back. A
``functionResponse`` becomes a ``tool`` message answering the earlier call with the same id,
else the first unanswered call of that name; tool messages come before the rest of their user
turn. Thought parts sent back by the client, ``safetySettings``, ``topK`` and non-function
tools (``googleSearch``, ``codeExecution``...) are dropped: other upstreams cannot honour them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from burncloud.errors import InvalidRequest
from burncloud.protocols.shapes import JSON
from burncloud.providers.gemini import call_ids

_UPPER = re.compile(r"([A-Z])")
_SNAKE = re.compile(r"_([a-z])")
_SETTINGS = {
    "temperature": "temperature",
    "topP": "top_p",
    "maxOutputTokens": "max_tokens",
    "candidateCount": "n",
    "seed": "seed",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
}
_LEVELS = {"MINIMAL": "minimal", "LOW": "low", "MEDIUM": "medium", "HIGH": "high"}
_AUDIO = {"audio/wav": "wav", "audio/x-wav": "wav", "audio/mp3": "mp3", "audio/mpeg": "mp3"}
_MAX_STOP = 4  # OpenAI's limit (Gemini allows five)
_MAX_DEPTH = 32
_SEED = "gemini-front"


def field(obj: JSON, name: str) -> Any:
    """``obj[name]`` under its camelCase ``name`` or the snake_case spelling of it."""
    if name in obj:
        return obj[name]
    return obj.get(_UPPER.sub(r"_\1", name).lower())


def contents_to_chat(body: JSON, model: str, stream: bool, *, map_thinking: bool = True) -> JSON:
    """The OpenAI chat body for a Gemini request ``body`` sent to ``model``.

    ``map_thinking`` off drops ``thinkingConfig`` (for upstreams that reject reasoning_effort).
    """
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    if field(body, "cachedContent"):
        raise InvalidRequest("cachedContent is not supported: send the contents themselves")
    messages = _system_messages(field(body, "systemInstruction"))
    messages += _Contents().convert(field(body, "contents"))
    chat: JSON = {"model": model, "messages": messages}
    chat.update(_tools(body))
    chat.update(_generation(field(body, "generationConfig"), map_thinking))
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def _system_messages(system: Any) -> list[JSON]:
    if system is None or isinstance(system, str):
        return [{"role": "system", "content": system}] if system else []
    parts = field(system, "parts") if isinstance(system, dict) else None
    if not isinstance(parts, list):
        raise InvalidRequest("systemInstruction must be a Content with 'parts'")
    texts = []
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("text"), str):
            raise InvalidRequest("systemInstruction: only text parts are supported")
        texts.append(part["text"])
    text = "\n\n".join(t for t in texts if t)
    return [{"role": "system", "content": text}] if text else []


class _Contents:
    """Turns ``contents`` into messages, remembering the calls not answered yet."""

    __slots__ = ("_messages", "_open_calls")

    def __init__(self) -> None:
        self._messages: list[JSON] = []
        self._open_calls: list[tuple[str, str, str | None]] = []  # (OpenAI id, name, wire id)

    def convert(self, contents: Any) -> list[JSON]:
        if not isinstance(contents, list) or not contents:
            raise InvalidRequest("contents: at least one Content is required")
        for turn, content in enumerate(contents):
            parts = field(content, "parts") if isinstance(content, dict) else None
            if not isinstance(parts, list) or not all(isinstance(p, dict) for p in parts):
                raise InvalidRequest(f"contents[{turn}] needs 'parts', an array of objects")
            role = content.get("role") or "user"
            if role == "model":
                self._model_turn(parts, turn)
            elif role in ("user", "tool", "function"):
                self._user_turn(parts, turn)
            else:
                raise InvalidRequest(f"contents[{turn}]: role {role!r} is not 'user' or 'model'")
        if not any(m["role"] != "system" for m in self._messages):
            raise InvalidRequest("contents: no part has content")
        return self._messages

    def _model_turn(self, parts: list[JSON], turn: int) -> None:
        texts: list[str] = []
        calls: list[JSON] = []
        for part in parts:
            call = field(part, "functionCall")
            if isinstance(call, dict):
                calls.append(self._tool_call(part, call, turn, len(calls)))
            elif part.get("thought") or _is_signature_only(part):
                continue
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise InvalidRequest(f"contents[{turn}]: model parts must be text or functionCall")
        if not texts and not calls:
            return
        message: JSON = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            message["tool_calls"] = calls
        elif message["content"] is None:
            message["content"] = ""
        self._messages.append(message)

    def _tool_call(self, part: JSON, call: JSON, turn: int, position: int) -> JSON:
        name, args = call.get("name"), call.get("args")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"contents[{turn}]: functionCall needs a 'name'")
        if args is not None and not isinstance(args, dict):
            raise InvalidRequest(f"contents[{turn}]: functionCall.args must be an object")
        wire = call.get("id") if isinstance(call.get("id"), str) and call.get("id") else None
        signature = field(part, "thoughtSignature")
        base = wire or call_ids.synthesize(_SEED, turn, position)
        call_id = call_ids.encode(base, signature if isinstance(signature, str) else None)
        self._open_calls.append((call_id, name, wire))
        arguments = orjson.dumps(args or {}).decode()
        return {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }

    def _user_turn(self, parts: list[JSON], turn: int) -> None:
        tools, content = [], []
        for part in parts:
            response = field(part, "functionResponse")
            if isinstance(response, dict):
                tools.append(self._tool_message(response, turn))
            elif (converted := _user_part(part, turn)) is not None:
                content.append(converted)
        self._messages += tools
        if len(content) == 1 and content[0]["type"] == "text":
            self._messages.append({"role": "user", "content": content[0]["text"]})
        elif content:
            self._messages.append({"role": "user", "content": content})

    def _tool_message(self, response: JSON, turn: int) -> JSON:
        name, wire = response.get("name"), response.get("id")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"contents[{turn}]: functionResponse needs a 'name'")
        result = response.get("response")
        if result is not None and not isinstance(result, dict):
            raise InvalidRequest(f"contents[{turn}]: functionResponse.response must be an object")
        matches = [c for c in self._open_calls if wire and c[2] == wire]
        matches = matches or [c for c in self._open_calls if c[1] == name]
        if not matches:
            raise InvalidRequest(
                f"contents[{turn}]: functionResponse {name!r} answers no earlier functionCall"
            )
        self._open_calls.remove(matches[0])
        content = orjson.dumps(result or {}).decode()
        return {"role": "tool", "tool_call_id": matches[0][0], "content": content}


def _is_signature_only(part: JSON) -> bool:
    """A part holding only a thought signature (Gemini 3 sends these); nothing to forward."""
    return set(part) <= {"thoughtSignature", "thought_signature", "text"} and not part.get("text")


def _user_part(part: JSON, turn: int) -> JSON | None:
    if isinstance(part.get("text"), str):
        return {"type": "text", "text": part["text"]} if part["text"] else None
    inline = field(part, "inlineData")
    if isinstance(inline, dict):
        return _inline_part(inline, turn)
    file = field(part, "fileData")
    if isinstance(file, dict):
        uri, mime = field(file, "fileUri"), str(field(file, "mimeType") or "image/")
        if not isinstance(uri, str) or not uri or not mime.startswith("image/"):
            raise InvalidRequest(f"contents[{turn}]: only image fileData (with fileUri) works")
        return {"type": "image_url", "image_url": {"url": uri}}
    raise InvalidRequest(f"contents[{turn}]: user parts must be text, inlineData or fileData")


def _inline_part(inline: JSON, turn: int) -> JSON:
    mime, data = field(inline, "mimeType"), inline.get("data")
    if not isinstance(mime, str) or not mime or not isinstance(data, str) or not data:
        raise InvalidRequest(f"contents[{turn}]: inlineData needs 'mimeType' and base64 'data'")
    url = f"data:{mime};base64,{data}"
    if mime.startswith("image/"):
        return {"type": "image_url", "image_url": {"url": url}}
    if mime.lower() in _AUDIO:
        return {"type": "input_audio", "input_audio": {"data": data, "format": _AUDIO[mime]}}
    return {"type": "file", "file": {"file_data": url, "filename": "file." + mime.split("/")[-1]}}


def _tools(body: JSON) -> JSON:
    tools = field(body, "tools")
    if tools is None:
        return {}
    if not isinstance(tools, list) or not all(isinstance(t, dict) for t in tools):
        raise InvalidRequest("tools must be an array of Tool objects")
    declarations = []
    for tool in tools:
        functions = field(tool, "functionDeclarations")
        if functions is None:
            continue  # googleSearch, codeExecution, urlContext: Gemini-only
        if not isinstance(functions, list):
            raise InvalidRequest("tools[].functionDeclarations must be an array")
        declarations += [_function_tool(function) for function in functions]
    if not declarations:
        return {}
    out: JSON = {"tools": declarations}
    config = field(body, "toolConfig")
    choice = _tool_choice(
        field(config, "functionCallingConfig") if isinstance(config, dict) else None
    )
    if choice is not None:
        out["tool_choice"] = choice
    return out


def _function_tool(function: Any) -> JSON:
    name = function.get("name") if isinstance(function, dict) else None
    if not isinstance(name, str) or not name:
        raise InvalidRequest("each functionDeclaration needs a 'name'")
    out: JSON = {"name": name}
    if function.get("description"):
        out["description"] = function["description"]
    raw, gemini = field(function, "parametersJsonSchema"), function.get("parameters")
    if isinstance(raw, dict):
        out["parameters"] = raw
    elif isinstance(gemini, dict):
        out["parameters"] = json_schema(gemini)
    else:
        out["parameters"] = {"type": "object", "properties": {}}
    return {"type": "function", "function": out}


def _tool_choice(config: Any) -> Any:
    if not isinstance(config, dict):
        return None
    mode = str(config.get("mode") or "MODE_UNSPECIFIED").upper()
    names = field(config, "allowedFunctionNames") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InvalidRequest("allowedFunctionNames must be an array of names")
    if mode == "NONE":
        return "none"
    if mode == "ANY" and len(names) == 1:
        return {"type": "function", "function": {"name": names[0]}}
    if mode in ("ANY", "AUTO", "VALIDATED") and names:
        tools = [{"type": "function", "function": {"name": n}} for n in names]
        allowed = {"mode": "required" if mode == "ANY" else "auto", "tools": tools}
        return {"type": "allowed_tools", "allowed_tools": allowed}
    if mode in ("ANY", "AUTO", "VALIDATED"):
        return "required" if mode == "ANY" else "auto"
    if mode == "MODE_UNSPECIFIED":
        return None
    raise InvalidRequest(f"functionCallingConfig.mode {mode!r} is not supported")


def json_schema(node: Any, depth: int = 0) -> JSON:
    """A Gemini (OpenAPI subset) schema as JSON Schema: lowercase types, nullable as a type."""
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return {}
    out: JSON = {}
    for key, value in node.items():
        key = _SNAKE.sub(lambda m: m.group(1).upper(), key)
        if key == "type" and isinstance(value, str):
            out["type"] = value.lower()
        elif key == "properties" and isinstance(value, dict):
            out[key] = {name: json_schema(sub, depth + 1) for name, sub in value.items()}
        elif key == "items":
            out[key] = json_schema(value, depth + 1)
        elif key == "anyOf" and isinstance(value, list):
            out[key] = [json_schema(sub, depth + 1) for sub in value]
        elif key not in ("nullable", "propertyOrdering") and not (
            key == "format" and value == "enum"
        ):
            out[key] = value
    if node.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _generation(config: Any, map_thinking: bool) -> JSON:
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise InvalidRequest("generationConfig must be an object")
    out: JSON = {}
    for name, key in _SETTINGS.items():
        if (value := field(config, name)) is not None:
            out[key] = value
    stop = field(config, "stopSequences")
    if stop:
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise InvalidRequest("stopSequences must be an array of strings")
        out["stop"] = stop[:_MAX_STOP]
    out.update(_response_format(config))
    effort = _reasoning_effort(field(config, "thinkingConfig")) if map_thinking else None
    if effort:
        out["reasoning_effort"] = effort
    return out


def _response_format(config: JSON) -> JSON:
    mime = field(config, "responseMimeType")
    if mime in (None, "", "text/plain"):
        return {}
    if mime != "application/json":
        raise InvalidRequest(f"responseMimeType {mime!r} is not supported")
    raw, gemini = field(config, "responseJsonSchema"), field(config, "responseSchema")
    schema = (
        raw if isinstance(raw, dict) else json_schema(gemini) if isinstance(gemini, dict) else None
    )
    if schema is None:
        return {"response_format": {"type": "json_object"}}
    return {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": schema},
        }
    }


def _reasoning_effort(thinking: Any) -> str | None:
    """Gemini's thinking level, or the budget by the forward table (0 none ... 24576 high)."""
    if not isinstance(thinking, dict):
        return None
    level = field(thinking, "thinkingLevel")
    if isinstance(level, str) and level.upper() in _LEVELS:
        return _LEVELS[level.upper()]
    budget = field(thinking, "thinkingBudget")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 0:
        return None  # -1 is dynamic thinking: the upstream's default
    if budget == 0:
        return "none"
    return (
        "minimal"
        if budget <= 512
        else "low"
        if budget <= 1024
        else "medium"
        if budget <= 8192
        else "high"
    )
