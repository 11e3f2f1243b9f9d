"""What the relay uses of the worker, as a protocol: the relay never imports the runtime.

``Runtime`` satisfies it; tests may hand the relay anything else that does.
"""

from __future__ import annotations

from typing import Protocol

from burncloud.config import Settings
from burncloud.gateway.billing.ledger import Ledger
from burncloud.gateway.billing.logwriter import LogWriter
from burncloud.gateway.egress.fetcher import SafeFetcher
from burncloud.gateway.egress.transport import Transport
from burncloud.gateway.fleet.health import HealthBook
from burncloud.gateway.fleet.limits import FleetRateLimiter
from burncloud.gateway.metrics import RouterMetrics
from burncloud.gateway.relay.affinity import AffinityBook
from burncloud.gateway.relay.estimate import TokenEstimator
from burncloud.gateway.relay.failover import FailoverPolicy
from burncloud.gateway.relay.routing import ChannelSelector
from burncloud.gateway.snapshot import Snapshot


class RelayDeps(Protocol):
    """The worker's services one relayed request may use."""

    @property
    def settings(self) -> Settings: ...
    @property
    def transport(self) -> Transport: ...
    @property
    def estimator(self) -> TokenEstimator: ...
    @property
    def fetcher(self) -> SafeFetcher: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def limiter(self) -> FleetRateLimiter: ...
    @property
    def selector(self) -> ChannelSelector: ...
    @property
    def health(self) -> HealthBook: ...
    @property
    def affinity(self) -> AffinityBook: ...
    @property
    def failover(self) -> FailoverPolicy: ...
    @property
    def logs(self) -> LogWriter: ...
    @property
    def metrics(self) -> RouterMetrics: ...

    def snapshot(self) -> Snapshot:
        """The configuration the worker serves now."""
        ...

    def report_unusable(self, channel_id: int, key_id: int, reason: str) -> None:
        """A channel's key the upstream declared unusable (invalid, no credit)."""
        ...
