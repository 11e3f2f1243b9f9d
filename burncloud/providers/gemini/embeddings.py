"""OpenAI ``/v1/embeddings`` over Gemini ``batchEmbedContents`` (PROTOCOLS.md 4.6).

Gemini reports no token usage for embeddings: the answer's ``usage`` is None and its body
has no ``usage`` member, for the caller to estimate and fill in (PROTOCOLS.md 9.3). The
answer type is the shared ``EmbeddingsAnswer``, so callers handle one shape.
"""

from __future__ import annotations

import base64
import sys
from array import array

import orjson

from burncloud.errors import InvalidRequest, UpstreamError
from burncloud.protocols.shapes import JSON
from burncloud.providers.base import EmbeddingsAnswer


def embeddings_body(body: JSON, model: str) -> JSON:
    """The ``batchEmbedContents`` body: one request per input string, in order."""
    texts = _inputs(body.get("input"))
    dimensions = body.get("dimensions")
    requests = []
    for text in texts:
        request: JSON = {"model": f"models/{model}", "content": {"parts": [{"text": text}]}}
        if dimensions is not None:
            request["outputDimensionality"] = dimensions
        requests.append(request)
    return {"requests": requests}


def convert_embeddings(raw: bytes, model: str, body: JSON) -> EmbeddingsAnswer:
    """The OpenAI embeddings list for a ``batchEmbedContents`` answer to the client's ``body``.

    The vectors must match the inputs one for one; the client's ``encoding_format`` is
    honoured here (``base64`` packs each vector as OpenAI does)."""
    input_count = len(_inputs(body.get("input")))
    encoding_format = body.get("encoding_format") or "float"
    vectors = _vectors(raw)
    if len(vectors) != input_count:
        raise UpstreamError(
            f"the Gemini upstream returned {len(vectors)} embeddings for {input_count} inputs"
        )
    data = [
        {"object": "embedding", "index": i, "embedding": _encoded(v, encoding_format)}
        for i, v in enumerate(vectors)
    ]
    return EmbeddingsAnswer(result={"object": "list", "data": data, "model": model}, usage=None)


def _inputs(value: object) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise InvalidRequest("'input' must be a string or a non-empty array of strings")
    if not all(isinstance(text, str) and text for text in value):
        raise InvalidRequest("Gemini channels embed only non-empty strings, not token arrays")
    return value


def _vectors(raw: bytes) -> list[list[float]]:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("the Gemini upstream sent embeddings that are not JSON") from exc
    embeddings = data.get("embeddings") if isinstance(data, dict) else None
    if not isinstance(embeddings, list):
        raise UpstreamError("the Gemini upstream sent no 'embeddings' array")
    vectors = []
    for item in embeddings:
        values = item.get("values") if isinstance(item, dict) else None
        if not isinstance(values, list):
            raise UpstreamError("the Gemini upstream sent an embedding without 'values'")
        vectors.append(values)
    return vectors


def _encoded(values: list[float], encoding_format: str) -> list[float] | str:
    """The vector as floats, or for ``base64`` as OpenAI does: little-endian float32 bytes."""
    if encoding_format != "base64":
        return values
    packed = array("f", values)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode()
