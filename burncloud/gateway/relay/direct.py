"""One call to a channel outside the relay's story: not routed, reserved or billed.

For the few requests that ask a channel something about a request rather than relay one
(counting a Responses request's input tokens). The answer is read whole: such answers are
small.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from burncloud.errors import BurncloudError
from burncloud.gateway.egress.upstream import UpstreamFailure, send_upstream
from burncloud.gateway.relay.deps import RelayDeps
from burncloud.gateway.snapshot import Upstream


async def ask_channel(
    deps: RelayDeps,
    upstream: Upstream,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    map_error: Callable[[int, bytes, str | None], BurncloudError],
) -> tuple[bytes, str]:
    """POST ``body`` to ``url`` on ``upstream``: the 200 answer and its content type, else
    the mapped error (which never holds the URL or key)."""
    try:
        answer = await send_upstream(deps.transport, upstream, url, headers, body, map_error)
    except UpstreamFailure as failure:
        raise failure.error from None
    try:
        return await answer.read(), answer.content_type
    finally:
        answer.release()
