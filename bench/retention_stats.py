"""``burncloud stats`` before and after the prune, and what may differ between the two.

Each snapshot runs the CLI (``stats --since W --by B --json``) for every window and
breakdown. Between the two the router served the bench's own traffic, so the comparison
leaves that traffic out: every row of the history (its models, channels, tokens and
users) must read the same, field for field, and the totals must equal the earlier ones plus
the bench's rows. The latency percentiles are left out of both: they come from a sample of
the window's newest requests, which the bench's traffic replaces.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

from gateway import burncloud_command

WINDOWS = ("7d", "150d")
BREAKDOWNS = ("model", "channel", "token", "user")
SAMPLED = {"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "sampled", "error_rate"}
ADDITIVE = (
    "requests", "errors", "prompt_tokens", "completion_tokens", "cost", "revenue",
    "upstream_unknown", "upstream_unknown_revenue",
)  # fmt: skip

Snapshot = dict[str, dict[str, Any]]  # "7d/model" -> stats --json


def cli(env: Mapping[str, str], cwd: Path, *args: str, timeout: float = 600) -> str:
    """Run ``burncloud ARGS``; its stdout (RuntimeError with stderr if it fails)."""
    done = subprocess.run(
        [*burncloud_command(), *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"burncloud {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def snapshot(env: Mapping[str, str], cwd: Path) -> Snapshot:
    return {
        f"{window}/{by}": json.loads(
            cli(env, cwd, "stats", "--since", window, "--by", by, "--json")
        )
        for window in WINDOWS
        for by in BREAKDOWNS
    }


def compare(before: Snapshot, after: Snapshot, bench_keys: Mapping[str, set[str]]) -> list[str]:
    """What differs beyond the bench's own traffic (empty: the prune changed nothing)."""
    problems: list[str] = []
    for name, earlier in before.items():
        by = name.split("/")[1]
        later = after[name]
        old = _history_rows(earlier, bench_keys[by])
        new = _history_rows(later, bench_keys[by])
        if old != new:
            changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
            problems.append(f"{name}: history rows differ for keys {changed[:10]}")
        if by == "model":
            problems += _totals_problems(name, earlier, later, bench_keys[by])
    return problems


def history_requests(snap: Snapshot, name: str, bench: set[str]) -> int:
    """The history's requests in one breakdown (for the report)."""
    return sum(row["requests"] for row in snap[name]["rows"] if row["key"] not in bench)


def _history_rows(data: dict[str, Any], bench: set[str]) -> dict[str, dict[str, Any]]:
    return {
        row["key"]: {k: v for k, v in row.items() if k not in SAMPLED}
        for row in data["rows"]
        if row["key"] not in bench
    }


def _totals_problems(
    name: str, earlier: dict[str, Any], later: dict[str, Any], bench: set[str]
) -> list[str]:
    """Totals after = totals before + the bench's rows, for each additive field."""
    ours = [row for row in later["rows"] if row["key"] in bench]
    problems = []
    for field in ADDITIVE:
        added = sum((_number(row[field]) for row in ours), Decimal(0))
        before, after = _number(earlier["totals"][field]), _number(later["totals"][field])
        if before + added != after:
            problems.append(f"{name}: totals {field} {before} + bench {added} != {after}")
    return problems


def _number(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)
