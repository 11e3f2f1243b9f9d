"""OpenAI embeddings over Gemini batchEmbedContents (PROTOCOLS.md 4.6, 9.3)."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field

import orjson
import pytest

from burncloud.errors import InvalidRequest, UpstreamError
from burncloud.providers.gemini import GeminiProvider


@dataclass(frozen=True)
class Channel:
    base_url: str = "http://127.0.0.1:9"
    key: str = "k"
    config: dict[str, str] = field(default_factory=dict)


ANSWER = orjson.dumps({"embeddings": [{"values": [0.5, -0.25]}, {"values": [1.0, 0.0]}]})


def test_request_is_one_batch_entry_per_input() -> None:
    body = {"model": "emb", "input": ["a", "b"], "dimensions": 2}
    request = GeminiProvider().embeddings_request(Channel(), body, "gemini-embedding-001")
    assert request.url == "http://127.0.0.1:9/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert request.headers["x-goog-api-key"] == "k"
    assert orjson.loads(request.body) == {
        "requests": [
            {
                "model": "models/gemini-embedding-001",
                "content": {"parts": [{"text": t}]},
                "outputDimensionality": 2,
            }
            for t in ("a", "b")
        ]
    }


TWO_INPUTS = {"input": ["first", "second"]}


@pytest.mark.parametrize("value", [[1, 2, 3], [[1, 2]], [], "", None, ["ok", ""]])
def test_token_arrays_and_empty_inputs_are_refused(value: object) -> None:
    with pytest.raises(InvalidRequest):
        GeminiProvider().embeddings_request(Channel(), {"input": value}, "m")


def test_answer_is_an_openai_list_without_usage() -> None:
    answer = GeminiProvider().embeddings_answer(ANSWER, "my-embedder", TWO_INPUTS)
    assert answer.usage is None
    assert answer.result == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "my-embedder",
    }


def test_base64_encoding_is_little_endian_float32_like_openai() -> None:
    answer = GeminiProvider().embeddings_answer(
        ANSWER, "m", {**TWO_INPUTS, "encoding_format": "base64"}
    )
    packed = answer.result["data"][0]["embedding"]
    assert struct.unpack("<2f", base64.b64decode(packed)) == (0.5, -0.25)


@pytest.mark.parametrize(
    "raw", [b"nope", b"{}", b'{"embeddings": [{"values": [1]}]}', b'{"embeddings": [{}, {}]}']
)
def test_wrong_or_short_answers_are_upstream_errors(raw: bytes) -> None:
    with pytest.raises(UpstreamError):
        GeminiProvider().embeddings_answer(raw, "m", TWO_INPUTS)
