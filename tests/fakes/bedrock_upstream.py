"""A strict fake of AWS Bedrock Runtime (Converse / ConverseStream, and InvokeModel /
InvokeModelWithResponseStream for Claude's Messages API) on 127.0.0.1.

It refuses what Bedrock refuses (PROTOCOLS.md 7), in Bedrock's error shape: a SigV4
signature that botocore does not reproduce over the request as received (raw percent-encoded
path, signed headers, exact body), a stale ``x-amz-date``, an unknown key or session token, a
Converse body of the wrong shape, an Anthropic body Bedrock's schema refuses
(``bedrock_invoke``). A Bedrock API key passes as ``Authorization: Bearer``. Streams replay
a recorded event stream cut at random byte boundaries.

For a Claude model (``anthropic.`` in the model id), Converse also holds Claude's rules on
extended thinking (``additionalModelRequestFields.thinking``): a budget from 1024 to below
``maxTokens``, no ``temperature`` but 1, ``topP`` only from 0.95, no ``top_k``, no forced
tool; reasoning sent back needs its signature, and with thinking enabled the assistant turn
of a tool loop must open with its reasoning.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import re
import struct
import time
from calendar import timegm
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from burncloud.protocols.eventstream import encode_message
from tests.fakes.bedrock_invoke import FIXTURES as ANTHROPIC_FIXTURES
from tests.fakes.bedrock_invoke import answer_headers, invoke_frames, invoke_problem
from tests.fakes.replay_server import ReplayServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bedrock"
STREAM_TYPE = "application/vnd.amazon.eventstream"
MAX_SKEW_SECONDS = 300
ACCESS_KEY = "AKIDFAKEBEDROCK0001"
_BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"
_PATH = re.compile(
    r"^/model/(?P<model>[^/?]+)"
    r"/(?P<action>converse|converse-stream|invoke|invoke-with-response-stream)$"
)
_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)
BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)
BAD_TOKEN = "The security token included in the request is invalid."
HTTP_ERRORS = {
    "ThrottlingException": (429, "Too many requests, please wait before trying again."),
    "ServiceUnavailableException": (503, "Bedrock is unable to process your request."),
    "InternalServerException": (500, "The server encountered an internal error."),
}


class BedrockFailure(Exception):
    """A refusal, carried to the handler that turns it into Bedrock's error answer."""

    def __init__(self, status: int, name: str, message: str, namespace: str = _BEDROCK_NS):
        super().__init__(message)
        self.status, self.name, self.message, self.namespace = status, name, message, namespace

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=orjson.dumps({"message": self.message}),
            content_type="application/json",
            headers={"x-amzn-ErrorType": f"{self.name}:{self.namespace}"},
        )


def _denied(name: str, message: str) -> BedrockFailure:
    return BedrockFailure(403, name, message, _CORAL_NS)


@functools.cache
def recorded_frames(name: str) -> tuple[bytes, ...]:
    """The messages of ``<name>.eventstream.b64``, decoded once, cut by their length prelude."""
    raw = base64.b64decode((FIXTURES / f"{name}.eventstream.b64").read_bytes())
    frames, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack(">I", raw[offset : offset + 4])
        frames.append(raw[offset : offset + length])
        offset += length
    return tuple(frames)


def recorded_answers(name: str) -> list[bytes]:
    """The JSON answers of a fixture: one object, or a recorded list of ``{"body": ...}``."""
    data = orjson.loads((FIXTURES / name).read_bytes())
    bodies = [item["body"] for item in data] if isinstance(data, list) else [data]
    return [orjson.dumps(body) for body in bodies]


def exception_frame(name: str, message: str) -> bytes:
    """An in-stream exception message, as Bedrock ends a broken ConverseStream."""
    headers = {":exception-type": name, ":content-type": "application/json"}
    headers[":message-type"] = "exception"
    return encode_message(headers, orjson.dumps({"message": message}))


