"""The fake Bedrock's InvokeModel: as strict as Bedrock about signatures and Anthropic
bodies, and its answers read by the official anthropic SDK's own Bedrock client."""

from __future__ import annotations

import aiohttp
import anthropic
import orjson
import pytest
from yarl import URL

from tests.fakes.bedrock_invoke import FIXTURES, recorded_events
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.gateway.test_router_bedrock import botocore_signed

SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"
VALID = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "hi"}],
}
REFUSED = [
    (VALID | {"model": SONNET}, "#: extraneous key [model] is not permitted"),
    (VALID | {"stream": True}, "#: extraneous key [stream] is not permitted"),
    ({k: v for k, v in VALID.items() if k != "anthropic_version"}, "[anthropic_version] not"),
    (VALID | {"anthropic_version": "2023-06-01"}, "#/anthropic_version"),
    ({k: v for k, v in VALID.items() if k != "max_tokens"}, "required key [max_tokens]"),
    ({k: v for k, v in VALID.items() if k != "messages"}, "required key [messages]"),
    (VALID | {"messages": []}, "#/messages"),
    (VALID | {"anthropic_beta": "context-1m-2025-08-07"}, "#/anthropic_beta"),
]


async def _post(fake: FakeBedrock, action: str, body: bytes, headers: dict[str, str]):
    url = f"{fake.base_url}/model/{SONNET.replace(':', '%3A')}/{action}"
    async with (
        aiohttp.ClientSession() as http,
        http.post(URL(url, encoded=True), data=body, headers=headers) as answer,
    ):
        return answer.status, answer.headers.get("x-amzn-ErrorType", ""), await answer.read()


@pytest.mark.parametrize("action", ["invoke", "invoke-with-response-stream"])
async def test_invoke_refuses_what_bedrock_refuses(action: str) -> None:
    async with FakeBedrock() as fake:
        url = f"{fake.base_url}/model/{SONNET.replace(':', '%3A')}/{action}"
        answers = []
        for body, _ in REFUSED:
            raw = orjson.dumps(body)
            answers.append(await _post(fake, action, raw, botocore_signed(fake, url, raw)))
        valid = orjson.dumps(VALID)
        tampered = await _post(fake, action, valid + b" ", botocore_signed(fake, url, valid))
        accepted = await _post(fake, action, valid, botocore_signed(fake, url, valid))
    for (status, kind, raw), (_, message) in zip(answers, REFUSED, strict=True):
        assert (status, kind.split(":")[0]) == (400, "ValidationException")
        assert message in orjson.loads(raw)["message"]
    assert tampered[0] == 403 and tampered[1].startswith("InvalidSignatureException")
    assert accepted[0] == 200 and fake.requests == [VALID]


async def test_the_official_bedrock_client_reads_the_fakes_answers() -> None:
    """The anthropic SDK's AnthropicBedrock decodes the frames with botocore itself."""
    async with FakeBedrock(api_key="ABSK-fake-key") as fake:
        client = anthropic.AsyncAnthropicBedrock(
            api_key="ABSK-fake-key", aws_region=fake.region, base_url=fake.base_url, max_retries=0
        )
        # The installed SDK's default version is not Bedrock's documented one: name it.
        version = {"anthropic_version": "bedrock-2023-05-31"}
        hello = {"model": SONNET, "max_tokens": 10, "messages": VALID["messages"]}
        message = await client.messages.create(**hello, extra_body=version)
        async with client.messages.stream(**hello, extra_body=version) as stream:
            text = await stream.get_final_text()
            final = await stream.get_final_message()
        await client.close()
    recorded = orjson.loads((FIXTURES / fake.invoke_answer).read_bytes())
    assert message.id == recorded["id"] and message.usage.output_tokens == 86
    deltas = [orjson.loads(data).get("delta", {}) for data in recorded_events(fake.invoke_stream)]
    assert text == "".join(delta.get("text", "") for delta in deltas)
    assert (final.usage.input_tokens, final.usage.output_tokens) == (11, 6)
    assert [path.rsplit("/", 1)[1] for path in fake.paths] == [
        "invoke",
        "invoke-with-response-stream",
    ]
