"""The router's quota ledger: reservations served from in-memory leases.

Each worker process owns one ``Ledger``. A reservation holds the request's estimated cost
against the token's quota and the user's balance (a side with -1 is unlimited and skipped)
and against the current window of each of its budgets (``budget_book``: a window row is
leased like a quota, so a budget is as exact). Each side is served from the worker's
lease of that subject, in memory; only when the lease is
short does the ledger take a new slice from the database, with one conditional UPDATE
(``services.leases``). Slices are a few requests' worth, at most a quarter of what remains,
so near exhaustion they shrink to single requests and nothing is ever overspent.

``settle`` (synchronous, no database) turns a reservation into its exact cost: the rest
goes back to the lease, the cost becomes pending consumption that the log writer bills
(``tokens.used`` and the lease row in one transaction), then reports back with
``on_billed``. A cost above the reservation takes the difference from the lease's free
money, and what that cannot cover as a direct charge the log writer takes from the quota /
balance column, stopping at zero: whatever is still uncovered then is written off (it is
billed to ``used`` and logged, never made negative). The relay keeps that rare by capping
``max_tokens`` to what ``affordable`` reports.

When a lease runs low (under ``PREFILL_REQUESTS`` requests' worth) a background top-up is
started, so requests under steady load are served from memory and rarely wait on the
database; near exhaustion the top-up cannot be covered and takes nothing.

A background task renews the leases' expiry, gives idle leases back and sweeps the expired
leases of crashed routers; ``stop`` gives every lease back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from burncloud.db.base import Database
from burncloud.errors import InsufficientQuota, ServiceUnavailable
from burncloud.gateway.billing.budget_book import BudgetBook, HeldWindow
from burncloud.gateway.billing.lease_pool import Key, LeasePool, slice_size
from burncloud.gateway.billing.outage import database_unreachable_is_503
from burncloud.gateway.billing.reservations import (
    Charge,
    Lease,
    Reservation,
    Settlement,
    Side,
)
from burncloud.gateway.periodic import Failure, Periodic
from burncloud.money import UNLIMITED
from burncloud.services.leases import BUDGET, TOKEN, USER, read_remaining, sweep_expired_leases
from burncloud.services.tokens import Token
from burncloud.services.users import User

__all__ = ["Charge", "Ledger", "Reservation", "Settlement", "make_owner", "slice_size"]

log = logging.getLogger("burncloud.ledger")

PREFILL_REQUESTS = 10  # top a lease up in the background when it holds fewer requests
RECALL_PAUSES = (0.01, 0.02, 0.05, 0.1, 0.2)  # waits for recalled money: 0.38 s at most
RECALL_EVERY = 0.5  # seconds between recalls of one subject's money


def make_owner() -> str:
    """A lease owner name unique to this process run: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(frozen=True, slots=True)
class _Timing:
    ttl: float
    idle_after: float
    sweep_every: float
    tick: float


