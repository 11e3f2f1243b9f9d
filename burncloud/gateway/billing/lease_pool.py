"""One worker's leases: per token and per user, the money it holds from the database.

``LeasePool`` keeps one ``Lease`` per subject and moves money between it and the database
(``services.leases``): it tops a lease up in slices, renews the leases' expiry, gives idle
ones back and notices when one was swept under it (the lease row's id changed or vanished:
its money already went back, so reservations on it settle directly against the subject).
The ledger decides when; this module only knows how.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from burncloud.db.base import Database
from burncloud.errors import InsufficientQuota
from burncloud.gateway.billing.reservations import Lease
from burncloud.money import UNLIMITED, format_usd
from burncloud.services.leases import (
    TOKEN,
    leased_by_others,
    read_remaining,
    renew_leases,
    return_all_leases,
    return_lease,
    take_lease,
)

SLICE_MAX_REQUESTS = 50
SLICE_SHARE = 4  # a slice takes at most a quarter of what remains
TAKE_ATTEMPTS = 3  # reads + conditional takes before giving up on a concurrent change
REFUSAL_MEMORY = 0.5  # seconds a "the database cannot cover this" answer is reused
SCARCE_IDLE_AFTER = 0.5  # near exhaustion, another worker may be refusing: give back sooner

Key = tuple[str, int]


def slice_size(amount: int, need: int, remaining: int) -> int:
    """How much to take from ``remaining`` when ``need`` more is short for ``amount``.

    A few requests' worth (at most 50, at most a quarter of what remains), in whole
    requests on top of ``need``, so identical requests never strand a fragment; near
    exhaustion just ``need``.
    """
    requests = max(1, min(remaining // (SLICE_SHARE * amount), SLICE_MAX_REQUESTS))
    return min(need + amount * (requests - 1), remaining)


class LeasePool:
    """The leases of one owner, keyed by (subject, id), and the database moves behind them."""

    def __init__(self, db: Database, owner: str, ttl: float, clock: Callable[[], float]) -> None:
        self.owner = owner
        self._db = db
        self._ttl = ttl
        self._clock = clock
        self._leases: dict[Key, Lease] = {}
        self._by_row: dict[int, Lease] = {}
        self._locks: dict[Key, asyncio.Lock] = {}
        self._refused: dict[Key, tuple[float, int]] = {}

    def get(self, key: Key) -> Lease | None:
        """The live lease of ``key``, if this worker holds one."""
        return self._leases.get(key)

    def lock(self, key: Key) -> asyncio.Lock:
        """The lock that serialises database moves for ``key`` (one refill at a time)."""
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def refill(self, key: Key, amount: int) -> Lease | None:
        """Top the lease up until it covers ``amount`` (hold ``lock(key)``); None if unlimited.

        Reads what remains, takes a slice with one conditional update, and re-reads and
        retries on a concurrent change; the last attempt takes exactly what is missing.
        Raises InsufficientQuota when the database cannot cover it.
        """
        lease = self._leases.get(key)
        need = amount - (lease.available if lease is not None else 0)
        refused = self._refused.get(key)
        if refused is not None and refused[0] > self._clock() and need > refused[1]:
            raise self._shortage(key, amount, refused[1])
        remaining = 0
        for attempt in range(TAKE_ATTEMPTS):
            remaining = await self.remaining(key)
            if remaining == UNLIMITED:
                return None
            if remaining < need:
                break
            last = attempt == TAKE_ATTEMPTS - 1
            size = need if last else slice_size(amount, need, remaining)
            if (lease := await self.take(key, size)) is not None:
                lease.scarce = size == need  # single requests: near exhaustion
                return lease
        self._refused[key] = (self._clock() + REFUSAL_MEMORY, remaining)
        raise self._shortage(key, amount, remaining)

    async def take(self, key: Key, size: int) -> Lease | None:
        """Move ``size`` from the database into the key's lease; None if it is not there.

        Shielded: a request cancelled meanwhile must not lose track of a committed take.
        """
        return await asyncio.shield(self._take(key, size))

    async def _take(self, key: Key, size: int) -> Lease | None:
        row_id = await take_lease(self._db, self.owner, *key, size, self._ttl)
        if row_id is None:
            return None
        lease = self._leases.get(key)
        if lease is None or lease.row_id != row_id:
            if lease is not None:
                self.retire(lease)  # swept under us: its money went back already
            lease = Lease(key[0], key[1], row_id, touched=self._clock())
            self._leases[key] = lease
            self._by_row[row_id] = lease
        self._refused.pop(key, None)
        lease.available += size
        return lease

    async def remaining(self, key: Key) -> int:
        """What the database holds for ``key`` outside any lease (-1 unlimited, 0 if gone)."""
        remaining = await read_remaining(self._db, *key)
        return 0 if remaining is None else remaining

    async def affordable(self, key: Key) -> int | None:
        """This worker's free lease money plus the database's remaining; None if unlimited."""
        remaining = await self.remaining(key)
        if remaining == UNLIMITED:
            return None
        lease = self._leases.get(key)
        return remaining + (lease.available if lease is not None else 0)

    def on_billed(self, amounts: Mapping[int, int]) -> None:
        """Lease id -> amount the log writer billed out of the lease rows: no longer pending."""
        for lease_id, amount in amounts.items():
            lease = self._by_row.get(lease_id)
            if lease is not None:
                lease.pending -= amount

    async def give_back(self, key: Key) -> int:
        """Return the free money of this worker's lease of ``key`` to the database now (what
        is held by requests in flight or waits to be billed stays); the amount returned."""
        lease = self._leases.get(key)
        if lease is None or lease.available <= 0:
            return 0
        async with self.lock(key):
            lease = self._leases.get(key)
            if lease is None or not lease.alive or lease.available <= 0:
                return 0
            amount, lease.available = lease.available, 0
            try:
                kept = await return_lease(self._db, self.owner, lease.row_id, amount)
            except BaseException:
                lease.available += amount  # rolled back: the row still holds it
                raise
            if not kept:
                self.retire(lease)  # swept meanwhile: its money went back already
            return amount

    async def held_elsewhere(self, key: Key) -> int:
        """What other workers' leases of ``key`` hold (free, reserved or unbilled)."""
        return await leased_by_others(self._db, self.owner, *key)

    def forget_refusal(self, key: Key) -> None:
        """The database may cover ``key`` again (money came back): ask it anew."""
        self._refused.pop(key, None)

    def retire(self, lease: Lease) -> None:
        """Forget a lease whose row is gone; reservations on it settle directly."""
        lease.alive = False
        if self._leases.get((lease.subject, lease.subject_id)) is lease:
            del self._leases[(lease.subject, lease.subject_id)]
        self._by_row.pop(lease.row_id, None)

    async def renew(self) -> None:
        """Push the expiry of the leases held; forget the ones that were swept."""
        held = list(self._leases.values())
        if not held:
            return
        alive = await renew_leases(self._db, self.owner, self._ttl)
        for lease in held:
            if lease.row_id not in alive:
                self.retire(lease)

    async def return_idle(self, idle_after: float) -> int:
        """Give back leases untouched for ``idle_after`` s with nothing in flight; how many.

        A lease taken near exhaustion goes back after at most ``SCARCE_IDLE_AFTER``: other
        workers may be refusing requests that its money could pay for.
        """
        returned = 0
        for key, lease in list(self._leases.items()):
            cutoff = self._clock() - (
                min(idle_after, SCARCE_IDLE_AFTER) if lease.scarce else idle_after
            )
            if _idle(lease, cutoff):
                async with self.lock(key):
                    returned += await self._return(lease, cutoff)
        return returned

    async def _return(self, lease: Lease, cutoff: float) -> int:
        if not lease.alive or not _idle(lease, cutoff):
            return 0
        amount, lease.available = lease.available, 0
        self.retire(lease)
        try:
            gone = not await return_lease(
                self._db, self.owner, lease.row_id, amount, drop_if_empty=True
            )
        except Exception:
            lease.alive, lease.available = True, amount  # rolled back: the row still holds it
            self._leases[(lease.subject, lease.subject_id)] = lease
            self._by_row[lease.row_id] = lease
            raise
        return 0 if gone else 1

    async def return_all(self) -> None:
        """Forget every lease and give all of this owner's lease rows back."""
        for lease in list(self._leases.values()):
            self.retire(lease)
        await return_all_leases(self._db, self.owner)

    def _shortage(self, key: Key, amount: int, remaining: int) -> InsufficientQuota:
        lease = self._leases.get(key)
        left = format_usd(max(remaining, 0) + (lease.available if lease is not None else 0))
        what = "this API key's quota" if key[0] == TOKEN else "the account's balance"
        return InsufficientQuota(
            f"insufficient quota: {what} cannot cover this request"
            f" ({left} USD left, up to {format_usd(amount)} USD needed)"
        )


def _idle(lease: Lease, cutoff: float) -> bool:
    return lease.touched <= cutoff and lease.reserved == 0 and lease.pending == 0
