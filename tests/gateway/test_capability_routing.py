"""Capability-aware routing: what a request uses (``needs_of``), which channels can serve it
(``capable``), and, through a real router, an image request that always lands on the vision
channel while a text-only one serves text."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from burncloud.crypto import SecretBox
from burncloud.db import open_database
from burncloud.gateway.relay.capability_filter import (
    CapabilityNotServed,
    ContextTooLong,
    capable,
    incapable_error,
    needs_of,
)
from burncloud.gateway.relay.inbound import (
    CHAT,
    COMPLETIONS,
    EMBEDDINGS,
    RESPONSES,
    Endpoint,
    InboundRequest,
    parse_request,
)
from burncloud.gateway.snapshot import Candidate, Upstream
from burncloud.services.capabilities import (
    NO_CAPABILITIES,
    OPERATOR,
    CapabilityRow,
    ChannelCapabilities,
    Needs,
    parse_specs,
    resolve,
    set_capabilities,
)
from burncloud.services.channels import add_channel, disable_channel
from tests.fakes import FakeOpenAI
from tests.fakes.model_support import ModelSupport
from tests.gateway.router_harness import (
    SECRET,
    RunningRouter,
    rows_once_logged,
    running_router,
    wait_for_reload,
)

PIXEL = "data:image/png;base64," + "A" * 4000
IMAGE = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": PIXEL}},
        ],
    }
]
TEXT = [{"role": "user", "content": "hello"}]
MESSAGES = Endpoint("messages", "/chat/completions", "messages", True, 4096)
GEMINI = Endpoint("generateContent", "/chat/completions", "messages", True, 8192)


def door(endpoint: Endpoint, body: dict[str, Any]) -> InboundRequest:
    """A front door's routing view: its body as the client wrote it."""
    raw = orjson.dumps(body)
    return InboundRequest(endpoint, raw, body, "m", False, False, None)


def chat(**fields: Any) -> InboundRequest:
    return parse_request(CHAT, orjson.dumps({"model": "m", "messages": TEXT, **fields}))


# --- what a request uses -------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "names"),
    [
        (chat(), ()),
        (chat(messages=IMAGE), ("vision",)),
        (chat(tools=[{"type": "function", "function": {"name": "f"}}]), ("tools",)),
        (chat(functions=[{"name": "f"}]), ("tools",)),
        (chat(tools=[{"type": "function"}], parallel_tool_calls=True), ("tools", "parallel_tools")),
        (chat(parallel_tool_calls=False), ()),
        (chat(response_format={"type": "json_schema", "json_schema": {}}), ("json_schema",)),
        (chat(response_format={"type": "json_object"}), ()),
        (chat(reasoning_effort="high"), ("reasoning",)),
        (chat(reasoning_effort="none"), ()),
        (chat(stream=True, stream_options={"include_usage": True}), ("stream_usage",)),
        (chat(stream=True), ()),
        (
            door(RESPONSES, {"input": [{"role": "user", "content": [
                {"type": "input_image", "image_url": PIXEL}]}],
                "text": {"format": {"type": "json_schema"}}, "reasoning": {"effort": "low"},
                "tools": [{"type": "web_search_preview"}]}),
            ("vision", "json_schema", "reasoning"),
        ),
        (
            door(MESSAGES, {"messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}]}]}],
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                "thinking": {"type": "enabled", "budget_tokens": 2048}}),
            ("tools", "vision", "reasoning"),
        ),
        (
            door(MESSAGES, {"messages": TEXT, "tools": [{"type": "web_search_20250305"}],
                "thinking": {"type": "disabled"}}),
            (),
        ),
        (
            door(GEMINI, {"contents": TEXT, "tools": [{"googleSearch": {}}]}),
            (),
        ),
        (
            door(GEMINI, {"contents": [{"role": "user", "parts": [{"inlineData": {
                "mimeType": "image/jpeg", "data": "AAAA"}}]}],
                "tools": [{"functionDeclarations": [{"name": "f"}]}],
                "generationConfig": {"responseSchema": {},
                    "thinkingConfig": {"thinkingBudget": 0}}}),
            ("tools", "vision", "json_schema"),
        ),
    ],
)  # fmt: skip
def test_needs_name_what_the_body_uses(request_: InboundRequest, names: tuple[str, ...]) -> None:
    assert needs_of(request_).names == names


def test_the_prompt_is_estimated_low_and_inline_images_do_not_count() -> None:
    text = chat(messages=[{"role": "user", "content": "word " * 4000}])
    assert len(text.body) // 4 == needs_of(text).context
    image = chat(messages=IMAGE)
    assert needs_of(image).context < len(image.body) // 4 - 900  # the 4,000 inline bytes
    assert needs_of(image).context >= 85  # an image costs at least this


def test_uploads_and_embeddings_need_nothing() -> None:
    embeddings = parse_request(EMBEDDINGS, b'{"model": "m", "input": "' + b"x" * 9000 + b'"}')
    assert needs_of(embeddings) == Needs()
    legacy = parse_request(COMPLETIONS, b'{"model": "m", "prompt": "' + b"x" * 9000 + b'"}')
    assert needs_of(legacy).context > 2000


# --- which channels can serve it -----------------------------------------------------


def candidate(channel_id: int, capabilities: ChannelCapabilities = NO_CAPABILITIES) -> Candidate:
    upstream = Upstream(
        channel_id, "openai", f"c{channel_id}", "http://127.0.0.1:9", "k", {}, {},
        capabilities=capabilities,
    )  # fmt: skip
    return Candidate(upstream, priority=0, weight=1)