class FakeBedrock(ReplayServer):
    """``async with FakeBedrock() as fake``: ``fake.base_url``, ``fake.key``, ``fake.requests``.

    ``answer_fixture`` answers converse calls in order (the last one repeats);
    ``stream_fixture`` names a recorded ConverseStream; ``invoke_answer`` and
    ``invoke_stream`` name the recorded Anthropic answers InvokeModel replays;
    ``stream_exception`` (type, message) cuts a stream after ``exception_after`` messages
    with that exception frame; ``http_error`` (a name from HTTP_ERRORS) answers every valid
    request with that error instead.
    """

    def __init__(
        self,
        access_key: str = ACCESS_KEY,
        secret_key: str = "fake/Secret+Key/for/the/Bedrock/fake0001",
        *,
        session_token: str | None = None,
        api_key: str | None = None,
        region: str = "us-east-1",
        answer_fixture: str = "bedrock_converse_nonstream_claude.json",
        stream_fixture: str = "bedrock_converse_stream_nova_text",
        invoke_answer: str = "anthropic_nonstream_tool_use.json",
        invoke_stream: str = "anthropic_stream_basic_text.sse",
        stream_exception: tuple[str, str] | None = None,
        exception_after: int = 4,
        http_error: str | None = None,
        seed: int = 17,
    ) -> None:
        super().__init__(seed)
        self.access_key, self.secret_key, self.session_token = access_key, secret_key, session_token
        self.api_key, self.region = api_key, region
        self.answers = recorded_answers(answer_fixture)
        self.stream_fixture, self.http_error = stream_fixture, http_error
        self.invoke_answer, self.invoke_stream = invoke_answer, invoke_stream
        self.stream_exception, self.exception_after = stream_exception, exception_after
        self.requests: list[dict[str, Any]] = []  # accepted bodies, in order
        self.headers: list[dict[str, str]] = []  # their headers, lower-cased names
        self.paths: list[str] = []  # their paths, as sent (model ids percent-encoded)
        self.rejections: list[tuple[int, str]] = []  # (status, exception) of refusals
        self._answered = 0

    @property
    def key(self) -> str:
        """The channel key for these credentials: ``ACCESS:SECRET[:TOKEN]``."""
        parts = [self.access_key, self.secret_key, self.session_token or ""]
        return ":".join(parts).rstrip(":")

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/{tail:.*}", self._handle)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            model, action = _route(request.raw_path)
            self._authenticate(request, raw)
            body = _parse(raw, action, model)
        except BedrockFailure as failure:
            self.rejections.append((failure.status, failure.name))
            return failure.response()
        self.requests.append(body)
        self.headers.append({name.lower(): value for name, value in request.headers.items()})
        self.paths.append(request.raw_path)
        if self.http_error is not None:
            status, message = HTTP_ERRORS[self.http_error]
            return BedrockFailure(status, self.http_error, message).response()
        if action == "converse":
            return self._answer()
        if action == "invoke":
            answer = (ANTHROPIC_FIXTURES / self.invoke_answer).read_bytes()
            headers = answer_headers(answer)
            return web.Response(body=answer, content_type="application/json", headers=headers)
        return await self._stream(request, action)

    def _answer(self) -> web.Response:
        raw = self.answers[min(self._answered, len(self.answers) - 1)]
        self._answered += 1
        return web.Response(body=raw, content_type="application/json")

    async def _stream(self, request: web.Request, action: str) -> web.StreamResponse:
        headers = {"Content-Type": STREAM_TYPE}
        if action == "converse-stream":
            frames = recorded_frames(self.stream_fixture)
        else:
            frames = invoke_frames(self.invoke_stream)
            headers["X-Amzn-Bedrock-Content-Type"] = "application/json"
        if self.stream_exception is not None:
            frames = (*frames[: self.exception_after], exception_frame(*self.stream_exception))
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        raw, position = b"".join(frames), 0
        while position < len(raw):
            size = self._rng.randint(1, 150)
            await response.write(raw[position : position + size])
            position += size
        await response.write_eof()
        return response

    def _authenticate(self, request: web.Request, raw: bytes) -> None:
        authorization = request.headers.get("Authorization", "")
        if authorization.startswith("Bearer "):
            if self.api_key is None or authorization[len("Bearer ") :] != self.api_key:
                raise _denied("UnrecognizedClientException", BAD_TOKEN)
            return
        if not authorization:
            raise _denied("MissingAuthenticationTokenException", "Missing Authentication Token")
        match = _AUTH.match(authorization)
        if match is None:
            raise _denied("IncompleteSignatureException", "Authorization header is malformed.")
        stamp = self._check_scope(request, match["credential"], match["signed"].split(";"))
        expected = self._signature(request, raw, match["signed"].split(";"), stamp)
        if not hmac.compare_digest(expected, match["signature"]):
            raise _denied("InvalidSignatureException", BAD_SIGNATURE)

    def _check_scope(self, request: web.Request, credential: str, signed: list[str]) -> str:
        """The request's x-amz-date once key, token, scope, date and header list pass."""
        access_key, _, scope = credential.partition("/")
        date, region, service, terminal = (scope.split("/") + [""] * 4)[:4]
        if access_key != self.access_key:
            raise _denied("UnrecognizedClientException", BAD_TOKEN)
        if request.headers.get("x-amz-security-token") != self.session_token:
            raise _denied("UnrecognizedClientException", BAD_TOKEN)
        stamp = request.headers.get("x-amz-date", "")
        if (date, region, service, terminal) != (stamp[:8], self.region, "bedrock", "aws4_request"):
            raise _denied("InvalidSignatureException", f"Credential should be scoped to {scope}.")
        if abs(time.time() - _parse_stamp(stamp)) > MAX_SKEW_SECONDS:
            raise _denied("InvalidSignatureException", f"Signature expired: {stamp} (> 5 min).")
        if not {"host", "x-amz-date"} <= set(signed):
            raise _denied("InvalidSignatureException", "host and x-amz-date must be signed.")
        return stamp

    def _signature(self, request: web.Request, raw: bytes, signed: list[str], stamp: str) -> str:
        """The signature botocore computes for this request as received."""
        content_sha = request.headers.get("x-amz-content-sha256")
        if content_sha is not None and content_sha != hashlib.sha256(raw).hexdigest():
            raise _denied("InvalidSignatureException", "x-amz-content-sha256 does not match.")
        headers = {name: ",".join(request.headers.getall(name, [])) for name in signed}
        url = f"http://{request.headers.get('Host', '')}{request.raw_path}"
        aws = AWSRequest(method=request.method, url=url, data=raw, headers=headers)
        aws.context["timestamp"] = stamp
        credentials = Credentials(self.access_key, self.secret_key, self.session_token)
        signer = SigV4Auth(credentials, "bedrock", self.region)
        return signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)


