"""A router's worker processes, seen from outside through /proc (Linux): which they are,
how much memory one holds, and which one serves a given connection."""

from __future__ import annotations

import os
import subprocess
import time
from contextlib import suppress


def worker_pids(router: subprocess.Popen) -> set[int]:
    """The supervisor's child processes: its workers."""
    children = f"/proc/{router.pid}/task/{router.pid}/children"
    with open(children) as listing:
        return {int(pid) for pid in listing.read().split()}


def wait_for_workers(
    router: subprocess.Popen, count: int, without: set[int] = frozenset(), within: float = 30.0
) -> set[int]:
    """Poll until the router has ``count`` workers, none of them in ``without``."""
    deadline = time.monotonic() + within
    while True:
        pids = worker_pids(router)
        if len(pids) == count and not pids & without:
            return pids
        assert time.monotonic() < deadline, f"workers {pids}, wanted {count} without {without}"
        time.sleep(0.05)


def rss_bytes(pid: int) -> int:
    """The process's resident memory."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise LookupError(f"no VmRSS for {pid}")


def serving_worker(router_port: int, client_port: int, workers: set[int]) -> int | None:
    """Which of ``workers`` holds the router's end of the connection a client made from
    ``client_port`` (None: no worker has accepted it)."""
    inode = _router_end(router_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in workers:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with suppress(FileNotFoundError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return pid
    return None


def _router_end(router_port: int, client_port: int) -> int | None:
    """The inode of the socket on ``router_port`` connected to ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as rows:
            next(rows)
            for row in rows:
                local, remote, inode = (row.split()[i] for i in (1, 2, 9))
                ports = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16))
                if ports == (router_port, client_port) and inode != "0":
                    return int(inode)
    return None
