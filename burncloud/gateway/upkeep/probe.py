"""The prober's check of one auto-disabled key: a 1-token chat request, sent as the relay sends.

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
from burncloud.services.channel_keys import key_secret
from burncloud.services.channel_overrides import overrides_from
from burncloud.services.channels import Channel
from burncloud.services.timeouts import Timeouts

log = logging.getLogger("burncloud.prober")

PROBE_TIMEOUTS = Timeouts(connect=10.0, first_byte=30.0, idle=30.0)


async def probe_channel(
    db: Database, box: SecretBox, transport: Transport, channel: Channel, key_id: int
) -> bool:
    """True when the channel answers a minimal request for its first model with a 200,
    sent with key ``key_id``."""
    kind = CHANNEL_KINDS.get(channel.type)
    if kind is None or not channel.models:
        return False
    try:
        key = await key_secret(db, box, channel.id, key_id)
    except BurncloudError:  # the key was removed meanwhile
        return False
    provider = kind.provider
    upstream = Upstream(
        id=channel.id,
        type=channel.type,
        name=channel.name,
        base_url=channel.base_url,
        key=key,
        key_id=key_id,
        overrides=overrides_from(channel.overrides),
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
        log.info("probe of channel %s key %s failed: %s", channel.id, key_id, failure.error.message)
        return False
    except (BurncloudError, TimeoutError) as exc:
        log.info("probe of channel %s key %s failed: %s", channel.id, key_id, exc)
        return False
    return True