def _route(raw_path: str) -> tuple[str, str]:
    """The model id and the action of a request path."""
    match = _PATH.match(raw_path)
    if match is None:
        raise BedrockFailure(404, "UnknownOperationException", "Unknown operation")
    return unquote(match["model"]), match["action"]


def _parse_stamp(stamp: str) -> float:
    try:
        return timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
    except ValueError:
        raise _denied("IncompleteSignatureException", "x-amz-date is missing or bad.") from None


def _parse(raw: bytes, action: str, model: str) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if action.startswith("converse"):
        problem = converse_problem(body, claude="anthropic." in model)
    else:
        problem = invoke_problem(body)
    if problem is not None:
        raise BedrockFailure(400, "ValidationException", problem)
    return body


_TOP_LEVEL = {
    *("messages", "system", "inferenceConfig", "toolConfig", "guardrailConfig"),
    *("additionalModelRequestFields", "additionalModelResponseFieldPaths", "promptVariables"),
    *("requestMetadata", "performanceConfig", "serviceTier"),
}
_INFERENCE_KEYS = {"maxTokens", "temperature", "topP", "stopSequences"}
_MESSAGE_BLOCKS = {
    *("text", "image", "document", "video", "toolUse", "toolResult", "reasoningContent"),
    *("cachePoint", "guardContent", "citationsContent"),
}
_RESULT_BLOCKS = {"text", "json", "image", "document", "video"}
_SYSTEM_BLOCKS = {"text", "guardContent", "cachePoint"}
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ALTERNATE = "A conversation must alternate between user and assistant roles, starting with user."
_NEEDS_TOOL_CONFIG = (
    "The toolConfig field must be defined when using toolUse and toolResult content blocks."
)


def converse_problem(body: Any, *, claude: bool = False) -> str | None:
    """Bedrock's ValidationException message for a Converse ``body`` (to a Claude model when
    ``claude``); None when valid."""
    if not isinstance(body, dict):
        return "Malformed input request, please reformat your input and try again."
    if not set(body) <= _TOP_LEVEL:
        return f"Unknown parameters in the request: {sorted(set(body) - _TOP_LEVEL)}"
    extra = body.get("additionalModelRequestFields", {})
    problem = (
        _messages_problem(body.get("messages"))
        or _blocks_problem(body.get("system", []), "system", _SYSTEM_BLOCKS)
        or _inference_problem(body.get("inferenceConfig", {}))
        or _tool_config_problem(body.get("toolConfig"), body["messages"])
        or (None if isinstance(extra, dict) else "additionalModelRequestFields: not an object")
    )
    if problem or not claude:
        return problem
    return _signature_problem(body["messages"]) or claude_thinking_problem(body)


