"""Turning remote image URLs in an OpenAI chat body into data URLs, for providers without URLs.

Gemini (fileData takes File API / gs:// URIs only) and Bedrock Converse (bytes or s3://)
cannot be handed an http(s) image URL, so the gateway fetches the image and inlines it.
A body without remote images is returned as is, so the common path costs one scan.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any, Protocol

from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.fetcher import FetchedImage

MAX_IMAGES = 16
MAX_CONCURRENT = 8
DEFAULT_SCHEMES = ("http", "https")


class ImageFetcher(Protocol):
    """What inlining needs from a fetcher (SafeFetcher in production)."""

    def fetch_image(self, url: str) -> Awaitable[FetchedImage]: ...


def has_remote_images(body: dict[str, Any], schemes: Sequence[str] = DEFAULT_SCHEMES) -> bool:
    """Whether any chat message holds an image_url part pointing at ``schemes``."""
    return any(True for _ in _remote_parts(body, schemes))


async def inline_remote_images(
    body: dict[str, Any], fetcher: ImageFetcher, schemes: Sequence[str] = DEFAULT_SCHEMES
) -> dict[str, Any]:
    """``body`` with remote image URLs replaced by data URLs; the input is never modified.

    The same object comes back when there is nothing to fetch.
    """
    urls = [url for _, _, url in _remote_parts(body, schemes)]
    if not urls:
        return body
    if len(urls) > MAX_IMAGES:
        raise InvalidRequest(f"at most {MAX_IMAGES} image URLs per request, got {len(urls)}")
    images = await _fetch_all(list(dict.fromkeys(urls)), fetcher)
    return _with_data_urls(body, schemes, images)


def _remote_parts(body: dict[str, Any], schemes: Sequence[str]) -> Iterator[tuple[int, int, str]]:
    """(message index, part index, url) of every remote image part, in order."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for p, part in enumerate(content):
            url = _image_url(part)
            if url is not None and _scheme(url) in schemes:
                yield m, p, url


def _image_url(part: object) -> str | None:
    """The URL of an image_url part (object form, or the bare string some clients send)."""
    if not isinstance(part, dict) or part.get("type") != "image_url":
        return None
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, dict) else image
    return url if isinstance(url, str) else None


def _scheme(url: str) -> str:
    scheme, sep, _ = url.partition(":")
    return scheme.strip().lower() if sep else ""


async def _fetch_all(urls: list[str], fetcher: ImageFetcher) -> dict[str, FetchedImage]:
    """Each distinct URL fetched once, a few at a time; the first failure cancels the rest."""
    gate = asyncio.Semaphore(MAX_CONCURRENT)

    async def fetch(url: str) -> FetchedImage:
        async with gate:
            return await fetcher.fetch_image(url)

    tasks = [asyncio.ensure_future(fetch(url)) for url in urls]
    try:
        images = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return dict(zip(urls, images, strict=True))


def _with_data_urls(
    body: dict[str, Any], schemes: Sequence[str], images: dict[str, FetchedImage]
) -> dict[str, Any]:
    """A copy of ``body`` where only the touched messages, lists and parts are new objects."""
    messages = list(body["messages"])
    copied: set[int] = set()
    for m, p, url in _remote_parts(body, schemes):
        if m not in copied:
            messages[m] = {**messages[m], "content": list(messages[m]["content"])}
            copied.add(m)
        content = messages[m]["content"]
        content[p] = _inlined_part(content[p], _data_url(images[url]))
    return {**body, "messages": messages}


def _inlined_part(part: dict[str, Any], data_url: str) -> dict[str, Any]:
    image = part["image_url"]
    if isinstance(image, dict):
        return {**part, "image_url": {**image, "url": data_url}}
    return {**part, "image_url": {"url": data_url}}


def _data_url(image: FetchedImage) -> str:
    return f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode('ascii')}"
