"""Token estimates when the upstream reports no usage: exact ids, formula, fallback, laziness."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import pytest

from burncloud.gateway.relay.estimate import (
    CL100K,
    IMAGE_TOKENS_HIGH,
    IMAGE_TOKENS_LOW,
    O200K,
    TokenEstimator,
    encoding_for_model,
    fallback_count,
    load_quicktok,
)

COOKBOOK_CHAT = [
    {
        "role": "system",
        "content": "You are a helpful, pattern-following assistant that translates corporate "
        "jargon into plain English.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "New synergies will help drive top-line growth.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Things working well together will increase revenue.",
    },
    {
        "role": "system",
        "name": "example_user",
        "content": "Let's circle back when we have more bandwidth to touch base on "
        "opportunities for increased leverage.",
    },
    {
        "role": "system",
        "name": "example_assistant",
        "content": "Let's talk later when we're less busy about how to do better.",
    },
    {
        "role": "user",
        "content": "This late pivot means we don't have time to boil the ocean for the client "
        "deliverable.",
    },
]


class WordEncoder:
    """A stand-in vocabulary where every whitespace-separated word is one token."""

    def count(self, text: str) -> int:
        return len(text.split())


class CharEncoder:
    """One token per character; records what it was asked to tokenize, and on which thread."""

    def __init__(self) -> None:
        self.seen: list[int] = []
        self.threads: set[int] = set()

    def count(self, text: str) -> int:
        self.seen.append(len(text))
        self.threads.add(threading.get_ident())
        return len(text)


def words(_: str) -> WordEncoder:
    return WordEncoder()


@pytest.mark.parametrize(("name", "ids"), [(O200K, [24912, 2375]), (CL100K, [15339, 1917])])
def test_bundled_vocabularies_give_tiktoken_ids(name: str, ids: list[int]) -> None:
    assert load_quicktok(name).encode_ordinary("hello world") == ids


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-3.5-turbo"])
async def test_hello_world_is_two_tokens(model: str) -> None:
    assert await TokenEstimator().count("hello world", model) == 2


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", O200K),
        ("gpt-4o-mini-2024-07-18", O200K),
        ("gpt-4.1-nano", O200K),
        ("o3-mini", O200K),
        ("gpt-5", O200K),
        ("ft:gpt-4o-mini:acme::abc", O200K),
        ("claude-sonnet-4-5", O200K),
        ("qwen-max", O200K),
        ("gpt-4", CL100K),
        ("gpt-4-turbo", CL100K),
        ("GPT-4-0613", CL100K),
        ("gpt-3.5-turbo", CL100K),
        ("gpt-35-turbo", CL100K),
        ("openai/gpt-3.5-turbo", CL100K),
        ("text-embedding-3-small", CL100K),
        ("text-embedding-ada-002", CL100K),
    ],
)
def test_models_map_to_their_vocabulary(model: str, encoding: str) -> None:
    assert encoding_for_model(model) == encoding


@pytest.mark.parametrize(("model", "tokens"), [("gpt-4-0613", 129), ("gpt-4o", 124)])
async def test_chat_prompt_matches_the_counts_openai_reports(model: str, tokens: int) -> None:
    # The OpenAI cookbook's example, whose counts were checked against the API.
    assert await TokenEstimator().prompt_tokens({"messages": COOKBOOK_CHAT}, model) == tokens


async def test_chat_prompt_counts_names_tools_and_images() -> None:
    data = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "name": "ann",
                "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "data:,", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.test/a.png"}},
                ],
            },
        ],
        # json.dumps: '[{"type": "function", "function": {"name": "f"}}]' is 5 words.
        "tools": [{"type": "function", "function": {"name": "f"}}],
    }
    system = 3 + 1 + 2
    user = 3 + 1 + 3 + (1 + 1) + IMAGE_TOKENS_LOW + IMAGE_TOKENS_HIGH
    expected = 3 + system + user + 5
    assert await TokenEstimator(words).prompt_tokens(data, "gpt-4o") == expected


async def test_chat_prompt_counts_tool_call_history() -> None:
    data = {
        "messages": [
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "lookup", "arguments": '{"q": "x"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "42"},
        ]
    }
    expected = 3 + (3 + 1 + 1 + 2) + (3 + 1 + 1)
    assert await TokenEstimator(words).prompt_tokens(data, "gpt-4o") == expected


async def test_anthropic_shaped_prompt_counts_system_and_blocks() -> None:
    data = {
        "system": "be brief",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi there"},
                    {"type": "image", "source": {"type": "base64", "data": "AAAA"}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t", "name": "lookup", "input": {"q": "x"}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}],
            },
        ],
    }
    expected = 3 + (3 + 1 + 2) + (3 + 1 + 2 + IMAGE_TOKENS_HIGH) + (3 + 1 + 1 + 2) + (3 + 1 + 1)
    assert await TokenEstimator(words).prompt_tokens(data, "claude-sonnet-4-5") == expected


@pytest.mark.parametrize(
    ("data", "tokens"),
    [
        ({"prompt": "one two three"}, 3),
        ({"prompt": ["one two", "three"]}, 3),
        ({"prompt": [11, 12, 13, 14]}, 4),
        ({"prompt": [[11, 12], [13]]}, 3),
        ({"input": "a b c d e"}, 5),
        ({"input": ["a", "b c"]}, 3),
        ({"input": [[1, 2, 3], [4]]}, 4),
        ({"model": "m"}, 0),
    ],
)
async def test_legacy_prompt_and_embeddings_input(data: dict, tokens: int) -> None:
    assert await TokenEstimator(words).prompt_tokens(data, "text-embedding-3-small") == tokens


async def test_completion_tokens_sum_every_delivered_text() -> None:
    texts = ["Hello there", "thinking hard", "lookup", '{"q": "x"}']
    assert await TokenEstimator(words).completion_tokens(texts, "gpt-4o") == 7


async def test_lone_surrogates_are_counted_like_tiktoken() -> None:
    # tiktoken encodes "a\ud800b" as 3 tokens (the surrogate becomes U+FFFD).
    assert await TokenEstimator().count("a\ud800b", "gpt-4o") == 3


def test_fallback_count_is_utf8_bytes_over_four_rounded_up() -> None:
    assert fallback_count("") == 0
    assert fallback_count("hello world") == 3
    assert fallback_count("日本") == 2
    assert fallback_count("a\ud800") == 1


async def test_unavailable_tokenizer_falls_back_and_is_not_retried(caplog) -> None:
    calls = 0

    def broken(name: str) -> WordEncoder:
        nonlocal calls
        calls += 1
        raise ImportError("No module named 'quicktok'")

    estimator = TokenEstimator(broken)
    assert await estimator.count("hello world", "gpt-4o") == 3
    assert await estimator.prompt_tokens({"messages": COOKBOOK_CHAT}, "gpt-4o") > 0
    assert await estimator.completion_tokens(["x" * 40], "gpt-4o") == 10
    assert calls == 1
    assert "unavailable" in caplog.text


async def test_a_failing_count_falls_back() -> None:
    class Exploding:
        def count(self, text: str) -> int:
            raise RuntimeError("corrupt vocabulary")

    estimator = TokenEstimator(lambda name: Exploding())
    assert await estimator.count("hello world", "gpt-4o") == 3


async def test_a_load_that_cannot_start_falls_back_and_is_retried(monkeypatch) -> None:
    async def executor_shut_down(*args: object) -> None:
        raise RuntimeError("cannot schedule new futures after shutdown")

    estimator = TokenEstimator(words)
    monkeypatch.setattr(asyncio, "to_thread", executor_shut_down)
    assert await estimator.count("hello world", "gpt-4o") == 3
    monkeypatch.undo()
    assert await estimator.count("hello world", "gpt-4o") == 2


async def test_vocabulary_loads_once_under_concurrent_first_calls() -> None:
    loads: list[str] = []

    def slow_loader(name: str) -> WordEncoder:
        loads.append(name)
        time.sleep(0.05)
        return WordEncoder()

    estimator = TokenEstimator(slow_loader)
    counts = await asyncio.gather(*(estimator.count("a b c", "gpt-4o") for _ in range(20)))
    assert counts == [3] * 20
    assert loads == [O200K]


async def test_cancelled_first_caller_does_not_cancel_the_load() -> None:
    release = threading.Event()

    def gated_loader(name: str) -> WordEncoder:
        release.wait(5)
        return WordEncoder()

    estimator = TokenEstimator(gated_loader)
    first = asyncio.create_task(estimator.count("a b", "gpt-4o"))
    await asyncio.sleep(0.01)
    second = asyncio.create_task(estimator.count("a b c", "gpt-4o"))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == 3
    assert first.cancelled()


async def test_huge_texts_tokenize_a_bounded_prefix_and_extrapolate() -> None:
    encoder = CharEncoder()
    estimator = TokenEstimator(lambda name: encoder, exact_budget=1000, inline_chars=100)
    texts = ["x" * 600, "y" * 900, "z" * 300]
    assert await estimator.completion_tokens(texts, "gpt-4o") == 1800
    assert sum(encoder.seen) == 1000
    assert threading.get_ident() not in encoder.threads


async def test_small_texts_count_inline() -> None:
    encoder = CharEncoder()
    estimator = TokenEstimator(lambda name: encoder)
    assert await estimator.count("short", "gpt-4o") == 5
    assert encoder.threads == {threading.get_ident()}


def test_importing_the_module_loads_no_vocabulary() -> None:
    code = (
        "import asyncio, sys\n"
        "def rss():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmRSS'):\n"
        "            return int(line.split()[1]) // 1024\n"
        "from burncloud.gateway.relay.estimate import TokenEstimator\n"
        "estimator = TokenEstimator()\n"
        "print('quicktok' in sys.modules, 'tiktoken' in sys.modules, rss())\n"
        "asyncio.run(estimator.count('hello world', 'gpt-4o'))\n"
        "print('quicktok' in sys.modules, rss())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = (line.split() for line in out.stdout.splitlines())
    assert before[:2] == ["False", "False"]
    assert after[0] == "True"
    # The vocabulary (~65 MB) arrives with the first count, not with the import.
    assert int(after[1]) - int(before[2]) > 40
