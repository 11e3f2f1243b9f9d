"""The router's Prometheus metrics: one call per finished request (``doors.metrics`` serves them).

With several workers prometheus-client runs in multi-process mode: every worker writes its
values to memory-mapped files in the directory named by ``PROMETHEUS_MULTIPROC_DIR``, which
``serve`` creates (``multiprocess_dir``) before the workers start, because prometheus-client
reads the variable once, when a process first imports it. A scrape, answered by any worker,
merges every worker's files, so counters are summed over the workers (dead ones included,
so they never go backwards) and the live gauges over the workers still running.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_TOKEN_ENV = "BURNCLOUD_METRICS_TOKEN"
# Whole LLM calls: from a cached embedding (50 ms) to a long reasoning answer (5 minutes).
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300)
TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)
# Model names come from clients (a 404 names any model it likes): past this many distinct
# names a worker files new ones under OTHER_MODEL, so a client cannot flood the scrape.
MAX_MODELS = 1000
OTHER_MODEL = "(other)"

_REQUEST_LABELS = ("model", "channel", "endpoint", "status", "stream")
_Key = tuple[str, int | None, str, int, bool]  # model, channel id, endpoint, status, stream


@dataclass(frozen=True, slots=True)
class _Usage:
    """The children a request with tokens, cost or a first byte updates."""

    input_tokens: Counter
    output_tokens: Counter
    spend: Counter
    ttft: Histogram


@dataclass(slots=True)
class _Series:
    """The labelled children one kind of request updates, looked up once and kept; the
    usage ones only once such a request used something, so that requests refused before
    any channel (a 404 for a made-up model) add no zero token, spend or TTFT series."""

    requests: Counter
    duration: Histogram
    usage: _Usage | None = None


class RouterMetrics:
    """One worker's metrics and the registry a scrape renders."""

    def __init__(self) -> None:
        directory = os.environ.get(MULTIPROC_ENV) or None
        self.multiprocess_dir = directory
        self.registry = CollectorRegistry()
        # In multi-process mode the values live in files, read back by the collector.
        own = None if directory else self.registry
        self._requests = Counter(
            "burncloud_requests", "Finished relay requests.", _REQUEST_LABELS, registry=own
        )
        self._tokens = Counter(
            "burncloud_tokens",
            "Billed tokens, input (prompt) and output (completion).",
            ("model", "channel", "direction"),
            registry=own,
        )
        self._spend = Counter(
            "burncloud_spend_usd", "Billed cost in USD.", ("model", "channel"), registry=own
        )
        self._duration = Histogram(
            "burncloud_request_duration_seconds",
            "Relay request duration, to the last byte.",
            ("model", "endpoint", "stream"),
            buckets=DURATION_BUCKETS,
            registry=own,
        )
        self._ttft = Histogram(
            "burncloud_ttft_seconds",
            "Time to the upstream's first byte.",
            ("model",),
            buckets=TTFT_BUCKETS,
            registry=own,
        )
        self._in_flight = Gauge(
            "burncloud_in_flight_requests",
            "Relay requests being served.",
            registry=own,
            multiprocess_mode="livesum",
        )
        # livemax: 1 while any running worker still routes to the channel (they all
        # reload within a poll interval); a dead worker's last word does not count.
        self._channel_up = Gauge(
            "burncloud_channel_up",
            "1 if the channel is enabled, 0 if disabled or auto-disabled.",
            ("channel",),
            registry=own,
            multiprocess_mode="livemax",
        )
        if directory:
            # prometheus_client ships this constructor without annotations
            MultiProcessCollector(self.registry, path=directory)  # type: ignore[no-untyped-call]
        self._series: dict[_Key, _Series] = {}
        self._models: set[str] = set()
        self._channels: set[int] = set()

    def request_started(self) -> None:
        """Count a relay request in flight until its ``request_finished``."""
        self._in_flight.inc()

    def request_finished(
        self,
        model: str,
        channel_id: int | None,
        endpoint: str,
        status: int,
        stream: bool,
        prompt_tokens: int,
        completion_tokens: int,
        cost_nano_usd: int,
        latency_s: float,
        ttft_s: float | None,
    ) -> None:
        """Record one finished request (the relay's only call per request besides the start)."""
        self._in_flight.dec()
        key = (model, channel_id, endpoint, status, stream)
        series = self._series.get(key) or self._new_series(key)
        series.requests.inc()
        series.duration.observe(latency_s)
        if not (prompt_tokens or completion_tokens or cost_nano_usd or ttft_s is not None):
            return
        usage = series.usage or self._new_usage(key, series)
        if prompt_tokens:
            usage.input_tokens.inc(prompt_tokens)
        if completion_tokens:
            usage.output_tokens.inc(completion_tokens)
        if cost_nano_usd:
            usage.spend.inc(cost_nano_usd / 1e9)
        if ttft_s is not None:
            usage.ttft.observe(ttft_s)

    def set_channel_states(self, states: Mapping[int, bool]) -> None:
        """Set channel_up from the configuration (id -> enabled); channels gone read 0."""
        for channel_id in self._channels - states.keys():
            self._channel_up.labels(str(channel_id)).set(0)
        for channel_id, enabled in states.items():
            self._channel_up.labels(str(channel_id)).set(1 if enabled else 0)
        self._channels.update(states)

    def render(self) -> bytes:
        """The Prometheus text exposition of every worker's metrics."""
        return generate_latest(self.registry)

    def close(self) -> None:
        """At worker exit: drop this worker's live gauges (in flight, channel up)."""
        if self.multiprocess_dir:
            # prometheus_client ships this function without annotations
            mark_process_dead(os.getpid(), self.multiprocess_dir)  # type: ignore[no-untyped-call]

    def _new_series(self, key: _Key) -> _Series:
        model, channel_id, endpoint, status, stream = key
        name = self._bounded_model(model)
        channel = "" if channel_id is None else str(channel_id)
        flag = "true" if stream else "false"
        series = _Series(
            requests=self._requests.labels(name, channel, endpoint, str(status), flag),
            duration=self._duration.labels(name, endpoint, flag),
        )
        if name is not OTHER_MODEL:  # keep the cache as bounded as the series
            self._series[key] = series
        return series

    def _new_usage(self, key: _Key, series: _Series) -> _Usage:
        name = self._bounded_model(key[0])
        channel = "" if key[1] is None else str(key[1])
        series.usage = _Usage(
            input_tokens=self._tokens.labels(name, channel, "input"),
            output_tokens=self._tokens.labels(name, channel, "output"),
            spend=self._spend.labels(name, channel),
            ttft=self._ttft.labels(name),
        )
        return series.usage

    def _bounded_model(self, model: str) -> str:
        if model in self._models:
            return model
        if len(self._models) >= MAX_MODELS:
            return OTHER_MODEL
        self._models.add(model)
        return model


@contextmanager
def multiprocess_dir(workers: int) -> Iterator[Path | None]:
    """For several workers, a fresh directory for their metric files, exported to them in
    PROMETHEUS_MULTIPROC_DIR and removed when the router stops; one worker keeps its
    metrics in memory (None). Enter it before the workers start."""
    if workers <= 1:
        yield None
        return
    shm = Path("/dev/shm")
    parent = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix="burncloud-metrics-", dir=parent))
    previous = os.environ.get(MULTIPROC_ENV)
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop(MULTIPROC_ENV, None)
        else:
            os.environ[MULTIPROC_ENV] = previous
        shutil.rmtree(path, ignore_errors=True)
