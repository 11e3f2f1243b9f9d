"""CPU time and resident memory of a process and all its descendants, read from /proc.

Linux only. The router runs as a supervisor process with Hypercorn worker children, so
every figure is a sum over the whole tree, found afresh at each reading.
"""

from __future__ import annotations

import os
import resource
import threading
import time
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class TreeSample:
    """One reading of a process tree: CPU seconds (user + system) and RSS bytes."""

    pids: tuple[int, ...]
    cpu_seconds: float
    rss_bytes: int
    rss_by_pid: dict[int, int]


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name; index 0 is the state (field 3)."""
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores, from /proc/stat)."""
    fields = (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def process_tree(root: int) -> tuple[int, ...]:
    """``root`` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry.name))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return tuple(found)


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _rss_bytes(pid: int) -> int:
    return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE_SIZE


def sample_tree(root: int) -> TreeSample:
    """CPU and RSS summed over ``root``'s tree (processes that vanish mid-read are skipped)."""
    cpu, rss = 0.0, {}
    for pid in process_tree(root):
        try:
            cpu += _cpu_seconds(pid)
            rss[pid] = _rss_bytes(pid)
        except (OSError, ValueError, IndexError):
            continue
    return TreeSample(tuple(rss), cpu, sum(rss.values()), rss)


def command_line(pid: int, limit: int = 120) -> str:
    """The process's command line (shortened), '' if it is gone."""
    try:
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:limit]


def _own_cpu_seconds() -> float:
    """This script's CPU plus that of its children it has waited for (wrk runs)."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


class CpuWindow:
    """CPU spent during a ``with`` block by each of some process trees, and by everything
    outside the bench (``other_cores``: average cores busy with foreign work, i.e. noise).
    """

    def __init__(self, roots: tuple[int, ...]) -> None:
        self.roots = roots
        self.spent: dict[int, float] = {}
        self.other_cores = 0.0

    def __enter__(self) -> CpuWindow:
        self._start = self._read()
        return self

    def __exit__(self, *exc: object) -> None:
        (t0, busy0, own0, trees0), (t1, busy1, own1, trees1) = self._start, self._read()
        self.spent = {root: trees1[root] - trees0[root] for root in self.roots}
        ours = sum(self.spent.values()) + own1 - own0
        self.other_cores = max(0.0, busy1 - busy0 - ours) / max(t1 - t0, 1e-9)

    def _read(self) -> tuple[float, float, float, dict[int, float]]:
        trees = {root: sample_tree(root).cpu_seconds for root in self.roots}
        return time.monotonic(), machine_busy_seconds(), _own_cpu_seconds(), trees


class PeakRss:
    """Samples a tree's RSS in a background thread while in use; ``peak`` is the maximum."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self.root, self.interval, self.peak = root, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, sample_tree(self.root).rss_bytes)
