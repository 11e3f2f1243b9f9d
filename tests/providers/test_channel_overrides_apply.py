"""Channel overrides applied to built upstream requests (``providers.overrides``)."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field

import orjson
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from burncloud.providers.anthropic import AnthropicProvider
from burncloud.providers.bedrock import BedrockProvider
from burncloud.providers.gemini.provider import GeminiProvider
from burncloud.providers.overrides import merge_patch, overridden, overridden_body
from burncloud.services.channel_overrides import ChannelOverrides

NOW = calendar.timegm((2025, 1, 1, 12, 0, 0))
ACCESS, SECRET, SESSION = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "tok-123"
HELLO = {"model": "m", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 256}
JSON_HEADERS = {"Authorization": "Bearer sk-1", "Content-Type": "application/json"}


@dataclass(frozen=True)
class Channel:
    key: str
    base_url: str
    config: Mapping[str, str] = field(default_factory=lambda: {"region": "eu-west-1"})


def test_headers_are_replaced_in_any_case_added_or_removed() -> None:
    overrides = ChannelOverrides({"authorization": "Bearer proxy", "X-Org": "a", "Accept": ""})
    headers = {"Authorization": "Bearer sk-1", "Content-Type": "application/json", "accept": "*"}
    sent, body = overridden(overrides, "sk-1", "POST", "http://u/v1", headers, b"{}")
    assert sent == {
        "Content-Type": "application/json",
        "authorization": "Bearer proxy",
        "X-Org": "a",
    }
    assert body == b"{}"
    assert headers["Authorization"] == "Bearer sk-1"  # the caller's mapping is left alone


def test_header_only_overrides_leave_the_body_bytes_untouched() -> None:
    raw = b'{ "model" : "m",  "messages": [] }'
    _, body = overridden(ChannelOverrides({"X-A": "1"}), "k", "POST", "u", JSON_HEADERS, raw)
    assert body is raw


def test_parameters_are_dropped_then_merged_as_a_merge_patch() -> None:
    overrides = ChannelOverrides(
        set_params={
            "temperature": 0.2,
            "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}, "topK": None},
            "user": None,
        },
        drop_params=("logit_bias",),
    )
    raw = orjson.dumps(
        {
            "model": "m",
            "logit_bias": {"1": 2},
            "user": "u1",
            "temperature": 1,
            "generationConfig": {"topK": 3, "maxOutputTokens": 100},
        }
    )
    _, body = overridden(overrides, "k", "POST", "u", JSON_HEADERS, raw)
    assert orjson.loads(body) == {
        "model": "m",
        "temperature": 0.2,
        "generationConfig": {"maxOutputTokens": 100, "thinkingConfig": {"thinkingBudget": 0}},
    }


def test_merge_patch_follows_rfc_7396_examples() -> None:
    # RFC 7396, appendix A (a selection).
    assert merge_patch({"a": "b"}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": "b"}, {"a": None}) == {}
    assert merge_patch({"a": ["b"]}, {"a": "c"}) == {"a": "c"}
    assert merge_patch({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}) == {"a": {"b": "d"}}
    assert merge_patch({"a": [{"b": "c"}]}, {"a": [1]}) == {"a": [1]}
    assert merge_patch({"e": None}, {"a": 1}) == {"e": None, "a": 1}
    assert merge_patch([1, 2], {"a": "b", "c": None}) == {"a": "b"}
    assert merge_patch({}, {"a": {"bb": {"ccc": None}}}) == {"a": {"bb": {}}}


def test_an_answer_token_limit_can_be_lowered_never_raised_or_removed() -> None:
    lower = ChannelOverrides(set_params={"max_tokens": 50})
    higher = ChannelOverrides(set_params={"max_tokens": 9000, "max_completion_tokens": 9000})
    dropped = ChannelOverrides(drop_params=("max_tokens",))
    nested = ChannelOverrides(set_params={"generationConfig": {"maxOutputTokens": 9000}})
    raw = orjson.dumps({"max_tokens": 256})
    assert orjson.loads(overridden_body(lower, raw)) == {"max_tokens": 50}
    # a limit the body did not have may be set; one it had stays
    assert orjson.loads(overridden_body(higher, raw)) == {
        "max_tokens": 256,
        "max_completion_tokens": 9000,
    }
    assert orjson.loads(overridden_body(dropped, raw)) == {"max_tokens": 256}
    gemini = orjson.dumps({"generationConfig": {"maxOutputTokens": 64, "topK": 1}})
    assert orjson.loads(overridden_body(nested, gemini)) == {
        "generationConfig": {"maxOutputTokens": 64, "topK": 1}
    }


def test_a_non_json_body_is_never_parsed() -> None:
    overrides = ChannelOverrides({"X-A": "1"}, {"temperature": 0.2}, ("user",))
    form = b'--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nwhisper\r\n--b--\r\n'
    headers = {"Content-Type": "multipart/form-data; boundary=b"}
    sent, body = overridden(overrides, "k", "POST", "u", headers, form)
    assert body is form and sent["X-A"] == "1"
    assert overridden_body(overrides, b"not json") == b"not json"
    assert overridden_body(overrides, b"[1, 2]") == b"[1, 2]"
    _, empty = overridden(overrides, "k", "GET", "u", {"Accept": "application/json"}, b"")
    assert empty == b""


def test_anthropic_and_gemini_requests_take_their_own_parameters() -> None:
    overrides = ChannelOverrides({"anthropic-beta": "x"}, {"top_k": 5}, ("temperature",))
    access = Channel(key="sk-ant", base_url="http://anthropic.test/v1")
    built = AnthropicProvider().chat_request(access, HELLO | {"temperature": 1}, "claude", False)
    headers, body = overridden(overrides, access.key, "POST", built.url, built.headers, built.body)
    data = orjson.loads(body)
    assert data["top_k"] == 5 and "temperature" not in data and data["max_tokens"] == 256
    assert headers["anthropic-beta"] == "x" and headers["x-api-key"] == "sk-ant"
    gemini = Channel(key="g-key", base_url="http://gemini.test")
    patch = ChannelOverrides(set_params={"generationConfig": {"topK": 2}})
    built = GeminiProvider().chat_request(gemini, HELLO, "gemini-2.0-flash", False)
    _, body = overridden(patch, gemini.key, "POST", built.url, built.headers, built.body)
    assert orjson.loads(body)["generationConfig"] == {"maxOutputTokens": 256, "topK": 2}


def _botocore_signature(
    url: str, headers: Mapping[str, str], body: bytes, token: str | None
) -> str:
    """The signature botocore computes over the request as sent, for its signed headers."""
    authorization = headers["Authorization"]
    signed = authorization.partition("SignedHeaders=")[2].partition(",")[0].split(";")
    lower = {name.lower(): value for name, value in headers.items()}
    request = AWSRequest(
        method="POST", url=url, data=body, headers={n: lower[n] for n in signed if n != "host"}
    )
    request.context["timestamp"] = lower["x-amz-date"]
    signer = SigV4Auth(Credentials(ACCESS, SECRET, token), "bedrock", "eu-west-1")
    return signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )


def test_a_bedrock_request_is_signed_again_over_what_the_overrides_changed() -> None:
    provider = BedrockProvider(clock=lambda: NOW, make_id=lambda: "chatcmpl-t")
    access = Channel(key=f"{ACCESS}:{SECRET}:{SESSION}", base_url="https://bedrock.test")
    built = provider.chat_request(access, HELLO, "anthropic.claude-v2:1", False)
    overrides = ChannelOverrides({"X-Amzn-Bedrock-Trace": "ENABLED"}, {"topK": 1}, ())
    headers, body = overridden(overrides, access.key, "POST", built.url, built.headers, built.body)
    assert orjson.loads(body)["topK"] == 1
    assert headers["X-Amz-Date"] == built.headers["X-Amz-Date"]
    assert headers["X-Amz-Security-Token"] == SESSION
    authorization = headers["Authorization"]
    assert (
        "x-amzn-bedrock-trace" in authorization and authorization != built.headers["Authorization"]
    )
    signature = authorization.rpartition("Signature=")[2]
    assert signature == _botocore_signature(built.url, headers, body, SESSION)


def test_an_authorization_override_replaces_the_signature() -> None:
    provider = BedrockProvider(clock=lambda: NOW)
    access = Channel(key=f"{ACCESS}:{SECRET}", base_url="https://bedrock.test")
    built = provider.chat_request(access, HELLO, "m", False)
    overrides = ChannelOverrides({"Authorization": "Bearer gateway-own"})
    headers, _ = overridden(overrides, access.key, "POST", built.url, built.headers, built.body)
    assert headers["Authorization"] == "Bearer gateway-own"
