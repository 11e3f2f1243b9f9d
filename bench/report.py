"""Turning the runs into medians, one table, and a JSON file under bench/results/."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from load import WrkResult

MB = 1024 * 1024
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Scenario:
    """One load shape: a request body (stream or not) at a number of connections."""

    stream: bool
    connections: int

    @property
    def name(self) -> str:
        return f"{'stream' if self.stream else 'chat'} c={self.connections}"


@dataclass(slots=True)
class MeasuredRun:
    """A wrk run with the target's CPU time and peak RSS during it (router or nginx)."""

    wrk: WrkResult
    cpu_seconds: float
    peak_rss: int
    other_cores: float  # CPU used meanwhile by processes outside the bench: noise

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_seconds * 1000 / self.wrk.requests if self.wrk.requests else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            **self.wrk.as_dict(),
            "cpu_seconds": self.cpu_seconds,
            "cpu_ms_per_request": self.cpu_ms_per_request,
            "peak_rss_bytes": self.peak_rss,
            "other_cores": self.other_cores,
        }


@dataclass(slots=True)
class ScenarioRuns:
    scenario: Scenario
    direct: list[MeasuredRun] = field(default_factory=list)
    router: list[MeasuredRun] = field(default_factory=list)

    def summary(self, idle_rss: int) -> dict[str, float | int | str]:
        """Medians over rounds (errors summed, RSS peak is the maximum)."""
        direct_rps = _median(r.wrk.rps for r in self.direct)
        router_rps = _median(r.wrk.rps for r in self.router)
        direct_p50 = _median(r.wrk.p50_ms for r in self.direct)
        router_p50 = _median(r.wrk.p50_ms for r in self.router)
        return {
            "scenario": self.scenario.name,
            "rps_direct": direct_rps,
            "rps_router": router_rps,
            "ratio": router_rps / direct_rps if direct_rps else 0.0,
            "p50_direct_ms": direct_p50,
            "p99_direct_ms": _median(r.wrk.p99_ms for r in self.direct),
            "p50_router_ms": router_p50,
            "p99_router_ms": _median(r.wrk.p99_ms for r in self.router),
            "added_p50_ms": router_p50 - direct_p50,
            "added_p99_ms": _median(r.wrk.p99_ms for r in self.router)
            - _median(r.wrk.p99_ms for r in self.direct),
            "cpu_ms_per_request": _median(r.cpu_ms_per_request for r in self.router),
            "rss_idle_bytes": idle_rss,
            "rss_peak_bytes": max((r.peak_rss for r in self.router), default=0),
            "router_requests": sum(r.wrk.requests for r in self.router),
            "router_non_2xx": sum(r.wrk.non_2xx for r in self.router),
            "router_socket_errors": sum(r.wrk.socket_errors for r in self.router),
            "nginx_cpu_ms_per_request": _median(r.cpu_ms_per_request for r in self.direct),
            "other_cores_median": _median(r.other_cores for r in (*self.direct, *self.router)),
            "direct_non_2xx": sum(r.wrk.non_2xx for r in self.direct),
        }

    def as_dict(self, idle_rss: int) -> dict[str, object]:
        return {
            "summary": self.summary(idle_rss),
            "direct": [r.as_dict() for r in self.direct],
            "router": [r.as_dict() for r in self.router],
        }


def _median(values: Iterable[float]) -> float:
    items = list(values)
    return statistics.median(items) if items else 0.0


HEADER = (
    "workers", "scenario", "req/s direct", "req/s router", "ratio", "p50/p99 direct ms",
    "p50/p99 router ms", "added p50 ms", "CPU ms/req", "RSS MB idle->peak", "non-2xx/err",
)  # fmt: skip


def table_rows(configs: list[dict[str, object]]) -> list[tuple[str, ...]]:
    rows = []
    for config in configs:
        for scenario in config["scenarios"]:  # type: ignore[attr-defined]
            s = scenario["summary"]
            rows.append(
                (
                    f"{config['workers']} {config.get('server', 'hypercorn')}",
                    s["scenario"],
                    f"{s['rps_direct']:,.0f}",
                    f"{s['rps_router']:,.0f}",
                    f"{s['ratio']:.3f}",
                    f"{s['p50_direct_ms']:.3f} / {s['p99_direct_ms']:.3f}",
                    f"{s['p50_router_ms']:.3f} / {s['p99_router_ms']:.3f}",
                    f"{s['added_p50_ms']:+.3f}",
                    f"{s['cpu_ms_per_request']:.3f}",
                    f"{s['rss_idle_bytes'] / MB:.0f} -> {s['rss_peak_bytes'] / MB:.0f}",
                    f"{s['router_non_2xx']}/{s['router_socket_errors']}",
                )
            )
    return rows


def format_table(configs: list[dict[str, object]]) -> str:
    """A Markdown table (readable as plain text too)."""
    rows = [HEADER, *table_rows(configs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
             for row in rows]  # fmt: skip
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def save(result: dict[str, object]) -> Path:
    """Write ``result`` to bench/results/<UTC timestamp>.json and return the path."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("%Y%m%dT%H%M%SZ.json", time.gmtime())
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