def known(*specs: str) -> ChannelCapabilities:
    return resolve(
        CapabilityRow(s.model, s.name, s.value, OPERATOR, 0)
        for s in parse_specs(specs)
        if s.value is not None
    )


def test_a_known_lack_is_skipped_with_its_reason_and_unknown_counts_as_supported() -> None:
    candidates = [
        candidate(1, known("vision=false")),
        candidate(2),
        candidate(3, known("m:vision=true", "vision=false")),
        candidate(4, known("context=1000")),
    ]
    kept, skipped = capable(candidates, "m", Needs(("tools", "vision"), 2_000))
    assert [c.upstream.id for c in kept] == [2, 3]
    assert skipped == [
        {"id": 1, "reason": "no image input (vision=false)"},
        {"id": 4, "reason": "prompt of about 2000 tokens is over its context of 1000"},
    ]
    assert capable(candidates, "m", Needs()) == (candidates, [])


def test_when_no_channel_can_serve_the_client_is_told_what_is_missing() -> None:
    candidates = [candidate(1, known("vision=false")), candidate(2, known("context=1000"))]
    error = incapable_error("m", Needs(("vision",), 5_000), candidates)
    assert isinstance(error, CapabilityNotServed) and error.status == 400
    assert error.message == (
        "no channel serving model 'm' offers what this request uses: image input (vision),"
        " a prompt of about 5000 tokens (context)"
    )
    too_long = incapable_error("m", Needs((), 5_000), [candidates[1]])
    assert isinstance(too_long, ContextTooLong) and too_long.code == "context_length_exceeded"
    assert too_long.message == (
        "model 'm' takes at most 1000 prompt tokens on every channel serving it; this"
        " request has about 5000"
    )


# --- through a real router -----------------------------------------------------------


@pytest.fixture
async def vision() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
async def text_only() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI("sk-text-only-upstream", support=ModelSupport(vision=False)) as fake:
        yield fake


@pytest.fixture
async def router(
    tmp_path, vision: FakeOpenAI, text_only: FakeOpenAI
) -> AsyncIterator[RunningRouter]:
    """Channel 1 (the harness's, to ``vision``) and channel 2 (``text_only``, vision=false),
    both serving gpt-4 at the same priority and weight."""
    async with running_router(tmp_path, vision) as running:
        db = await open_database(running.db_url)
        try:
            added = await add_channel(
                db, SecretBox.from_passphrase(SECRET), type="openai", name="text-only",
                key=text_only.key, base_url=text_only.base_url, models=["gpt-4"],
            )  # fmt: skip
            await set_capabilities(db, added.id, parse_specs(["vision=false", "context=400"]))
        finally:
            await db.close()
        await wait_for_reload(running)
        yield running


async def ask(router: RunningRouter, messages: list[Any]) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(
            f"{router.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {router.key}"},
            json={"model": "gpt-4", "messages": messages, "max_tokens": 5},
        )


async def test_an_image_request_always_lands_on_the_vision_channel(
    router: RunningRouter, vision: FakeOpenAI, text_only: FakeOpenAI
) -> None:
    for _ in range(20):
        assert (await ask(router, IMAGE)).status_code == 200
    assert (vision.request_count, text_only.request_count) == (20, 0)
    for _ in range(40):  # text goes to both (each is first half of the time)
        assert (await ask(router, TEXT)).status_code == 200
    assert text_only.request_count > 0 and vision.request_count > 20
    rows = await rows_once_logged(router.db_url, 60)
    skipped = [orjson.loads(row["route"])["skipped"] for row in rows[:20]]
    assert skipped == [[{"id": 2, "reason": "no image input (vision=false)"}]] * 20


async def test_a_prompt_over_a_channels_context_goes_elsewhere(
    router: RunningRouter, vision: FakeOpenAI, text_only: FakeOpenAI
) -> None:
    long = [{"role": "user", "content": "word " * 500}]  # about 640 tokens by bytes / 4
    for _ in range(10):
        assert (await ask(router, long)).status_code == 200
    assert (vision.request_count, text_only.request_count) == (10, 0)


async def test_without_a_capable_channel_the_client_gets_a_400_saying_why(
    router: RunningRouter, vision: FakeOpenAI, text_only: FakeOpenAI
) -> None:
    db = await open_database(router.db_url)
    try:
        await disable_channel(db, 1)
    finally:
        await db.close()
    await wait_for_reload(router)
    refused = await ask(router, IMAGE)
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "message": "no channel serving model 'gpt-4' offers what this request uses:"
        " image input (vision)",
        "type": "invalid_request_error",
        "code": "capability_not_served",
    }
    assert (await ask(router, TEXT)).status_code == 200
    assert (vision.request_count, text_only.request_count) == (0, 1)
    route = orjson.loads((await rows_once_logged(router.db_url, 2))[0]["route"])
    assert route["candidates"] == [{"id": 2, "priority": 0, "weight": 1}]
    assert route["skipped"] == [{"id": 2, "reason": "no image input (vision=false)"}]


async def test_a_front_door_image_request_skips_the_text_only_channel(
    router: RunningRouter, vision: FakeOpenAI, text_only: FakeOpenAI
) -> None:
    body = {
        "model": "gpt-4",
        "max_tokens": 5,
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                ],
            }
        ],
    }
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(10):
            answer = await http.post(
                f"{router.base_url}/messages",
                headers={"x-api-key": router.key, "anthropic-version": "2023-06-01"},
                json=body,
            )
            assert answer.status_code == 200, answer.text
    assert (vision.request_count, text_only.request_count) == (10, 0)
