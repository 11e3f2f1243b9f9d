"""The prober's check of one auto-disabled channel: a 1-token chat request, sent as the relay sends.

The relay's own client and provider code send it, so a probe succeeds exactly when a real
request would (the CLI's ``channel test`` does the same over httpx, which workers do not
load).
"""

from __future__ import annotations

import logging

from burncloud.crypto import SecretBox
from burncloud.db import Database
from burncloud.errors import BurncloudError
from burncloud.gateway.egress.transport import Transport
from burncloud.gateway.egress.upstream import UpstreamFailure, send_upstream
from burncloud.gateway.snapshot import Upstream
from burncloud.providers.registry import CHANNEL_KINDS
from burncloud.services.channels import Channel, decrypt_key
from burncloud.services.timeouts import Timeouts

log = logging.getLogger("burncloud.prober")

PROBE_TIMEOUTS = Timeouts(connect=10.0, first_byte=30.0, idle=30.0)


async def probe_channel(
    db: Database, box: SecretBox, transport: Transport, channel: Channel
) -> bool:
    """True when the channel answers a minimal request for its first model with a 200."""
    kind = CHANNEL_KINDS.get(channel.type)
    row = await db.fetch_one("SELECT key_enc FROM channels WHERE id = :id", {"id": channel.id})
    if kind is None or row is None or not channel.models:
        return False
    provider = kind.provider
    upstream = Upstream(
        id=channel.id,
        type=channel.type,
        name=channel.name,
        base_url=channel.base_url,
        key=decrypt_key(box, row),
        model_map=channel.model_map,
        config=channel.config,
        timeouts=PROBE_TIMEOUTS,
    )
    asked = channel.models[0]
    model = channel.model_map.get(asked, asked)
    body = {"model": asked, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    try:
        built = provider.chat_request(upstream, body, model, False)
        response = await send_upstream(
            transport, upstream, built.url, built.headers, built.body, provider.error
        )
        try:
            raw = await response.read()
        finally:
            response.release()
        provider.chat_answer(raw, asked)
    except UpstreamFailure as failure:
        log.info("probe of channel %s failed: %s", channel.id, failure.error.message)
        return False
    except (BurncloudError, TimeoutError) as exc:
        log.info("probe of channel %s failed: %s", channel.id, exc)
        return False
    return True
