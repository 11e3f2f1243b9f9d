"""Sending deliveries: one signed POST per attempt, and the outcome written back.

The client is an aiohttp session of its own (not httpx: importing httpx loads its command
line's rich into every router worker). It follows no redirect, reads no proxy from the
environment (a proxy would connect for us, past the address guard), and its connector
takes the caller's resolver: the router and the CLI pass the gateway's ``UpstreamResolver``,
which vets every address a name resolves to at connect time, as for channel upstreams.
The hook's URL also passes ``check_url`` before each attempt (literal addresses never reach
a resolver). The whole attempt, answer included, has ``timeout`` seconds. A failed
attempt's reason is stored with what is secret of the hook masked, as a receiver may quote
it back.
"""

from __future__ import annotations

import asyncio
import math
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from burncloud import __version__
from burncloud.crypto import SecretBox, mask_in, public_error_text
from burncloud.db.base import Database
from burncloud.errors import InvalidRequest
from burncloud.services.alerts.events import TEST, Event
from burncloud.services.alerts.formats import render_body
from burncloud.services.alerts.hooks import (
    Target,
    UrlCheck,
    get_hook,
    guard_url,
    unseal_target,
)
from burncloud.services.alerts.outbox import (
    Due,
    Outcome,
    claim_delivery,
    claim_due,
    finish,
    raise_event,
)
from burncloud.services.alerts.signing import (
    EVENT_HEADER,
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature,
)
from burncloud.services.clock import now as clock_now

USER_AGENT = f"burncloud-alerts/{__version__}"
ERROR_LIMIT = 300  # characters of a failed attempt's reason kept
ANSWER_BYTES = 512  # of a refusing receiver's answer, quoted in the reason
BATCH = 16  # deliveries one router claims and sends at once


def open_session(resolver: AbstractResolver | None = None) -> aiohttp.ClientSession:
    """The session deliveries go out through, its connections vetted by ``resolver`` (close
    it with ``close``; open it in the running event loop)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=2 * BATCH, resolver=resolver),
        trust_env=False,
        headers={"User-Agent": USER_AGENT},
    )


@dataclass(frozen=True, slots=True)
class HookTrial:
    """What ``alert test`` did: the event, its delivery, and how the attempt went."""

    event_id: int
    delivery_id: int
    outcome: Outcome
    status: str  # the delivery's status after the attempt


@dataclass(frozen=True, slots=True)
class Courier:
    """Everything an attempt needs, for one router (or one CLI command) as ``owner``."""

    session: aiohttp.ClientSession
    box: SecretBox
    owner: str
    timeout: float
    retry_base: int
    check_url: UrlCheck | None = None
    clock: Callable[[], int] = clock_now
    jitter: Callable[[], float] = field(default=random.random)

    @property
    def hold(self) -> int:
        """Seconds a claim lasts: the attempt and writing its outcome fit well inside."""
        return 2 * math.ceil(self.timeout) + 1

    async def send_due(self, db: Database, limit: int = BATCH) -> list[str]:
        """Claim the deliveries due now and send them side by side (a slow hook does not
        hold the others up); their statuses after the attempt."""
        claimed = await claim_due(db, self.owner, self.clock(), self.hold, limit)
        return list(await asyncio.gather(*(self.deliver(db, due) for due in claimed)))

    async def deliver(self, db: Database, due: Due) -> str:
        """One attempt at a claimed delivery, its outcome recorded; the status after it."""
        outcome = await self.attempt(due)
        return await finish(
            db, due, outcome, self.owner, self.clock(), self.retry_base, self.jitter
        )

    async def attempt(self, due: Due) -> Outcome:
        """POST the delivery once; never raises for what the receiver or network did."""
        target = unseal_target(self.box, due.hook)
        body = render_body(target.format, due.event, target.chat_id)
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: str(due.event.id),
            EVENT_HEADER: due.event.kind,
        }
        if target.secret is not None:
            headers[SIGNATURE_HEADER] = signature(target.secret, body, self.clock())
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(target, body, headers)
        except InvalidRequest as exc:  # the address guard refused the URL
            return Outcome(False, error=_masked(exc.message, target))
        except TimeoutError:
            return Outcome(False, error=f"no answer within {self.timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return Outcome(False, error=_masked(_describe(exc), target))

    async def test(self, db: Database, hook_id: int) -> HookTrial:
        """Raise a test event for one hook and attempt its delivery now; a failed attempt
        stays in the outbox for the routers to retry."""
        now = self.clock()
        event = Event(
            TEST,
            key=f"test:{hook_id}:{secrets.token_hex(8)}",
            text=f"Test alert for alert {hook_id}: alerts from burncloud reach you.",
            data={"alert_id": hook_id},
        )
        async with db.transaction() as tx:
            await get_hook(tx, hook_id)
            event_id = await raise_event(tx, event, now, to=lambda hook: hook.id == hook_id)
            delivery_id = await tx.fetch_value(
                "SELECT id FROM alert_deliveries WHERE event_id = :e", {"e": event_id}
            )
            due = await claim_delivery(tx, int(delivery_id), self.owner, now, self.hold)
        assert event_id is not None and due is not None  # a new key, claimed in its own tx
        outcome = await self.attempt(due)
        status = await finish(
            db, due, outcome, self.owner, self.clock(), self.retry_base, self.jitter
        )
        return HookTrial(event_id, due.id, outcome, status)

    async def _post(self, target: Target, body: bytes, headers: dict[str, str]) -> Outcome:
        await guard_url(self.check_url, target.url)
        async with self.session.post(
            target.url, data=body, headers=headers, allow_redirects=False
        ) as response:
            status = response.status
            if 200 <= status < 300:
                return Outcome(True, status)
            answer = await response.content.read(ANSWER_BYTES)
        reason = f"HTTP {status}"
        if 300 <= status < 400:
            reason += " (a redirect: alerts follow none)"
        elif answer.strip():
            reason += f": {' '.join(answer.decode(errors='replace').split())}"
        return Outcome(False, status, _masked(reason, target))


def _describe(exc: aiohttp.ClientError | OSError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):  # its own text loses the reason
        return f"could not connect to {exc.host}:{exc.port}: {exc.os_error}"
    if isinstance(exc, ConnectionError):
        return f"could not connect: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _masked(text: str, target: Target) -> str:
    """``text`` with what is secret of the hook masked (its secret, the URL's credentials,
    path and query; the origin is shown anyway), then cut (never the reverse)."""
    parts = urlsplit(target.url)
    hidden = [target.secret or "", parts.netloc.rpartition("@")[0], parts.path, parts.query]
    for secret in hidden:
        text = mask_in(text, secret)
    return public_error_text(text, "", ERROR_LIMIT)
