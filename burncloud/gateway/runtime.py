"""Everything one router worker owns for its lifetime: opened at startup, closed at shutdown.

Storage fails loudly: a worker whose database cannot take a write refuses to start (the
reason is the startup failure); log rows it cannot write by the end of the grace period
are spilled to a file that the next start replays (``log_spill``), and a stop that cannot
even spill them raises, naming what was lost, so the process does not exit 0.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from burncloud.config import Settings
from burncloud.crypto import SecretBox
from burncloud.db import Database, open_database, parse_database_url
from burncloud.errors import StorageUnavailable
from burncloud.gateway.billing.ledger import Ledger, make_owner
from burncloud.gateway.billing.log_spill import (
    describe_lost,
    replay_spills,
    spill_place,
    write_spill,
)
from burncloud.gateway.billing.logwriter import LogRecord, LogWriter
from burncloud.gateway.egress.fetcher import SafeFetcher, policy_for
from burncloud.gateway.egress.transport import AiohttpTransport, Transport
from burncloud.gateway.egress.upstream_guard import check_base_url
from burncloud.gateway.fleet.affinity_store import open_sessions
from burncloud.gateway.fleet.health import HealthBook
from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.fleet.notices import FleetNotices
from burncloud.gateway.fleet.rate_limit import SharedRateLimiter
from burncloud.gateway.fleet.redis_link import RedisLink
from burncloud.gateway.fleet.shared_state import Record, SharedState, claim_turn, open_shared_state
from burncloud.gateway.fleet.state_sweeper import StateSweeper
from burncloud.gateway.metrics import RouterMetrics
from burncloud.gateway.relay.affinity import AffinityBook
from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.gateway.relay.failover import FailoverPolicy
from burncloud.gateway.relay.routing import ChannelSelector
from burncloud.gateway.snapshot import ConfigCache, Snapshot
from burncloud.gateway.upkeep.alert_presence import RouterPresence, router_name
from burncloud.gateway.upkeep.alert_sender import AlertSender
from burncloud.gateway.upkeep.alert_watcher import AlertWatcher
from burncloud.gateway.upkeep.balance_refresher import BalanceRefresher
from burncloud.gateway.upkeep.disabler import ChannelDisabler
from burncloud.gateway.upkeep.log_pruner import LogPruner
from burncloud.gateway.upkeep.model_syncer import ModelSyncer, TransportGetter
from burncloud.gateway.upkeep.probe import probe_channel
from burncloud.gateway.upkeep.prober import Prober
from burncloud.gateway.upkeep.response_pruner import ResponsePruner
from burncloud.services.audit import acting_as, local_actor
from burncloud.services.bootstrap import announce_admin_key, ensure_admin
from burncloud.services.channels import Channel
from burncloud.services.secret_box import open_secret_box

log = logging.getLogger("burncloud.router")


class Runtime:
    """The database, config cache, upstream HTTP pool, quota ledger, log writer, and the
    routing state shared with the other workers (breakers, round robin, rate limits)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.owner = make_owner()
        self._db: Database | None = None
        self._log_db: Database | None = None
        self._box: SecretBox | None = None
        self._cache: ConfigCache | None = None
        self._transport: Transport | None = None
        self._ledger: Ledger | None = None
        self._logs: LogWriter | None = None
        self._fetcher: SafeFetcher | None = None
        self._disabler: ChannelDisabler | None = None
        self._prober: Prober | None = None
        self._sweeper: StateSweeper | None = None
        self._pruner: ResponsePruner | None = None
        self._log_pruner: LogPruner | None = None
        self._model_syncer: ModelSyncer | None = None
        self._balances: BalanceRefresher | None = None
        self._alert_sender: AlertSender | None = None
        self._alert_watcher: AlertWatcher | None = None
        self._presence: RouterPresence | None = None
        # Shared with this router's other workers when the parent made a state file.
        self.state: SharedState = open_shared_state()
        # A fleet of routers shares rate limits, round-robin turns, breaker openings and
        # config notices through Redis when one is set.
        self.redis = (
            RedisLink(settings.redis_url, settings.redis_prefix) if settings.redis_url else None
        )
        self.notices = (
            None
            if self.redis is None
            else FleetNotices(
                self.redis,
                self.owner,
                self._config_notice,
                self._breaker_notice,
                self._recall_notice,
            )
        )
        self._giving_back: set[asyncio.Task[int]] = set()
        self.selector = ChannelSelector(self.state, link=self.redis)
        self.health = HealthBook(self.state, on_open=self._breaker_opened)
        self.failover = FailoverPolicy(settings.failover_attempts, settings.failover_deadline)
        self.limiter = FleetRateLimiter(SharedRateLimiter(self.state), self.redis)
        # Conversations pinned to a channel and key: a bounded table of their own (shared
        # by this router's workers when the parent made one), and the fleet's Redis.
        self.sessions = open_sessions()
        self.affinity = AffinityBook(self.sessions, self.redis, settings.session_ttl)
        self.estimator = TokenEstimator()  # loads a vocabulary only when first needed
        self.metrics = RouterMetrics()

    async def start(self) -> None:
        if self.redis is not None:
            await self.redis.start()
        self._db = await _open_writable(self.settings.database_url)
        await replay_spills(self._db, spill_place(self.settings))
        self._box = await open_secret_box(self._db, self.settings.secret)
        recall = self.notices.recall if self.notices is not None else None
        self._ledger = Ledger(self._db, self.owner, recall=recall, timezone=self.settings.timezone)
        self._cache = ConfigCache(
            self._db,
            self._box,
            interval=self.settings.config_poll_seconds,
            on_reload=self._reloaded,
        )
        await self._cache.start()
        if self.notices is not None:
            await self.notices.start()
        await self._note_channel_states()
        self._transport = AiohttpTransport.open(self.settings.allow_private_upstreams)
        self._fetcher = SafeFetcher(allow=policy_for(self.settings.fetch_allow_private))
        await self._fetcher.start()
        await self._ledger.start()
        self._log_db = await _writer_connection(self._db)
        self._logs = LogWriter(self._log_db, self._ledger)
        await self._logs.start()
        self._disabler = ChannelDisabler(self._db)
        await self._disabler.start()
        self._prober = Prober(self._db, self._probe, interval=self.settings.probe_seconds)
        await self._prober.start()
        self._sweeper = StateSweeper(self.state)
        await self._sweeper.start()
        self._pruner = ResponsePruner(self._db, self.state)
        await self._pruner.start()
        self._log_pruner = LogPruner(self._db, self.state, self.settings.log_retention_days)
        await self._log_pruner.start()
        await self._start_channel_upkeep(self._db, self._box, self._transport)
        await self._start_alerts(self._db, self._box)

    async def _start_channel_upkeep(
        self, db: Database, box: SecretBox, transport: Transport
    ) -> None:
        """Channels' periodic model syncs and upstream balance checks (each once per channel
        and interval across the fleet)."""
        settings = self.settings
        self._model_syncer = ModelSyncer(db, box, TransportGetter(transport), self.state)
        await self._model_syncer.start()
        self._balances = BalanceRefresher(
            db,
            box,
            self.state,
            transport,
            every=settings.balance_every,
            alert_below=settings.balance_alert_below,
            check_url=partial(check_base_url, allow_private=settings.allow_private_upstreams),
        )
        await self._balances.start()

    async def _start_alerts(self, db: Database, box: SecretBox) -> None:
        """Alerts in the background: this worker's sender, the fleet's watcher, and this
        router's presence in the fleet (joining now)."""
        settings = self.settings
        self._alert_sender = AlertSender(
            db,
            box,
            self.owner,
            poll=settings.alert_poll_seconds,
            timeout=settings.alert_timeout,
            retry_base=settings.alert_retry_seconds,
            allow_private=settings.allow_private_upstreams,
            check_url=partial(check_base_url, allow_private=settings.allow_private_upstreams),
        )
        await self._alert_sender.start()
        self._alert_watcher = AlertWatcher(
            db,
            self.state,
            interval=settings.alert_watch_seconds,
            timezone=settings.timezone,
            error_rate=settings.alert_error_rate,
        )
        await self._alert_watcher.start()
        self._presence = RouterPresence(db, self.state, router_name(settings.port))
        if await self._presence.start():
            self._alert_sender.poke()

    async def stop(self) -> None:
        """Flush logs and settlements (spilling what cannot be written), return leases,
        close everything; safe to call twice. StorageUnavailable, after closing everything,
        when log rows could be neither written nor spilled."""
        services = (
            self._balances,
            self._model_syncer,
            self._presence,
            self._alert_watcher,
            self._alert_sender,
            self._log_pruner,
            self._pruner,
            self.notices,
            self._sweeper,
            self._prober,
            self._disabler,
        )
        for service in services:
            if service is not None:
                await service.stop()
        if self._giving_back:
            await asyncio.gather(*self._giving_back, return_exceptions=True)
        await self.limiter.drain()
        await self.affinity.drain()
        lost = await self._stop_logs()
        if self._log_db is not None and self._log_db is not self._db:
            await self._log_db.close()
        if self._ledger is not None:
            await self._ledger.stop()
        if self._cache is not None:
            await self._cache.stop()
        if self._transport is not None:
            await self._transport.close()
        if self._fetcher is not None:
            await self._fetcher.close()
        if self._db is not None:
            await self._db.close()
        if self.redis is not None:
            await self.redis.close()
        self._logs = self._ledger = self._cache = self._transport = self._fetcher = None
        self._disabler = self._prober = self._sweeper = self._pruner = None
        self._alert_sender = self._alert_watcher = self._presence = None
        self._model_syncer = self._balances = None
        self._db = self._log_db = None
        self.metrics.close()
        self.sessions.close()
        if lost is not None:
            raise StorageUnavailable(lost)

    @property
    def balances(self) -> BalanceRefresher:
        """Upstream balance checks: the periodic refresher, and the admin API's check now."""
        assert self._balances is not None
        return self._balances

    @property
    def storage_problem(self) -> str | None:
        """Why the database is not taking this worker's log rows now, if it is not."""
        return None if self._logs is None else self._logs.failing

    async def _stop_logs(self) -> str | None:
        """Write the last log rows, retrying through the grace period, and spill the rest;
        what was lost if even that failed."""
        if self._logs is None:
            return None
        await self._logs.stop(retry_for=self.settings.grace_period)
        return self._spill(self._logs.take_unwritten())

    def _spill(self, rows: list[LogRecord]) -> str | None:
        """Spill ``rows`` to a file for the next start; what was lost if even that fails."""
        if not rows:
            return None
        place = spill_place(self.settings)
        try:
            path = write_spill(place, rows)
        except OSError as exc:
            lost = f"lost {describe_lost(rows)}: cannot write a spill file in {place.directory}"
            log.critical("%s: %s", lost, exc)
            return lost
        log.error(
            "the database took no log rows in the grace period: spilled %d rows to %s;"
            " the next start writes them to the database",
            len(rows),
            path,
        )
        return None

    async def _reloaded(self) -> None:
        """A config change may have cancelled leases (an operator set a quota): re-check
        them; and /metrics shows the channels' new status."""
        assert self._ledger is not None
        await self._ledger.renew()
        await self._note_channel_states()

    async def _note_channel_states(self) -> None:
        rows = await self.db.fetch_all("SELECT id, status FROM channels")
        self.metrics.set_channel_states({row["id"]: row["status"] == "enabled" for row in rows})

    def config_changed(self) -> None:
        """This worker changed the configuration: reload now, and tell the fleet."""
        if self._cache is not None:
            self._cache.poke()
        if self.notices is not None:
            self.notices.config_changed()

    def _config_notice(self) -> None:
        if self._cache is not None:
            self._cache.poke()

    def _breaker_notice(self, key: str, opened: Record) -> None:
        self.health.adopt(key, opened)

    def _recall_notice(self, key: tuple[str, int]) -> None:
        """Another router needs this subject's money: give back our free part of it."""
        if self._ledger is None:
            return
        task = asyncio.get_running_loop().create_task(self._give_back(key))
        self._giving_back.add(task)
        task.add_done_callback(self._giving_back.discard)

    async def _give_back(self, key: tuple[str, int]) -> int:
        try:
            assert self._ledger is not None
            return await self._ledger.give_back(key)
        except Exception:
            log.exception("could not give lease money back for %s %s", *key)
            return 0

    def _breaker_opened(self, key: str, opened: Record) -> None:
        if self.notices is not None:
            self.notices.breaker_opened(key, opened)

    def report_unusable(self, channel_id: int, key_id: int, reason: str) -> None:
        """The upstream declared a channel's key unusable (invalid, no credit): disable it."""
        if self._disabler is not None:
            self._disabler.report(channel_id, key_id, reason)

    async def _probe(self, channel: Channel, key_id: int) -> bool:
        """One worker per key and round probes it (the claim is in the shared state)."""
        if not claim_turn(self.state, f"probe:{key_id}", self.settings.probe_seconds / 2):
            return False
        return await probe_channel(self.db, self.secret_box, self.transport, channel, key_id)

    def snapshot(self) -> Snapshot:
        assert self._cache is not None and self._cache.snapshot is not None
        return self._cache.snapshot

    @property
    def db(self) -> Database:
        """The worker's database, for the control plane (never read on the relay path)."""
        assert self._db is not None
        return self._db

    @property
    def secret_box(self) -> SecretBox:
        assert self._box is not None
        return self._box

    @property
    def transport(self) -> Transport:
        """The relay's upstream client (egress.transport)."""
        assert self._transport is not None
        return self._transport

    @property
    def fetcher(self) -> SafeFetcher:
        """Fetches client image URLs for providers that take only bytes (SSRF-safe)."""
        assert self._fetcher is not None
        return self._fetcher

    @property
    def alerts(self) -> AlertSender:
        """This worker's alert sender (the admin API's `test` sends through it)."""
        assert self._alert_sender is not None
        return self._alert_sender

    @property
    def ledger(self) -> Ledger:
        assert self._ledger is not None
        return self._ledger

    @property
    def logs(self) -> LogWriter:
        assert self._logs is not None
        return self._logs


