"""Rate limits exact across a fleet of routers: the same GCRA levels, kept in Redis.

``SharedRateLimiter`` keeps each subject's levels in the machine's shared state; several
machines need one place, so with ``REDIS_URL`` the levels live in a Redis hash per subject
(fields r, t, c, u: rpm level, tpm level, concurrent requests, last update) and one Lua script
admits a request against all of its subjects or none. Redis runs the script atomically and
dates it by its own clock (``TIME``), so routers with skewed clocks still agree. The
arithmetic is ``rate_limit``'s, line for line (see that module for why GCRA, and for why
levels rather than a theoretical arrival time).

When Redis is down (``RedisLink``), admissions fall back to the machine's own limiter: each
instance then enforces the full limit by itself, so a fleet of N admits up to N times the
limit until Redis is back. Releases and settlements go to wherever the admission was counted,
after the response, in the background: a lost one (Redis died meanwhile) leaves a
concurrency count that Redis expires with the key, ``STALE_AFTER`` after its last update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from burncloud.gateway.fleet.rate_limit import (
    PERIOD,
    SLACK,
    STALE_AFTER,
    Admission,
    Charge,
    Limits,
    SharedRateLimiter,
    refused_admission,
)
from burncloud.gateway.fleet.redis_link import RedisDown, RedisLink

if TYPE_CHECKING:
    from redis.commands.core import AsyncScript

log = logging.getLogger("burncloud.rate_limit")

_COMMON = (
    f"local PERIOD, STALE, SLACK = {PERIOD!r}, {STALE_AFTER!r}, {SLACK!r}\n"
    + """
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function drained(key, rpm, tpm, at)
  local rec = redis.call('HMGET', key, 'r', 't', 'c', 'u')
  local r, t, c, u = tonumber(rec[1]) or 0, tonumber(rec[2]) or 0, tonumber(rec[3]) or 0,
    tonumber(rec[4]) or 0
  local elapsed = math.max(0, at - u)
  if rpm > 0 then r = math.max(0, r - elapsed * rpm / PERIOD) else r = 0 end
  if tpm > 0 then t = math.max(0, t - elapsed * tpm / PERIOD) else t = 0 end
  if elapsed >= STALE then c = 0 end
  return r, t, c, math.max(at, u)
end
local function store(key, r, t, c, u)
  if r == 0 and t == 0 and c == 0 then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 'r', tostring(r), 't', tostring(t), 'c', tostring(c),
      'u', tostring(u))
    redis.call('PEXPIRE', key, math.floor(STALE * 1000))
  end
end
local function wait(level, cost, limit)
  local w = (level + cost - limit) * PERIOD / limit
  if w <= SLACK then return 0 end
  return w
end
"""
)

# KEYS: the subjects' keys. ARGV: tokens, then rpm, tpm, concurrency per subject (0: none).
# Returns {1} when admitted, else {0, subject index, limit, wait as text, retryable}.
ADMIT = (
    _COMMON
    + """
local tokens = tonumber(ARGV[1])
local at = now()
local next = {}
for i, key in ipairs(KEYS) do
  local rpm, tpm, conc = tonumber(ARGV[3*i - 1]), tonumber(ARGV[3*i]), tonumber(ARGV[3*i + 1])
  local r, t, c, u = drained(key, rpm, tpm, at)
  if tpm > 0 and tokens > tpm then return {0, i, 'tpm', tostring(PERIOD), 0} end
  local rw, tw = 0, 0
  if rpm > 0 then rw = wait(r, 1, rpm) end
  if tpm > 0 then tw = wait(t, tokens, tpm) end
  local busy = conc > 0 and c >= conc
  if rw > 0 or tw > 0 or busy then
    local limit, longest = 'rpm', rw
    if tw > longest then limit, longest = 'tpm', tw end
    if busy and 1 > longest then limit, longest = 'concurrency', 1 end
    return {0, i, limit, tostring(longest), 1}
  end
  if rpm > 0 then r = r + 1 end
  if tpm > 0 then t = t + tokens end
  if conc > 0 then c = c + 1 end
  next[i] = {r, t, c, u}
end
for i, key in ipairs(KEYS) do
  store(key, next[i][1], next[i][2], next[i][3], next[i][4])
