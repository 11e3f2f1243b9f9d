"""Chat chunk SSE -> Responses events: OpenAI's order, every event read by the openai SDK,
the same output however the chunks are cut, and the SDK's own stream reader agreeing."""

from __future__ import annotations

import random
from typing import Any

import httpx2
import openai
import orjson
import pytest

from burncloud.protocols.openai_chunks import DONE, ChunkWriter
from burncloud.providers.openai.front import ResponsesContext, ResponsesFromChat

from .support import FIXTURES, Sealer, convert, normalised, sse_events, valid_response

RECORDED = ["text_with_usage", "tool_call", "parallel_tool_calls", "length", "refusal"]
USAGE = {
    "prompt_tokens": 20,
    "completion_tokens": 9,
    "total_tokens": 29,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 4},
}
FILES = {
    "type": "namespace",
    "name": "mcp__files",
    "description": "Files.",
    "tools": [{"type": "function", "name": "read", "parameters": None, "strict": None}],
}
CUSTOM = {"type": "custom", "name": "apply_patch"}
WRAPPERS = ("response.created", "response.in_progress")


def recorded(name: str) -> bytes:
    return (FIXTURES / "anthropic" / f"openai_chat_stream_{name}.sse").read_bytes()


def context(**body: Any) -> ResponsesContext:
    return convert({"model": "alias", "input": "hi", "stream": True, **body}).context


def transcode(
    raw: bytes, sizes: list[int] | None = None, ctx: ResponsesContext | None = None
) -> bytes:
    stream = ResponsesFromChat(ctx or context(), Sealer().seal)
    out, pos, step = [], 0, 0
    while pos < len(raw):
        size = sizes[step % len(sizes)] if sizes else len(raw)
        out.append(stream.feed(raw[pos : pos + size]))
        pos, step = pos + size, step + 1
    return b"".join(out) + stream.finish()


def types(sse: bytes) -> list[str]:
    return [event["type"] for event in sse_events(sse)]


def writer() -> ChunkWriter:
    return ChunkWriter("chatcmpl-1", "upstream", 1)


def mixed_stream() -> bytes:
    """Reasoning, multi-byte text, a namespaced call and a custom tool's call, usage."""
    w = writer()
    return b"".join(
        [
            w.role(),
            w.reasoning("Let me "),
            w.reasoning("think."),
            w.delta(
                {"thinking_blocks": [{"type": "thinking", "thinking": "", "signature": "sig"}]}
            ),
            w.content("Grüße, "),
            w.content("世界 🌍."),
            w.tool_call_start(0, "call_r", "mcp__files__read"),
            w.tool_call_arguments(0, '{"path":'),
            w.tool_call_arguments(0, '"a.txt"}'),
            w.tool_call_start(1, "call_p", "apply_patch"),
            w.tool_call_arguments(1, '{"input":"*** Begin'),
            w.tool_call_arguments(1, ' Patch"}'),
            w.finish("tool_calls"),
            w.usage(USAGE),
            DONE,
        ]
    )


def read_with_sdk(sse: bytes) -> openai.types.responses.Response:
    """What ``openai.OpenAI().responses.stream(...)`` makes of ``sse`` (no network): its
    final response, or the one the last event carries when the answer is not complete."""

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})

    http = httpx2.Client(transport=httpx2.MockTransport(handler))
    client = openai.OpenAI(api_key="k", base_url="http://front.test/v1", http_client=http)
    with client.responses.stream(model="alias", input="hi") as stream:
        events = list(stream)
        if events[-1].type == "response.completed":
            return stream.get_final_response()
    last = events[-1]
    assert last.type in ("response.incomplete", "response.failed")
    return last.response


@pytest.mark.parametrize("name", RECORDED)
def test_output_is_the_same_for_every_chunking(name: str) -> None:
    raw = recorded(name)
    whole = normalised(transcode(raw))
    assert normalised(transcode(raw, [1])) == whole
    for seed in range(3):
        rng = random.Random(seed)
        assert normalised(transcode(raw, [rng.randint(1, 60) for _ in range(400)])) == whole


def test_a_cut_at_every_byte_gives_the_same_events() -> None:
    raw, ctx = mixed_stream(), context(tools=[FILES, CUSTOM])
    whole = normalised(transcode(raw, ctx=ctx))
    for cut in range(1, len(raw)):
        stream = ResponsesFromChat(ctx, Sealer().seal)
        out = stream.feed(raw[:cut]) + stream.feed(raw[cut:]) + stream.finish()
        assert normalised(out) == whole, cut


@pytest.mark.parametrize("name", RECORDED)
def test_every_event_is_one_the_sdk_reads_and_its_reader_agrees(name: str) -> None:
    ctx = context()
    stream = ResponsesFromChat(ctx, Sealer().seal)
    sse = stream.feed(recorded(name)) + stream.finish()
    events = sse_events(sse)
    assert stream.final is not None and events[-1]["response"] == stream.final
    final = read_with_sdk(sse)
    assert final.id == ctx.response_id
    assert final.model_dump(mode="json", exclude_none=True) == valid_response(
        stream.final
    ).model_dump(mode="json", exclude_none=True)