async def _open_writable(url: str) -> Database:
    """The database, created, migrated and bootstrapped, after one write proves it takes
    writes: on a read-only, full or locked one every paid request would fail 503 while
    /healthz said ok, so the worker refuses to start instead, saying why."""
    try:
        db = await open_database(url)
    except StorageUnavailable as exc:
        raise _refusal(exc, url) from exc
    try:
        with acting_as(local_actor("router")):
            admin_key = await ensure_admin(db)
        if admin_key is not None:
            announce_admin_key(admin_key)  # the key itself only on a terminal, never a log
        async with db.transaction() as tx:
            await tx.execute(
                "INSERT INTO settings (key, value) VALUES ('storage_checked_at', :t)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                {"t": str(int(time.time()))},
            )
    except BaseException as exc:
        await db.close()
        if isinstance(exc, StorageUnavailable):
            raise _refusal(exc, url) from exc
        raise
    return db


def _refusal(exc: StorageUnavailable, url: str) -> StorageUnavailable:
    where = parse_database_url(url).display()
    return StorageUnavailable(f"refusing to start: {exc.message} ({where})")


async def _writer_connection(db: Database) -> Database:
    """The log writer's own SQLite connection, so quota-lease statements never queue
    behind a log flush on one connection (PostgreSQL's pool already gives each its own)."""
    if db.dialect != "sqlite":
        return db
    return await open_database(db.url, migrate=False)
