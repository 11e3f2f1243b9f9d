from __future__ import annotations

import calendar
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from burncloud.errors import UpstreamError
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.bedrock.provider import parse_credentials
from burncloud.providers.bedrock.sigv4 import canonical_request, sign_request

NOW = calendar.timegm((2025, 1, 1, 12, 0, 0))
KEY = "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
BASE_URL = "https://bedrock-runtime.us-east-1.amazonaws.com"
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
# PROTOCOLS.md 7.6: the known-answer Authorization for exactly these URL, body and time.
KNOWN_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, "
    "Signature=9cacc185a31a52b38a96e4cb011935520298f6e665001840838ff167b879bb3c"
)
HELLO = {"model": "claude", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 256}


@dataclass(frozen=True)
class Channel:
    key: str = KEY
    base_url: str = BASE_URL
    config: Mapping[str, str] = field(default_factory=lambda: {"region": "us-east-1"})


def provider(now: float = NOW) -> BedrockProvider:
    return BedrockProvider(clock=lambda: now, make_id=lambda: "chatcmpl-test")


def test_request_matches_the_sigv4_known_answer_end_to_end() -> None:
    request = provider().chat_request(Channel(), HELLO, CLAUDE, stream=False)
    assert request.url == f"{BASE_URL}/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
    assert request.body == (
        b'{"messages":[{"role":"user","content":[{"text":"Hello"}]}],'
        b'"inferenceConfig":{"maxTokens":256}}'
    )
    assert dict(request.headers) == {
        "Content-Type": "application/json",
        "X-Amz-Date": "20250101T120000Z",
        "Authorization": KNOWN_AUTHORIZATION,
        "Accept": "application/json",
    }


def test_stream_requests_go_to_converse_stream_and_accept_eventstream() -> None:
    request = provider().chat_request(Channel(), HELLO | {"stream": True}, CLAUDE, stream=True)
    assert request.url.endswith(
        "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream"
    )
    assert request.headers["Accept"] == "application/vnd.amazon.eventstream"
    assert b"stream" not in request.body


def test_arn_model_ids_are_one_encoded_path_segment() -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude"
    request = provider().chat_request(Channel(), HELLO, arn, stream=False)
    path = request.url.removeprefix(BASE_URL)
    assert path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile"
        "%2Fus.anthropic.claude/converse"
    )


def test_signature_is_verifiable_from_the_sent_request() -> None:
    """What a strict fake upstream does: rebuild the canonical request from the wire."""
    channel = Channel(key="AKID:secret:SESSION", base_url="http://127.0.0.1:8123/")
    request = provider().chat_request(channel, HELLO, "us.amazon.nova-micro-v1:0", stream=True)
    assert request.url.startswith("http://127.0.0.1:8123/model/us.amazon.nova-micro-v1%3A0/")
    assert request.headers["X-Amz-Security-Token"] == "SESSION"
    signed_names = request.headers["Authorization"].split("SignedHeaders=")[1].split(",")[0]
    assert signed_names == "content-type;host;x-amz-date;x-amz-security-token"
    wire = {k: v for k, v in request.headers.items() if k.lower() in signed_names.split(";")}
    canonical, _ = canonical_request(
        "POST", request.url, wire, hashlib.sha256(request.body).hexdigest()
    )
    assert "\nhost:127.0.0.1:8123\n" in canonical
    assert "/model/us.amazon.nova-micro-v1%253A0/converse-stream\n" in canonical
    resigned = sign_request(
        "POST",
        request.url,
        {"Content-Type": "application/json"},
        request.body,
        credentials=parse_credentials("AKID:secret:SESSION"),
        region="us-east-1",
        service="bedrock",
        now=NOW,
    )
    assert resigned["Authorization"] == request.headers["Authorization"]


def test_each_request_is_signed_at_the_clock_time() -> None:
    first = provider(NOW).chat_request(Channel(), HELLO, CLAUDE, stream=False)
    later = provider(NOW + 60).chat_request(Channel(), HELLO, CLAUDE, stream=False)
    assert later.headers["X-Amz-Date"] == "20250101T120100Z"
    assert later.headers["Authorization"] != first.headers["Authorization"]


def test_a_key_without_a_colon_is_a_bedrock_api_key() -> None:
    request = provider().chat_request(Channel(key="ABSKbedrockapikey"), HELLO, CLAUDE, stream=False)
    assert request.headers["Authorization"] == "Bearer ABSKbedrockapikey"
    assert "X-Amz-Date" not in request.headers


def test_a_missing_region_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError, match="region"):
        provider().chat_request(Channel(config={}), HELLO, CLAUDE, stream=False)


@pytest.mark.parametrize("key", [":s3cr3t", "AKID9:", "AKID9::t0ken"])
def test_a_malformed_key_is_an_upstream_error_that_hides_it(key: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        provider().chat_request(Channel(key=key), HELLO, CLAUDE, stream=False)
    for part in filter(None, key.split(":")):
        assert part not in caught.value.message


def test_credentials_parse_with_and_without_a_session_token() -> None:
    assert parse_credentials("A:B").session_token is None
    full = parse_credentials("A:B:C")
    assert (full.access_key_id, full.secret_access_key, full.session_token) == ("A", "B", "C")


def test_provider_is_named_bedrock() -> None:
    assert BedrockProvider.name == "bedrock"
