"""A converted channel's reasoning in a Responses ``reasoning`` item, and back.

Providers return reasoning as ``reasoning_content`` (text) and ``thinking_blocks`` (Claude's
signed thinking and redacted blocks, which Claude wants back unchanged in a tool loop). The
text becomes the item's summary; when the client asks for
``include: ["reasoning.encrypted_content"]``, both travel in the item's
``encrypted_content``, sealed with the router's secret (``seal``), so a client sending the
item back on its next turn (``store: false``) returns the blocks to the provider, and cannot
forge them: ``unseal`` opens only what ``seal`` made (anything else is left out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.fernet import InvalidToken

from burncloud.errors import BurncloudError, InvalidRequest
from burncloud.protocols.shapes import JSON

Seal = Callable[[bytes], str]
# Opens a sealed token; for one it did not make: None, or cryptography's InvalidToken, a
# ValueError or a BurncloudError raised.
Unseal = Callable[[str], bytes | None]

BLOCK_TYPES = ("thinking", "redacted_thinking")


@dataclass(frozen=True, slots=True)
class Reasoning:
    """Reasoning of one assistant turn, as chat carries it."""

    text: str | None  # ``reasoning_content``
    blocks: tuple[JSON, ...]  # ``thinking_blocks``

    def __bool__(self) -> bool:
        return bool(self.text) or bool(self.blocks)


def reasoning_of(message: JSON) -> Reasoning:
    """The reasoning of a chat assistant message (or a whole answer's message)."""
    text = message.get("reasoning_content")
    return Reasoning(text if isinstance(text, str) and text else None, thinking_blocks(message))


def thinking_blocks(holder: JSON) -> tuple[JSON, ...]:
    """The well-formed ``thinking_blocks`` of ``holder``, with their fields only."""
    blocks = holder.get("thinking_blocks")
    kept = []
    for block in blocks if isinstance(blocks, list) else ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "thinking":
            kept.append(
                {
                    "type": "thinking",
                    "thinking": str(block.get("thinking") or ""),
                    "signature": str(block.get("signature") or ""),
                }
            )
        elif kind == "redacted_thinking":
            kept.append({"type": "redacted_thinking", "data": str(block.get("data") or "")})
    return tuple(kept)


def reasoning_item(item_id: str, reasoning: Reasoning, seal: Seal | None) -> JSON:
    """The ``reasoning`` output item; ``encrypted_content`` only with a ``seal`` (the client
    asked for it)."""
    summary = [{"type": "summary_text", "text": reasoning.text}] if reasoning.text else []
    item: JSON = {"id": item_id, "type": "reasoning", "summary": summary}
    if seal is not None:
        payload = {"thinking_blocks": list(reasoning.blocks), "reasoning_content": reasoning.text}
        item["encrypted_content"] = seal(orjson.dumps(payload))
    return item


def unsealed(item: JSON, unseal: Unseal, where: str) -> Reasoning:
    """The reasoning a client sent back in a ``reasoning`` item: its sealed content when
    the router sealed it, else its summary and reasoning text only. Content sealed by
    someone else (OpenAI's own, from a turn an OpenAI channel answered, or a forgery) is
    left out, never refused: it is of no use to another provider, and a forgery gains
    nothing, since only what ``seal`` made reaches the provider as signed blocks."""
    token = item.get("encrypted_content")
    if token is not None and not isinstance(token, str):
        raise InvalidRequest(f"Invalid type for '{where}.encrypted_content': expected a string.")
    payload = _open(token, unseal) if token else None
    if payload is None:
        return Reasoning(_item_text(item, where), ())
    text = payload.get("reasoning_content")
    return Reasoning(text if isinstance(text, str) and text else None, thinking_blocks(payload))


def _open(token: str, unseal: Unseal) -> JSON | None:
    """What the router sealed in ``token``; None for anything else."""
    try:
        raw = unseal(token)
        payload = orjson.loads(raw) if raw is not None else None
    except (InvalidToken, ValueError, BurncloudError):
        return None
    return payload if isinstance(payload, dict) else None


def _item_text(item: JSON, where: str) -> str | None:
    """A reasoning item's summary texts (or, without a summary, its reasoning text)."""
    texts = _texts(item.get("summary"), "summary_text", f"{where}.summary")
    if not texts:
        texts = _texts(item.get("content"), "reasoning_text", f"{where}.content")
    return "\n\n".join(texts) or None


def _texts(parts: Any, kind: str, where: str) -> list[str]:
    if parts is None:
        return []
    if not isinstance(parts, list):
        raise InvalidRequest(f"Invalid type for '{where}': expected an array.")
    return [
        part["text"]
        for part in parts
        if isinstance(part, dict) and part.get("type") == kind and isinstance(part.get("text"), str)
    ]