class Ledger:
    """Reservations against token quotas and user balances for one worker (``owner``)."""

    def __init__(
        self,
        db: Database,
        owner: str,
        ttl: float = 60.0,
        *,
        idle_after: float = 5.0,
        sweep_every: float = 30.0,
        tick: float = 1.0,
        prefill_requests: int = PREFILL_REQUESTS,
        clock: Callable[[], float] = time.monotonic,
        recall: Callable[[Key], None] | None = None,
        timezone: str = "UTC",
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.owner = owner
        self.budgets = BudgetBook(db, timezone, wall_clock)  # the open budget windows
        self._prefill_requests = prefill_requests  # 0: never top up in the background
        self._db = db
        self._timing = _Timing(ttl, idle_after, sweep_every, tick)
        self._clock = clock
        self._pool = LeasePool(db, owner, ttl, clock)
        # Each tick sweeps, renews and returns idle leases; a stop lets a tick in progress
        # finish (never cut mid-commit).
        self._upkeep = Periodic(
            f"ledger {owner}",
            self._upkeep_tick,
            interval=tick,
            run_at_start=True,
            cancel_on_stop=False,
            failure=Failure(
                log, f"lease upkeep failed; retrying every {tick:.1f} s", every_time=False
            ),
        )
        self._next_renew = self._next_sweep = 0.0
        self._closed = False
        self._prefills: dict[Key, asyncio.Task[None]] = {}
        self._recall_from_others = recall  # asks other routers to give a key's money back
        self._recalled_at: dict[Key, float] = {}

    # -- the request path -------------------------------------------------------------

    async def reserve(
        self,
        token: Token,
        user: User,
        amount: int,
        windows: Sequence[HeldWindow] = (),
    ) -> Reservation:
        """Hold ``amount`` against the token, the user and each budget window;
        InsufficientQuota if the token or user is short, BudgetExceeded if a window is."""
        if amount < 0:
            raise ValueError("cannot reserve a negative amount")
        if self._closed:
            raise ServiceUnavailable("the router is shutting down")
        keys = _limited_keys(token, user, windows)
        if amount == 0:
            return Reservation(token.id, user.id, 0, tuple((*key, None) for key in keys))
        holds: list[Side] = []
        try:
            for key in keys:
                async with database_unreachable_is_503():
                    lease = await self._hold_or_explain(key, amount, windows)
                if lease is not None:
                    holds.append((*key, lease))
        except BaseException:
            for _, _, lease in holds:
                if lease is not None:
                    _unhold(lease, amount)
            raise
        return Reservation(token.id, user.id, amount, tuple(holds))

    async def _hold_or_explain(
        self, key: Key, amount: int, windows: Sequence[HeldWindow]
    ) -> Lease | None:
        """``_hold``, with a budget window's refusal told as that window's 402."""
        try:
            return await self._hold(key, amount)
        except InsufficientQuota:
            if key[0] != BUDGET:
                raise
            if await read_remaining(self._db, *key) is None:
                return None  # the budget was removed since the snapshot: no limit now
            window = next(w for w in windows if w.id == key[1])
            left = await self._pool.affordable(key)
            raise window.exceeded(left or 0, amount, self.budgets.now()) from None

    async def check_can_pay(
        self, token: Token, user: User, windows: Sequence[HeldWindow] = ()
    ) -> None:
        """InsufficientQuota unless the token, the user and each window have money left (a
        nano-dollar is held and given straight back: from the leases in memory while they
        have some)."""
        self.release(await self.reserve(token, user, 1, windows))

    async def affordable(
        self, token: Token, user: User, windows: Sequence[HeldWindow] = ()
    ) -> int | None:
        """What the caller could reserve right now (this worker's leases + the database).

        None when every side is unlimited. Reads the database: for the refusal path only.
        """
        limits = []
        async with database_unreachable_is_503():
            for key in _limited_keys(token, user, windows):
                value = await self._pool.affordable(key)
                if value is not None:
                    limits.append(value)
        return min(limits) if limits else None

    def settle(self, reservation: Reservation, cost: int) -> Settlement:
        """Turn ``reservation`` into ``cost``: release the rest, record the cost as pending.

        Pass the returned Settlement to the request's ``LogRecord``: the log writer bills
        it. Never touches the database.
        """
        if cost < 0:
            raise ValueError("a cost cannot be negative")
        if reservation.settled:
            raise RuntimeError("this reservation is already settled")
        reservation.settled = True
        charges: list[Charge] = []
        for subject, sid, lease in reservation.sides():
            self._settle_side((subject, sid), lease, reservation.amount, cost, charges)
        return Settlement(
            owner=self.owner,
            token_id=reservation.token_id,
            user_id=reservation.user_id,
            reserved=reservation.amount,
            cost=cost,
            charges=tuple(charges),
        )

    def release(self, reservation: Reservation) -> None:
        """Give the whole reservation back (a failed request); no-op if already settled."""
        if reservation.settled:
            return
        reservation.settled = True
        for _, _, lease in reservation.sides():
            if lease is not None:
                _unhold(lease, reservation.amount)

    def on_billed(self, amounts: Mapping[int, int]) -> None:
        """The log writer billed ``amounts`` (lease id -> cost) out of the lease rows."""
        self._pool.on_billed(amounts)

    # -- holding and taking -----------------------------------------------------------

    async def _hold(self, key: Key, amount: int) -> Lease | None:
        """The lease now holding ``amount`` for a request; None if the subject is unlimited."""
        lease = self._pool.get(key)
        if lease is not None and lease.available >= amount:
            self._take_from(lease, amount)
            self._prefill_if_low(key, lease, amount)
            return lease
        recalled = False
        async with self._pool.lock(key):
            # Re-check after each refill: the refill's shielded take resumes this task a
            # loop turn after the money landed in the lease, and requests on the lock-free
            # path above may have spent it by then.
            while (lease := self._pool.get(key)) is None or lease.available < amount:
                try:
                    if await self._pool.refill(key, amount) is None:
                        return None  # the database says unlimited: the snapshot is behind
                except InsufficientQuota:
                    if recalled or not await self._recall(key, amount):
                        raise
                    recalled = True
            return self._take_from(lease, amount)

    async def _recall(self, key: Key, amount: int) -> bool:
        """Near exhaustion, other routers' leases may hold this subject's money idle while
        this one must refuse: ask them for it back (``recall``, a fleet notice) and wait a
        moment for the database to cover ``amount``. True when it then might."""
        if self._recall_from_others is None:
            return False
        now = self._clock()
        if now - self._recalled_at.get(key, -RECALL_EVERY) < RECALL_EVERY:
            return False  # asked a moment ago: what could come back has come back
        self._recalled_at[key] = now
        if await self._pool.held_elsewhere(key) == 0:
            return False
        self._recall_from_others(key)
        held = self._pool.get(key)
        need = amount - (held.available if held is not None else 0)
        for pause in RECALL_PAUSES:
            await asyncio.sleep(pause)
            if await self._pool.remaining(key) >= need:
                self._pool.forget_refusal(key)
                return True
        return False

    async def give_back(self, key: Key) -> int:
        """Another router recalled ``key``'s money: return this worker's free part of it."""
        return await self._pool.give_back(key)

    def _prefill_if_low(self, key: Key, lease: Lease, amount: int) -> None:
        low = amount * self._prefill_requests
        if low == 0 or lease.available >= low or key in self._prefills or self._closed:
            return
        task = asyncio.create_task(self._prefill(key, low), name=f"prefill {key}")
        self._prefills[key] = task
        task.add_done_callback(lambda _: self._prefills.pop(key, None))

    async def _prefill(self, key: Key, target: int) -> None:
        """Top the key's lease up to ``target`` unless it already holds that much."""
        try:
            async with self._pool.lock(key):
                lease = self._pool.get(key)
                if lease is not None and lease.available < target:
                    await self._pool.refill(key, target)
        except InsufficientQuota:
            pass  # near exhaustion: requests take single slices themselves
        except Exception:
            log.exception("background lease top-up failed for %s %s", *key)

    def _take_from(self, lease: Lease, amount: int) -> Lease:
        if lease.available < amount:  # would hold money the lease row does not have
            raise RuntimeError(f"lease {lease.row_id} cannot cover {amount}")
        lease.available -= amount
        lease.reserved += amount
        lease.touched = self._clock()
        return lease

    # -- settling ---------------------------------------------------------------------

    def _settle_side(
        self, key: Key, lease: Lease | None, reserved: int, cost: int, charges: list[Charge]
    ) -> None:
        if lease is not None:
            spent = min(cost, reserved)
            lease.reserved -= reserved
            lease.touched = self._clock()
            if lease.alive:
                lease.available += reserved - spent
            _charge(charges, lease, spent)
        extra = cost - reserved
        if extra > 0:
            extra -= self._draw(key, extra, charges)
        if extra > 0:  # billed against the subject's column at flush, stopping at zero
            charges.append(Charge(key[0], key[1], None, extra))

    def _draw(self, key: Key, amount: int, charges: list[Charge]) -> int:
        """Spend up to ``amount`` of the key's free lease money right away; how much."""
        lease = self._pool.get(key)
        if lease is None or amount <= 0:
            return 0
        part = min(lease.available, amount)
        lease.available -= part
        _charge(charges, lease, part)
        return part

    # -- background upkeep ------------------------------------------------------------

    async def start(self) -> None:
        """Start renewing, returning idle leases and sweeping crashed routers' leases."""
        if not self._upkeep.running:
            self._next_renew = self._clock() + self._timing.ttl / 3
            self._next_sweep = self._clock()  # sweep at once: a crashed predecessor's leases
            self._upkeep.start()

    async def stop(self) -> None:
        """Stop upkeep and give every lease back (call after the log writer's final flush).

        Reservations still in flight count as released; if the database cannot be reached,
        the leases expire and another router sweeps them back.
        """
        self._closed = True
        if self._prefills:
            await asyncio.gather(*self._prefills.values(), return_exceptions=True)
        await self._upkeep.stop()
        try:
            await self._pool.return_all()
        except Exception:
            log.exception("could not give the leases back; they return when they expire")

    async def renew(self) -> None:
        """Push the expiry of this worker's leases; forget the ones that were swept."""
        await self._pool.renew()

    async def return_idle(self) -> int:
        """Give back leases unused for ``idle_after`` seconds with nothing pending; count."""
        return await self._pool.return_idle(self._timing.idle_after)

    async def sweep_expired(self, now: int | None = None) -> int:
        """Give back the expired leases of crashed routers; how many were swept."""
        return await sweep_expired_leases(self._db, now)

    async def _upkeep_tick(self) -> None:
        """Sweep crashed routers' leases and renew ours when due; give back idle ones."""
        timing = self._timing
        if self._clock() >= self._next_sweep:
            await self.sweep_expired()
            self._next_sweep = self._clock() + timing.sweep_every
        if self._clock() >= self._next_renew:
            await self.renew()
            self._next_renew = self._clock() + timing.ttl / 3
        await self.return_idle()


def _limited_keys(token: Token, user: User, windows: Sequence[HeldWindow]) -> list[Key]:
    """The lease keys a request must fit: the token's and the user's unless unlimited, and
    each budget window's."""
    keys: list[Key] = []
    if token.quota != UNLIMITED:
        keys.append((TOKEN, token.id))
    if user.balance != UNLIMITED:
        keys.append((USER, user.id))
    keys.extend((BUDGET, window.id) for window in windows)
    return keys


def _unhold(lease: Lease, amount: int) -> None:
    lease.reserved -= amount
    if lease.alive:
        lease.available += amount


def _charge(charges: list[Charge], lease: Lease, amount: int) -> None:
    """Record ``amount`` spent out of ``lease`` (directly from the subject if it was swept)."""
    if amount <= 0:
        return
    if lease.alive:
        lease.pending += amount
        charges.append(Charge(lease.subject, lease.subject_id, lease.row_id, amount))
    else:
        charges.append(Charge(lease.subject, lease.subject_id, None, amount))
