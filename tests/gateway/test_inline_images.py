"""inline_remote_images: remote image parts become data URLs, fetched once each, input untouched."""

from __future__ import annotations

import asyncio
import base64
import copy
from typing import Any

import pytest

from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.fetcher import FetchedImage, SafeFetcher
from burncloud.gateway.egress.inline_images import (
    MAX_CONCURRENT,
    has_remote_images,
    inline_remote_images,
)
from tests.fakes.image_server import PNG, ImageServer, only

PNG_DATA_URL = "data:image/png;base64," + base64.b64encode(PNG).decode("ascii")
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
GIF_DATA_URL = "data:image/gif;base64," + base64.b64encode(GIF).decode("ascii")


def image_part(url: str, detail: str = "auto") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, "detail": detail}}


def chat(*parts: dict[str, Any], system: str = "be brief") -> dict[str, Any]:
    return {
        "model": "gemini-2.0-flash",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": [{"type": "text", "text": "compare"}, *parts]},
        ],
        "stream": True,
    }


class ScriptedFetcher:
    """Answers from a table, counting calls and the most fetches running at once."""

    def __init__(self, images: dict[str, FetchedImage]) -> None:
        self.images = images
        self.calls: list[str] = []
        self.running = 0
        self.peak = 0

    async def fetch_image(self, url: str) -> FetchedImage:
        self.calls.append(url)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(0)  # yield so concurrent fetches overlap
            if url not in self.images:
                raise InvalidRequest("could not fetch image from host x: HTTP 404")
            return self.images[url]
        finally:
            self.running -= 1


async def test_parts_are_replaced_in_order_and_the_input_is_untouched() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        body = chat(
            image_part(server.url("/cat.png"), detail="low"),
            {"type": "text", "text": "and"},
            image_part(server.url("/png-as-jpeg")),
            image_part("data:image/gif;base64,R0lGODlh"),
        )
        before = copy.deepcopy(body)
        result = await inline_remote_images(body, fetcher)
    assert body == before
    assert result is not body
    assert result["messages"][0] is body["messages"][0]
    assert result["messages"][1]["content"] == [
        {"type": "text", "text": "compare"},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL, "detail": "low"}},
        {"type": "text", "text": "and"},
        {"type": "image_url", "image_url": {"url": PNG_DATA_URL, "detail": "auto"}},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/gif;base64,R0lGODlh", "detail": "auto"},
        },
    ]
    assert {k: v for k, v in result.items() if k != "messages"} == {
        "model": "gemini-2.0-flash",
        "stream": True,
    }
    assert sorted(server.seen) == ["/cat.png", "/png-as-jpeg"]


async def test_duplicate_urls_are_fetched_once() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        url = server.url("/cat.png")
        body = chat(image_part(url), image_part(url), image_part(url))
        result = await inline_remote_images(body, fetcher)
    assert server.seen == ["/cat.png"]
    urls = [part["image_url"]["url"] for part in result["messages"][1]["content"][1:]]
    assert urls == [PNG_DATA_URL] * 3


async def test_more_than_sixteen_images_are_refused_before_fetching() -> None:
    fetcher = ScriptedFetcher({})
    body = chat(*(image_part(f"https://img.example.com/{i}.png") for i in range(17)))
    with pytest.raises(InvalidRequest) as caught:
        await inline_remote_images(body, fetcher)
    assert caught.value.message == "at most 16 image URLs per request, got 17"
    assert fetcher.calls == []


async def test_sixteen_distinct_images_are_fetched_at_most_eight_at_a_time() -> None:
    urls = [f"https://img.example.com/{i}.gif" for i in range(16)]
    fetcher = ScriptedFetcher({url: FetchedImage("image/gif", GIF) for url in urls})
    result = await inline_remote_images(chat(*(image_part(url) for url in urls)), fetcher)
    assert sorted(fetcher.calls) == sorted(urls)
    assert fetcher.peak == MAX_CONCURRENT
    parts = result["messages"][1]["content"][1:]
    assert [part["image_url"]["url"] for part in parts] == [GIF_DATA_URL] * 16


async def test_one_failed_fetch_fails_the_request() -> None:
    fetcher = ScriptedFetcher({"https://a.example.com/1.gif": FetchedImage("image/gif", GIF)})
    body = chat(image_part("https://a.example.com/1.gif"), image_part("https://b.example.com/2"))
    with pytest.raises(InvalidRequest) as caught:
        await inline_remote_images(body, fetcher)
    assert caught.value.message == "could not fetch image from host x: HTTP 404"


@pytest.mark.parametrize(
    "body",
    [
        chat(),
        chat(image_part("data:image/png;base64,iVBORw0KGgo=")),
        {"model": "m", "messages": [{"role": "user", "content": "https://example.com/a.png"}]},
        {"model": "m", "prompt": "no messages here"},
    ],
)
async def test_nothing_to_fetch_returns_the_same_object(body: dict[str, Any]) -> None:
    fetcher = ScriptedFetcher({})
    assert not has_remote_images(body)
    assert await inline_remote_images(body, fetcher) is body
    assert fetcher.calls == []


def test_has_remote_images_sees_http_and_https_parts_only() -> None:
    assert has_remote_images(chat(image_part("https://example.com/a.png")))
    assert has_remote_images(chat(image_part("HTTP://example.com/a.png")))
    assert not has_remote_images(chat(image_part("gs://bucket/a.png")))
    assert has_remote_images(chat(image_part("gs://bucket/a.png")), schemes=("gs",))


async def test_custom_schemes_limit_what_is_fetched() -> None:
    fetcher = ScriptedFetcher({"https://a.example.com/1.gif": FetchedImage("image/gif", GIF)})
    body = chat(image_part("https://a.example.com/1.gif"), image_part("http://b.example.com/2"))
    result = await inline_remote_images(body, fetcher, schemes=("https",))
    assert fetcher.calls == ["https://a.example.com/1.gif"]
    assert [part["image_url"]["url"] for part in result["messages"][1]["content"][1:]] == [
        GIF_DATA_URL,
        "http://b.example.com/2",
    ]


async def test_bare_string_image_url_is_inlined_as_an_object() -> None:
    fetcher = ScriptedFetcher({"https://a.example.com/1.gif": FetchedImage("image/gif", GIF)})
    body = chat({"type": "image_url", "image_url": "https://a.example.com/1.gif"})
    result = await inline_remote_images(body, fetcher)
    assert result["messages"][1]["content"][1] == {
        "type": "image_url",
        "image_url": {"url": GIF_DATA_URL},
    }