_CLAUDE_SAYS = "The model returned the following errors: "


def _signature_problem(messages: list[dict[str, Any]]) -> str | None:
    for index, message in enumerate(messages):
        for position, block in enumerate(message["content"]):
            text = block.get("reasoningContent", {}).get("reasoningText")
            if isinstance(text, dict) and not text.get("signature"):
                where = f"messages.{index}.content.{position}"
                return f"{_CLAUDE_SAYS}{where}.thinking.signature: Field required"
    return None


def claude_thinking_problem(body: dict[str, Any]) -> str | None:
    """What Claude refuses about a Converse request's extended thinking (None: nothing)."""
    thinking = body.get("additionalModelRequestFields", {}).get("thinking")
    if thinking is None:
        return None
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "disabled", "adaptive"):
        return _CLAUDE_SAYS + "thinking.type: Input tag is invalid"
    if kind == "disabled":
        return None
    config = body.get("inferenceConfig", {})
    problem = _claude_sampling_problem(body, config)
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        problem = problem or _claude_budget_problem(budget, config.get("maxTokens"))
        problem = problem or _unsigned_tool_loop(body["messages"])
    return problem


def _claude_budget_problem(budget: Any, max_tokens: Any) -> str | None:
    if not isinstance(budget, int) or budget < 1024:
        return _CLAUDE_SAYS + "thinking.enabled.budget_tokens: Input should be >= 1024"
    if isinstance(max_tokens, int) and budget >= max_tokens:
        return _CLAUDE_SAYS + "`max_tokens` must be greater than `thinking.budget_tokens`."
    return None


def _claude_sampling_problem(body: dict[str, Any], config: dict[str, Any]) -> str | None:
    rule = None
    if config.get("temperature", 1) != 1:
        rule = "`temperature` may only be set to 1 when thinking is enabled."
    elif config.get("topP", 1) < 0.95:
        rule = "`top_p` must be at least 0.95 or unset when thinking is enabled."
    elif "top_k" in body.get("additionalModelRequestFields", {}):
        rule = "`top_k` is not supported when thinking is enabled."
    elif "auto" not in (body.get("toolConfig") or {}).get("toolChoice", {"auto": {}}):
        rule = "Thinking may not be enabled when tool_choice forces tool use."
    return None if rule is None else _CLAUDE_SAYS + rule


def _unsigned_tool_loop(messages: list[dict[str, Any]]) -> str | None:
    """With thinking enabled, the last assistant turn, when it used tools, opens with reasoning."""
    for index, message in reversed(list(enumerate(messages))):
        if message["role"] != "assistant":
            continue
        content = message["content"]
        if any("toolUse" in block for block in content) and "reasoningContent" not in content[0]:
            found = next(iter(content[0]))
            return (
                f"{_CLAUDE_SAYS}messages.{index}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{found}`. When `thinking` is enabled, a final "
                "`assistant` message must start with a thinking block."
            )
        return None
    return None


def _messages_problem(messages: Any) -> str | None:
    if not isinstance(messages, list) or not messages:
        return "A conversation must start with a user message."
    tool_ids: set[str] = set()  # the toolUse ids of the previous assistant turn
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return f"{where}: a message has exactly the members role and content"
        if message["role"] != ("user" if index % 2 == 0 else "assistant"):
            return _ALTERNATE
        content = message["content"]
        if not isinstance(content, list) or not content:
            return f"The content field in the Message object at {where} is empty."
        problem = _blocks_problem(content, f"{where}.content", _MESSAGE_BLOCKS)
        for block in content if problem is None else ():
            result = block.get("toolResult")
            if result is not None and result["toolUseId"] not in tool_ids:
                problem = f"{where}: toolResult {result['toolUseId']!r} answers no toolUse"
        if problem:
            return problem
        tool_ids = {b["toolUse"]["toolUseId"] for b in content if "toolUse" in b}
    return None


