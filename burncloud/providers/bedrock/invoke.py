"""Claude's own Messages API over Bedrock's InvokeModel (PROTOCOLS.md 7.1, 7.5).

An Anthropic-format request for a Claude model on Bedrock goes upstream as the client wrote
it, with only the changes InvokeModel requires, as the anthropic SDK's Bedrock client makes
them: ``model`` and ``stream`` leave the body (the model id is in the path, the stream flag
is the choice between ``/invoke`` and ``/invoke-with-response-stream``; Bedrock refuses
either in the body), ``anthropic_version`` names Bedrock's Messages API version, and the
client's ``anthropic-beta`` header values join the body's ``anthropic_beta`` array, the only
place Bedrock reads betas. Everything else (thinking, cache_control, system turns, fields
not yet invented) passes unread.
"""

from __future__ import annotations

from collections.abc import Mapping

from burncloud.protocols.shapes import JSON

ANTHROPIC_VERSION = "bedrock-2023-05-31"
INVOKE = "invoke"
INVOKE_STREAM = "invoke-with-response-stream"
_IN_THE_PATH = ("model", "stream")


def is_claude_model(model: str) -> bool:
    """Whether Bedrock model id ``model`` names a Claude model: a model id, a cross-region
    or global inference profile (``us.``, ``global.``) or an ARN holding one."""
    return "anthropic.claude" in model.lower()


def invoke_action(stream: bool) -> str:
    """The InvokeModel path's last segment for a streamed or a whole answer."""
    return INVOKE_STREAM if stream else INVOKE


def invoke_body(body: JSON, max_tokens: int | None, client_headers: Mapping[str, str]) -> JSON:
    """The InvokeModel body for Messages request ``body``, with the answer limited to
    ``max_tokens`` when given; every other member kept as it is, in its order."""
    payload = {key: value for key, value in body.items() if key not in _IN_THE_PATH}
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    payload["anthropic_version"] = ANTHROPIC_VERSION
    betas = _header_betas(client_headers.get("anthropic-beta"))
    if betas:
        own = payload.get("anthropic_beta")
        own = own if isinstance(own, list) else []
        payload["anthropic_beta"] = own + [beta for beta in betas if beta not in own]
    return payload


def _header_betas(header: str | None) -> list[str]:
    """The betas of an ``anthropic-beta`` header (comma-separated), in order, once each."""
    betas: list[str] = []
    for beta in (header or "").split(","):
        if beta.strip() and beta.strip() not in betas:
            betas.append(beta.strip())
    return betas
