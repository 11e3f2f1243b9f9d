"""An in-process ``Transport`` for the relay (in the spirit of httpx's MockTransport): a
handler answers each request, no socket involved, so a forwarding mode can be tested alone."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from burncloud.errors import UpstreamError
from burncloud.gateway.egress.transport import READ_FAILED, Answer, BrokeOff, Unreachable
from burncloud.services.timeouts import Timeouts


@dataclass
class Sent:
    """One request the relay made (a POST unless ``method`` says otherwise)."""

    url: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"


@dataclass
class Reply:
    """What the fake answers: ``parts`` of the body arrive in order; after ``break_after``
    of them the connection fails (a read, or the stream, breaks off)."""

    status: int = 200
    parts: Sequence[bytes] = ()
    headers: Mapping[str, str] = field(default_factory=dict)
    break_after: int | None = None


class FakeAnswer:
    """A ``Reply`` behind the ``Answer`` protocol the relay reads."""

    def __init__(self, reply: Reply) -> None:
        self._reply = reply
        self.status = reply.status
        self.released = False

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self._reply.headers.items() if k.lower() == wanted), None)

    @property
    def content_type(self) -> str:
        return self.header("Content-Type") or "application/json"

    async def read(self, limit: int = -1) -> bytes:
        if self._reply.break_after is not None:
            raise UpstreamError(READ_FAILED)
        body = b"".join(self._reply.parts)
        return body if limit < 0 else body[:limit]

    async def chunks(self) -> AsyncIterator[bytes]:
        parts, cut = self._reply.parts, self._reply.break_after
        for index, part in enumerate(parts):
            if cut is not None and index >= cut:
                break
            yield part
        if cut is not None:
            raise BrokeOff("connection reset by the fake")

    def release(self) -> None:
        self.released = True


Handler = Callable[[Sent], Reply]


class FakeTransport:
    """``FakeTransport(handler)``: every request is kept in ``sent`` and answered by
    ``handler``; ``unreachable=True`` refuses every connection."""

    def __init__(self, handler: Handler | None = None, *, unreachable: bool = False) -> None:
        self._handler = handler or (lambda _sent: Reply(parts=[b"{}"]))
        self._unreachable = unreachable
        self.sent: list[Sent] = []
        self.answers: list[FakeAnswer] = []
        self.closed = False

    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, timeouts: Timeouts
    ) -> Answer:
        return self._answer(Sent(url, dict(headers), body))

    async def request(
        self, method: str, url: str, headers: Mapping[str, str], timeouts: Timeouts
    ) -> Answer:
        return self._answer(Sent(url, dict(headers), b"", method))

    def _answer(self, sent: Sent) -> Answer:
        if self._unreachable:
            raise Unreachable("connection refused by the fake")
        self.sent.append(sent)
        answer = FakeAnswer(self._handler(sent))
        self.answers.append(answer)
        return answer

    async def close(self) -> None:
        self.closed = True


def replying(*replies: Reply) -> Handler:
    """A handler answering with ``replies`` in turn (the last one from then on)."""
    queue = list(replies)

    def handle(_sent: Sent) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


def sse(*events: bytes) -> Sequence[bytes]:
    """SSE events as separate parts, as an upstream might send them."""
    return [event if event.endswith(b"\n\n") else event + b"\n\n" for event in events]