def test_a_text_stream_follows_openai_order() -> None:
    sse = transcode(recorded("text_with_usage"))
    kinds = types(sse)
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 1
    assert kinds == [
        *WRAPPERS,
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    events = sse_events(sse)
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    done = events[-1]["response"]
    assert done["output"][0]["content"][0]["text"] == text
    assert done["usage"]["input_tokens"] > 0 and done["status"] == "completed"
    assert (
        events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    )


def test_parallel_calls_are_items_one_after_another() -> None:
    events = sse_events(transcode(recorded("parallel_tool_calls")))
    added = [e for e in events if e["type"] == "response.output_item.added"]
    done = [e for e in events if e["type"] == "response.output_item.done"]
    assert (
        [e["output_index"] for e in added]
        == list(range(len(added)))
        == [e["output_index"] for e in done]
    )
    assert len(added) >= 2 and all(e["item"]["type"] == "function_call" for e in added)
    for item_done in done:
        item = item_done["item"]
        deltas = [
            e["delta"]
            for e in events
            if e["type"] == "response.function_call_arguments.delta" and e["item_id"] == item["id"]
        ]
        assert "".join(deltas) == item["arguments"] and orjson.loads(item["arguments"])
        assert item["status"] == "completed" and item["call_id"].startswith("call_")
    kinds = [e["type"] for e in events]
    assert kinds.index("response.output_item.done") < kinds.index("response.output_item.added", 3)


def test_reasoning_text_and_renamed_calls_stream_as_their_items() -> None:
    ctx = context(tools=[FILES, CUSTOM], include=["reasoning.encrypted_content"])
    stream = ResponsesFromChat(ctx, Sealer().seal)
    sse = stream.feed(mixed_stream()) + stream.finish()
    kinds = types(sse)
    assert kinds == [
        *WRAPPERS,
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.custom_tool_call_input.delta",
        "response.custom_tool_call_input.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert stream.final is not None
    reasoning, message, read, patch = stream.final["output"]
    assert reasoning["summary"] == [{"type": "summary_text", "text": "Let me think."}]
    assert reasoning["encrypted_content"]
    assert message["content"][0]["text"] == "Grüße, 世界 🌍."
    assert (read["name"], read["namespace"], read["arguments"]) == (
        "read",
        "mcp__files",
        '{"path":"a.txt"}',
    )
    assert (patch["type"], patch["name"], patch["input"]) == (
        "custom_tool_call",
        "apply_patch",
        "*** Begin Patch",
    )
    assert stream.final["usage"] == {
        "input_tokens": 20,
        "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
        "output_tokens": 9,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 29,
    }
    assert read_with_sdk(sse).output_text == "Grüße, 世界 🌍."


def test_without_include_the_reasoning_item_has_no_encrypted_content() -> None:
    stream = ResponsesFromChat(context(tools=[FILES, CUSTOM]), Sealer().seal)
    stream.feed(mixed_stream())
    stream.finish()
    assert stream.final is not None and "encrypted_content" not in stream.final["output"][0]


def test_the_terminal_event_waits_for_finish() -> None:
    stream = ResponsesFromChat(context(), Sealer().seal)
    fed = stream.feed(recorded("text_with_usage"))
    assert b"response.completed" not in fed and stream.final is None
    assert b"response.output_item.done" in fed
    tail = stream.finish()
    assert tail.startswith(b"event: response.completed\n") and stream.final is not None
    assert stream.finish() == b""


def test_a_length_stop_is_incomplete() -> None:
    events = sse_events(transcode(recorded("length")))
    last = events[-1]
    assert last["type"] == "response.incomplete"
    assert last["response"]["status"] == "incomplete"
    assert last["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert last["response"]["output"][0]["status"] == "incomplete"


def test_a_refusal_streams_as_a_refusal_part() -> None:
    events = sse_events(transcode(recorded("refusal")))
    kinds = [e["type"] for e in events]
    assert "response.refusal.delta" in kinds and "response.output_text.delta" not in kinds
    part = events[-1]["response"]["output"][0]["content"][0]
    assert part["type"] == "refusal" and part["refusal"]


def test_an_error_chunk_fails_the_response() -> None:
    w = writer()
    error = {"error": {"message": "upstream overloaded", "type": "server_error", "code": None}}
    raw = w.role() + w.content("Par") + b"data: " + orjson.dumps(error) + b"\n\n" + w.content("is")
    stream = ResponsesFromChat(context(), Sealer().seal)
    sse = stream.feed(raw) + stream.finish()
    events = sse_events(sse)
    assert [e["type"] for e in events][-1] == "response.failed"
    failed = events[-1]["response"]
    assert failed["status"] == "failed"
    assert failed["error"] == {"code": "server_error", "message": "upstream overloaded"}
    assert stream.final is None
    limited = {"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}
    events = sse_events(transcode(b"data: " + orjson.dumps(limited) + b"\n\n"))
    assert [e["type"] for e in events] == [*WRAPPERS, "response.failed"]
    assert events[-1]["response"]["error"]["code"] == "rate_limit_exceeded"


def test_a_stream_cut_short_ends_with_an_error_event() -> None:
    w = writer()
    stream = ResponsesFromChat(context(), Sealer().seal)
    sse = (
        stream.feed(w.role() + w.content("Hal") + b'data: {"id":"chatcmpl-1","cho')
        + stream.finish()
    )
    events = sse_events(sse)
    assert events[-1]["type"] == "error" and events[-1]["code"] == "upstream_error"
    assert stream.final is None
    assert stream.feed(w.content("more")) == b""


def test_a_malformed_chunk_fails_the_response() -> None:
    events = sse_events(transcode(b"data: {not json}\n\n"))
    assert events[-1]["type"] == "response.failed"


def test_the_error_event_is_numbered_after_the_last_event() -> None:
    stream = ResponsesFromChat(context(), Sealer().seal)
    sent = stream.feed(writer().role() + writer().content("Hi"))
    tail = stream.error_event("the upstream stream broke off")
    events = sse_events(sent + tail)
    assert (
        events[-1]["type"] == "error" and events[-1]["message"] == "the upstream stream broke off"
    )
    assert stream.finish() == b""


def test_done_without_a_finish_reason_still_completes() -> None:
    w = writer()
    events = sse_events(transcode(w.role() + w.content("Hi") + DONE))
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["usage"] is None