end
return {1}
"""
)

# KEYS: one subject. ARGV: rpm, tpm, concurrency limits, then the rpm, tpm and count deltas.
ADJUST = (
    _COMMON
    + """
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local r, t, c, u = drained(KEYS[1], rpm, tpm, now())
store(KEYS[1], math.max(0, r + tonumber(ARGV[4])), math.max(0, t + tonumber(ARGV[5])),
  math.max(0, c + tonumber(ARGV[6])), u)
return 1
"""
)


class FleetRateLimiter:
    """Admits through Redis while it is up, through the machine's own limiter otherwise."""

    def __init__(self, local: SharedRateLimiter, link: RedisLink | None) -> None:
        self._local = local
        self._link = link
        self._pending: set[asyncio.Task[None]] = set()
        self._scripts: dict[str, AsyncScript] = {}

    async def admit_all(
        self, subjects: Iterable[tuple[str, Limits]], tokens: int, now: float
    ) -> Admission:
        """Admit against every subject or none."""
        if self._link is None or not self._link.up:
            return self._local.admit_all(subjects, tokens, now)
        limited = [(s, limits) for s, limits in subjects if not limits.unlimited]
        try:
            return await self._admit_shared(limited, max(0, tokens))
        except RedisDown:
            return self._local.admit_all(limited, tokens, now)

    def release(self, admission: Admission) -> None:
        """End the admission's concurrent slots (in the background when counted in Redis)."""
        if not admission.shared:
            self._local.release(admission)
            return
        for charge in admission.charges:
            if charge.concurrent:
                self._later(charge, 0, 0, -1)

    def settle(self, admission: Admission, actual_tokens: int) -> None:
        """Correct the TPM counts from the estimate to ``actual_tokens`` (never below 0)."""
        if not admission.shared:
            self._local.settle(admission, actual_tokens)
            return
        for charge in admission.charges:
            delta = max(0, actual_tokens) - charge.tokens
            if charge.limits.tpm is not None and delta:
                self._later(charge, 0, delta, 0)

    async def drain(self) -> None:
        """Wait for the releases and settlements still on their way (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _admit_shared(self, subjects: list[tuple[str, Limits]], tokens: int) -> Admission:
        assert self._link is not None
        if not subjects:
            return Admission(admitted=True, shared=True)
        keys = [self._link.key("rl:" + subject) for subject, _ in subjects]
        args: list[int] = [tokens]
        for _, limits in subjects:
            args += [limits.rpm or 0, limits.tpm or 0, limits.max_concurrency or 0]
        script = self._script(ADMIT)
        verdict = await self._link.call(lambda _: script(keys=keys, args=args))
        if int(verdict[0]) == 1:
            charges = tuple(
                Charge(s, limits, tokens if limits.tpm is not None else 0, _concurrent(limits))
                for s, limits in subjects
            )
            return Admission(admitted=True, charges=charges, shared=True)
        subject, limits = subjects[int(verdict[1]) - 1]
        limit, wait, retryable = _text(verdict[2]), float(_text(verdict[3])), bool(verdict[4])
        return refused_admission(subject, limits, tokens, limit, wait, retryable)

    def _script(self, source: str) -> AsyncScript:
        """The script registered on the link's client (EVALSHA, loaded on first use)."""
        assert self._link is not None
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self._link.client.register_script(source)
        return script

    def _later(self, charge: Charge, rpm: int, tpm: int, count: int) -> None:
        task = asyncio.get_running_loop().create_task(self._adjust(charge, rpm, tpm, count))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _adjust(self, charge: Charge, rpm: int, tpm: int, count: int) -> None:
        assert self._link is not None
        limits = charge.limits
        keys = [self._link.key("rl:" + charge.subject)]
        args = [limits.rpm or 0, limits.tpm or 0, limits.max_concurrency or 0, rpm, tpm, count]
        script = self._script(ADJUST)
        try:
            await self._link.call(lambda _: script(keys=keys, args=args))
        except RedisDown:
            log.debug("a rate-limit adjustment for %s was lost with redis", charge.subject)


def _concurrent(limits: Limits) -> bool:
    return limits.max_concurrency is not None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
