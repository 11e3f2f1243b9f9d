"""How a worker tells its supervisor whether the app started, and remembers a failed
shutdown, whatever the server: the lifespan messages the app sends, watched."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

import pytest

from burncloud.serving.worker import LifespanWatch, StartupReport

Message = dict[str, str]


def lifespan_app(*sent: str, raises: Exception | None = None) -> Callable[..., Awaitable[None]]:
    """An app whose lifespan sends these message types in turn (then raises, if given)."""

    async def app(scope: dict, receive: Callable, send: Callable) -> None:
        for kind in sent:
            await send({"type": kind, "message": "the database is read-only"})
        if raises is not None:
            raise raises

    return app


async def run_lifespan(app: Callable[..., Awaitable[None]]) -> tuple[bytes, list[Message], bool]:
    """What the supervisor read, what the server was sent, whether shutdown failed."""
    read_fd, write_fd = os.pipe()
    server_got: list[Message] = []

    async def send(message: Message) -> None:
        server_got.append(message)

    async def receive() -> Message:
        raise AssertionError("not used")

    watch = LifespanWatch(app, StartupReport(write_fd))
    await watch({"type": "lifespan"}, receive, send)
    with os.fdopen(read_fd, "rb") as reader:  # the worker closed its end once it reported
        return reader.read(), server_got, watch.shutdown_failed


@pytest.mark.parametrize(
    ("sent", "line"),
    [
        (("lifespan.startup.complete",), b"ready\n"),
        (("lifespan.startup.failed",), b"failed: the database is read-only\n"),
    ],
)
async def test_the_startup_outcome_is_one_line_to_the_supervisor(sent, line) -> None:
    reported, server_got, _ = await run_lifespan(lifespan_app(*sent))
    assert reported == line
    assert [m["type"] for m in server_got] == list(sent)  # passed on unchanged


async def test_an_app_that_raises_at_startup_fails_it_on_every_server() -> None:
    reported, server_got, _ = await run_lifespan(lifespan_app(raises=OSError("disk gone")))
    assert reported == b"failed: OSError('disk gone')\n"
    assert server_got == [{"type": "lifespan.startup.failed", "message": "OSError('disk gone')"}]


async def test_a_failed_shutdown_is_remembered() -> None:
    sent = ("lifespan.startup.complete", "lifespan.shutdown.failed")
    reported, _, shutdown_failed = await run_lifespan(lifespan_app(*sent))
    assert (reported, shutdown_failed) == (b"ready\n", True)
    _, _, shutdown_failed = await run_lifespan(lifespan_app("lifespan.startup.complete"))
    assert shutdown_failed is False
