"""The fake OpenAI keeps the responses it makes, as OpenAI does: the official SDK retrieves,
lists the input items of, streams and deletes them; ``store: false`` keeps nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import openai
import pytest

from tests.fakes import FakeOpenAI

KEY = "sk-canary-upstream"


@pytest.fixture
async def client() -> AsyncIterator[tuple[FakeOpenAI, openai.AsyncOpenAI]]:
    async with FakeOpenAI(KEY) as fake:
        sdk = openai.AsyncOpenAI(base_url=fake.base_url, api_key=KEY, max_retries=0)
        yield fake, sdk
        await sdk.close()


async def test_a_stored_response_is_retrieved_listed_and_deleted(
    client: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    fake, sdk = client
    created = await sdk.responses.create(
        model="gpt-4o",
        input=[{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
    )
    got = await sdk.responses.retrieve(created.id)
    items = await sdk.responses.input_items.list(created.id)
    oldest = await sdk.responses.input_items.list(created.id, order="asc", limit=1)
    events = [event.type async for event in await sdk.responses.retrieve(created.id, stream=True)]
    await sdk.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError, match=f"Response with id '{created.id}' not found."):
        await sdk.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.delete(created.id)
    assert got == created
    assert [cast(Any, item).content[0].text for item in items.data] == ["two", "one"]
    assert [cast(Any, item).content[0].text for item in oldest.data] == ["one"]
    assert oldest.has_more and cast(Any, oldest).first_id == items.data[1].id
    assert events[0] == "response.created" and events[-1] == "response.completed"
    assert [request.method for request in fake.requests] == [
        "POST", "GET", "GET", "GET", "GET", "DELETE", "GET", "DELETE",
    ]  # fmt: skip


async def test_store_false_keeps_nothing_and_bad_pages_are_refused(
    client: tuple[FakeOpenAI, openai.AsyncOpenAI],
) -> None:
    fake, sdk = client
    unstored = await sdk.responses.create(model="gpt-4o", input="hi", store=False)
    assert fake.stored_responses == {}
    with pytest.raises(openai.NotFoundError):
        await sdk.responses.retrieve(unstored.id)
    stored = await sdk.responses.create(model="gpt-4o", input="hi")
    with pytest.raises(openai.BadRequestError, match="'limit'"):
        await sdk.responses.input_items.list(stored.id, limit=101)
    with pytest.raises(openai.BadRequestError, match="'up'"):
        await sdk.responses.input_items.list(stored.id, order="up")  # type: ignore[arg-type]
    async with openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-wrong", max_retries=0
    ) as stranger:
        with pytest.raises(openai.AuthenticationError):
            await stranger.responses.retrieve(stored.id)
