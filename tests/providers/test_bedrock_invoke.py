"""Claude's Messages API over Bedrock InvokeModel: which models, and the request built."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from burncloud.providers.bedrock import BedrockProvider, is_claude_model
from tests.fakes.bedrock_invoke import invoke_problem
from tests.providers.test_bedrock_provider import BASE_URL, KEY, NOW, Channel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "anthropic"
PROVIDER = BedrockProvider(clock=lambda: NOW)
SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"
# A Messages body as a client writes it: a mid-conversation system turn, thinking, cache
# control and a member no API knows yet, in an order no serializer of ours would choose.
BODY = {
    "stream": True,
    "model": "claude-sonnet-4",
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {}}]},
        {"role": "system", "content": "Today is Monday."},
    ],
    "thinking": {"type": "enabled", "budget_tokens": 2048},
    "max_tokens": 4096,
    "future_field": {"anything": [1, 2]},
}
BETAS = {"anthropic-beta": "interleaved-thinking-2025-05-14, context-1m-2025-08-07"}


@pytest.mark.parametrize(
    "model",
    [
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        SONNET,
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0",
    ],
)
def test_claude_models_and_their_profiles_are_claude(model: str) -> None:
    assert is_claude_model(model)


@pytest.mark.parametrize(
    "model",
    [
        "amazon.nova-micro-v1:0",
        "us.amazon.nova-pro-v1:0",
        "meta.llama3-70b-instruct-v1:0",
        "mistral.mistral-large-2402-v1:0",
        # An application inference profile does not name its model: Converse serves it.
        "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6",
    ],
)
def test_other_models_are_not(model: str) -> None:
    assert not is_claude_model(model)


def test_the_body_keeps_every_member_and_order_less_model_and_stream() -> None:
    request = PROVIDER.native_request(
        Channel(), orjson.dumps(BODY), BODY, SONNET, True, None, BETAS
    )
    sent = orjson.loads(request.body)
    kept = {k: v for k, v in BODY.items() if k not in ("model", "stream")}
    betas = ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
    assert sent == kept | {"anthropic_version": "bedrock-2023-05-31", "anthropic_beta": betas}
    assert list(sent) == [*kept, "anthropic_version", "anthropic_beta"]
    assert invoke_problem(sent) is None  # what Bedrock's schema takes


def test_stream_and_whole_answers_use_the_two_invoke_paths() -> None:
    raw = orjson.dumps(BODY)
    streamed = PROVIDER.native_request(Channel(), raw, BODY, SONNET, True, None, {})
    whole = PROVIDER.native_request(Channel(), raw, BODY, SONNET, False, None, {})
    model_path = "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0"
    assert streamed.url == f"{BASE_URL}{model_path}/invoke-with-response-stream"
    assert whole.url == f"{BASE_URL}{model_path}/invoke"
    assert streamed.headers["Accept"] == "application/vnd.amazon.eventstream"
    assert whole.headers["Accept"] == "application/json"
    assert "anthropic_beta" not in orjson.loads(whole.body)  # the client sent no betas


def test_an_arn_is_one_encoded_path_segment() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-x-v1:0"
    request = PROVIDER.native_request(Channel(), b"{}", BODY, arn, False, None, {})
    encoded = "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F"
    assert request.url == f"{BASE_URL}/model/{encoded}us.anthropic.claude-x-v1%3A0/invoke"


def test_a_balance_cap_replaces_max_tokens() -> None:
    request = PROVIDER.native_request(Channel(), b"{}", BODY, SONNET, True, 300, {})
    sent = orjson.loads(request.body)
    assert sent["max_tokens"] == 300 and sent["thinking"] == BODY["thinking"]


def test_header_betas_join_the_bodys_own_once_each() -> None:
    body = BODY | {"anthropic_beta": ["context-1m-2025-08-07"]}
    request = PROVIDER.native_request(Channel(), b"{}", body, SONNET, True, None, BETAS)
    assert orjson.loads(request.body)["anthropic_beta"] == [
        "context-1m-2025-08-07",
        "interleaved-thinking-2025-05-14",
    ]


def test_the_invoke_request_is_signed_as_botocore_signs_it() -> None:
    request = PROVIDER.native_request(Channel(), b"{}", BODY, SONNET, True, None, BETAS)
    signed = {k: v for k, v in request.headers.items() if k in ("Content-Type", "X-Amz-Date")}
    aws = AWSRequest("POST", request.url, data=request.body, headers=signed)
    aws.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(*KEY.split(":")), "bedrock", "us-east-1")
    signature = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)), aws)
    assert request.headers["Authorization"].endswith(f"Signature={signature}")


def test_a_bedrock_api_key_is_sent_as_a_bearer_token() -> None:
    channel = Channel(key="ABSKZmFrZS1iZWRyb2NrLWtleQ==")
    request = PROVIDER.native_request(channel, b"{}", BODY, SONNET, False, None, {})
    assert request.headers["Authorization"] == "Bearer ABSKZmFrZS1iZWRyb2NrLWtleQ=="
    assert "X-Amz-Date" not in request.headers


def test_a_whole_answer_is_read_for_its_usage_and_text() -> None:
    raw = (FIXTURES / "anthropic_nonstream_tool_use.json").read_bytes()
    answer = PROVIDER.native_answer(raw, "claude-sonnet-4")
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (1577, 86)
    message = answer.completion["choices"][0]["message"]
    assert message["content"].startswith("I'll check my memory")
    assert message["tool_calls"][0]["function"]["name"] == "memory"