def _blocks_problem(blocks: Any, where: str, kinds: set[str]) -> str | None:
    """The first problem of a list of union blocks, each with exactly one member of ``kinds``."""
    if not isinstance(blocks, list):
        return f"{where}: must be a list"
    for index, block in enumerate(blocks):
        if not isinstance(block, dict) or len(block) != 1 or not set(block) <= kinds:
            return f"{where}.{index}: a block sets exactly one of {', '.join(sorted(kinds))}"
        ((kind, value),) = block.items()
        check = _BLOCK_CHECKS.get(kind)
        problem = check(value) if check is not None else None
        if problem:
            return f"{where}.{index}.{kind}: {problem}"
    return None


def _text(value: Any) -> str | None:
    ok = isinstance(value, str) and value.strip()
    return None if ok else "The text field in the ContentBlock object is blank."


def _media(value: Any) -> str | None:
    source = value.get("source") if isinstance(value, dict) else None
    if not isinstance(value.get("format") if source else None, str):
        return "format and source are required"
    ok = isinstance(source, dict) and len(source) == 1 and set(source) <= {"bytes", "s3Location"}
    return None if ok else "source sets exactly one of bytes, s3Location"


def _tool_use(value: Any) -> str | None:
    if not isinstance(value, dict) or not isinstance(value.get("input"), dict):
        return "input must be an object"
    ok = value.get("toolUseId") and _TOOL_NAME.match(str(value.get("name") or ""))
    return None if ok else "toolUseId and a valid name are required"


def _tool_result(value: Any) -> str | None:
    if not isinstance(value, dict) or not value.get("toolUseId"):
        return "toolUseId is required"
    if value.get("status", "success") not in ("success", "error"):
        return "status must be success or error"
    return _blocks_problem(value.get("content"), "content", _RESULT_BLOCKS)


def _reasoning(value: Any) -> str | None:
    text = value.get("reasoningText") if isinstance(value, dict) and len(value) == 1 else None
    if isinstance(text, dict) and isinstance(text.get("text"), str):
        return None
    ok = isinstance(value, dict) and "redactedContent" in value
    return None if ok else "set reasoningText or redactedContent"


_BLOCK_CHECKS: dict[str, Any] = {
    "text": _text,
    "image": _media,
    "document": _media,
    "toolUse": _tool_use,
    "toolResult": _tool_result,
    "reasoningContent": _reasoning,
    "cachePoint": lambda value: None if value == {"type": "default"} else "type must be default",
    "json": lambda value: None if isinstance(value, dict) else "must be an object",
}


def _inference_problem(config: Any) -> str | None:
    if not isinstance(config, dict) or not set(config) <= _INFERENCE_KEYS:
        return f"inferenceConfig: only {', '.join(sorted(_INFERENCE_KEYS))} are allowed"
    tokens = config.get("maxTokens", 1)
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 1:
        return "inferenceConfig.maxTokens: must be an integer of at least 1"
    for name in ("temperature", "topP"):
        value = config.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            return f"inferenceConfig.{name}: must be a number from 0 to 1"
    stops = config.get("stopSequences", [])
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        return "inferenceConfig.stopSequences: must be a list of non-empty strings"
    return None


def _tool_config_problem(config: Any, messages: list[dict[str, Any]]) -> str | None:
    if config is None:
        used = any("toolUse" in b or "toolResult" in b for m in messages for b in m["content"])
        return _NEEDS_TOOL_CONFIG if used else None
    tools = config.get("tools") if isinstance(config, dict) else None
    if not isinstance(tools, list) or not tools or not set(config) <= {"tools", "toolChoice"}:
        return "toolConfig: tools must be a non-empty list, toolChoice the only other member"
    names = set()
    for index, tool in enumerate(tools):
        spec = tool.get("toolSpec") if isinstance(tool, dict) and len(tool) == 1 else None
        schema = spec.get("inputSchema") if isinstance(spec, dict) else None
        if not isinstance(schema, dict) or not isinstance(schema.get("json"), dict):
            return f"toolConfig.tools.{index}: toolSpec.inputSchema.json must be an object"
        if not _TOOL_NAME.match(str(spec.get("name") or "")):
            return f"toolConfig.tools.{index}.toolSpec.name: must match [a-zA-Z0-9_-]{{1,64}}"
        names.add(spec["name"])
    choice = config.get("toolChoice", {"auto": {}})
    tool = choice.get("tool") if isinstance(choice, dict) and len(choice) == 1 else None
    if choice in ({"auto": {}}, {"any": {}}) or (
        isinstance(tool, dict) and tool.get("name") in names
    ):
        return None
    return "toolConfig.toolChoice: set one of auto, any, or tool naming a given tool"
