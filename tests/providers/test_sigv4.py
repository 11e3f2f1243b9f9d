from __future__ import annotations

import calendar
import hashlib
from datetime import UTC, datetime

import pytest

from burncloud.providers.bedrock.sigv4 import (
    AwsCredentials,
    amz_date,
    canonical_query,
    canonical_request,
    host_header,
    sign_request,
)

# PROTOCOLS.md 7.6 known-answer vector.
URL = (
    "https://bedrock-runtime.us-east-1.amazonaws.com"
    "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
)
BODY = (
    b'{"messages":[{"role":"user","content":[{"text":"Hello"}]}],'
    b'"inferenceConfig":{"maxTokens":256}}'
)
CREDENTIALS = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
NOW = calendar.timegm((2025, 1, 1, 12, 0, 0))
CANONICAL = """POST
/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse

content-type:application/json
host:bedrock-runtime.us-east-1.amazonaws.com
x-amz-date:20250101T120000Z

content-type;host;x-amz-date
d8695502972bd4d482308b656a524b7a7efcebba591a06801fadba6b39700dd1"""
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/bedrock/aws4_request, "
    "SignedHeaders=content-type;host;x-amz-date, "
    "Signature=9cacc185a31a52b38a96e4cb011935520298f6e665001840838ff167b879bb3c"
)


def sign(url: str = URL, body: bytes = BODY, **kwargs) -> dict[str, str]:
    options = {"credentials": CREDENTIALS, "region": "us-east-1", "service": "bedrock", "now": NOW}
    return sign_request(
        "POST", url, {"Content-Type": "application/json"}, body, **(options | kwargs)
    )


def test_known_answer_canonical_request() -> None:
    headers = {"Content-Type": "application/json", "X-Amz-Date": "20250101T120000Z"}
    canonical, signed = canonical_request("POST", URL, headers, hashlib.sha256(BODY).hexdigest())
    assert canonical == CANONICAL
    assert signed == "content-type;host;x-amz-date"
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    assert digest == "b43290c51ab0afaec8af6f4843795a9112c8814fe9bd8b3ed15cec8c5be3c806"


def test_known_answer_authorization_header() -> None:
    headers = sign()
    assert headers == {
        "Content-Type": "application/json",
        "X-Amz-Date": "20250101T120000Z",
        "Authorization": AUTHORIZATION,
    }


def test_the_signature_changes_with_the_time_the_body_and_the_region() -> None:
    signatures = {
        sign()["Authorization"],
        sign(now=NOW + 1)["Authorization"],
        sign(body=BODY + b" ")["Authorization"],
        sign(region="eu-west-1")["Authorization"],
    }
    assert len(signatures) == 4


def test_a_session_token_is_sent_and_signed() -> None:
    credentials = AwsCredentials("AKIDEXAMPLE", "secret", "TOKEN/with+chars=")
    headers = sign(credentials=credentials)
    assert headers["X-Amz-Security-Token"] == "TOKEN/with+chars="
    assert (
        "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"
        in (headers["Authorization"])
    )


def test_the_payload_hash_header_is_optional_and_signed_when_sent() -> None:
    headers = sign(sign_content_sha256=True)
    assert headers["X-Amz-Content-Sha256"] == hashlib.sha256(BODY).hexdigest()
    assert "x-amz-content-sha256;x-amz-date" in headers["Authorization"]
    assert "X-Amz-Content-Sha256" not in sign()


def test_the_secret_never_shows_in_repr() -> None:
    credentials = AwsCredentials("AKID", "very-secret", "session-secret")
    assert "very-secret" not in repr(credentials)
    assert "session-secret" not in repr(credentials)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://example.com/x", "example.com"),
        ("https://example.com:443/x", "example.com"),
        ("http://127.0.0.1:8123/x", "127.0.0.1:8123"),
        ("http://[::1]:9000/x", "[::1]:9000"),
    ],
)
def test_host_header_keeps_only_non_default_ports(url: str, host: str) -> None:
    assert host_header(url) == host


def test_canonical_query_sorts_and_encodes() -> None:
    assert canonical_query("b=2&a=x y&a=1&c=") == "a=1&a=x%20y&b=2&c="
    assert canonical_query("") == ""


def test_amz_date_is_utc() -> None:
    assert amz_date(NOW) == "20250101T120000Z"
    assert amz_date(0) == "19700101T000000Z"


BOTOCORE_CASES = [
    (URL, "us-east-1", None),
    (URL.replace("converse", "converse-stream"), "us-west-2", "SESSIONTOKEN"),
    ("https://bedrock-runtime.eu-central-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aeu-central-1"
     "%3A123456789012%3Ainference-profile%2Feu.anthropic.claude-3-5-sonnet/converse",
     "eu-central-1", None),
    ("http://127.0.0.1:8765/model/us.amazon.nova-micro-v1%3A0/converse?b=2&a=1", "us-east-1", "T"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "region", "token"), BOTOCORE_CASES)
def test_signature_matches_botocore(monkeypatch, url: str, region: str, token: str | None) -> None:
    auth = pytest.importorskip(
        "botocore.auth", reason="botocore (the optional `bedrock` extra) is not installed"
    )
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
    monkeypatch.setattr(auth, "get_current_datetime", lambda: when.replace(tzinfo=None))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    request = AWSRequest(method="POST", url=url, data=BODY, headers=dict(headers))
    secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
    auth.SigV4Auth(Credentials("AKIDEXAMPLE", secret, token), "bedrock", region).add_auth(request)

    ours = sign_request(
        "POST",
        url,
        headers,
        BODY,
        credentials=AwsCredentials("AKIDEXAMPLE", secret, token),
        region=region,
        service="bedrock",
        now=when.timestamp(),
    )
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["X-Amz-Date"] == request.headers["X-Amz-Date"]
    assert ours.get("X-Amz-Security-Token") == request.headers.get("X-Amz-Security-Token")
