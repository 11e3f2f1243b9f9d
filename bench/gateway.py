"""The router under test: a fresh SQLite database seeded through the burncloud CLI, and
``burncloud router`` run as a subprocess in front of the fake upstream.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from processes import Supervisor
from upstream import CHAT_PATH, NO_PROXY, STREAM_PATH, Upstream, post

CHAT_MODEL = "bench-chat"
STREAM_MODEL = "bench-stream"


@dataclass(frozen=True, slots=True)
class Deployment:
    """A seeded database: where it is and the client key to call the router with."""

    workdir: Path
    database: Path
    key: str
    token_id: int

    @property
    def env(self) -> dict[str, str]:
        # The workers' shared state lives in the bench's temp dir, removed with it.
        state = self.database.with_suffix(".state")
        return {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{self.database}",
            "BURNCLOUD_STATE_FILE": str(state),
        }


@dataclass(frozen=True, slots=True)
class Router:
    port: int
    pid: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def burncloud_command() -> list[str]:
    """How to run the CLI: this interpreter's package, else ``burncloud`` on PATH."""
    if importlib.util.find_spec("burncloud") is not None:
        return [sys.executable, "-m", "burncloud"]
    found = shutil.which("burncloud")
    if found is None:
        raise RuntimeError("burncloud is not installed: run with the venv's python")
    return [found]


def _cli(deployment_dir: Path, database: Path, *args: str) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    done = subprocess.run(
        [*burncloud_command(), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=deployment_dir,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"burncloud {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def seed(workdir: Path, upstream: Upstream, quota: str) -> Deployment:
    """Prices, two channels (non-stream and stream location), a user and a token."""
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "burncloud.db"
    for model in (CHAT_MODEL, STREAM_MODEL):
        _cli(workdir, database, "price", "set", model, "--input", "2.5", "--output", "10")
    for model, path in ((CHAT_MODEL, CHAT_PATH), (STREAM_MODEL, STREAM_PATH)):
        base_url = upstream.base + path.removesuffix("/chat/completions")
        _cli(
            workdir, database, "channel", "add", "--type", "openai-compatible",
            "--name", f"nginx-{model}", "--key", "sk-upstream-bench", "--models", model,
            "--base-url", base_url,
        )  # fmt: skip
    _cli(workdir, database, "user", "add", "bench", "--balance", quota)
    created = json.loads(
        _cli(workdir, database, "token", "create", "--name", "bench", "--user", "bench",
             "--quota", quota, "--json")
    )  # fmt: skip
    return Deployment(workdir, database, created["key"], int(created["id"]))


def start_router(
    supervisor: Supervisor, deployment: Deployment, port: int, workers: int, server: str
) -> tuple[Router, subprocess.Popen[bytes]]:
    """Run ``burncloud router`` and wait until /healthz answers."""
    log = deployment.workdir / "router.log"
    command = [
        *burncloud_command(), "router", "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--grace", "10", "--server", server,
    ]  # fmt: skip
    child = supervisor.spawn(command, log=log, env=deployment.env, cwd=deployment.workdir)
    router = Router(port, child.pid, log)
    deadline = time.monotonic() + 60
    while not _healthy(router):
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the router did not start:\n{tail(log)}")
        time.sleep(0.1)
    return router, child


def _healthy(router: Router) -> bool:
    try:
        with NO_PROXY.open(router.base + "/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def log_problems(path: Path) -> list[str]:
    """Lines of the router's output that report an error or a traceback."""
    markers = ("ERROR", "CRITICAL", "Traceback", "Exception")
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line for line in text.splitlines() if any(m in line for m in markers)]


def log_summary(deployment: Deployment) -> dict[str, object]:
    """Log rows by status and stream, and whether the token's ``used`` equals their costs."""
    with sqlite3.connect(f"file:{deployment.database}?mode=ro", uri=True) as db:
        groups = db.execute(
            "SELECT status, stream, COUNT(*) FROM logs GROUP BY status, stream ORDER BY 1, 2"
        ).fetchall()
        logged = db.execute(
            "SELECT COALESCE(SUM(cost), 0) FROM logs WHERE token_id = ?", (deployment.token_id,)
        ).fetchone()[0]
        used = db.execute(
            "SELECT used FROM tokens WHERE id = ?", (deployment.token_id,)
        ).fetchone()[0]
    return {
        "rows": sum(count for _, _, count in groups),
        "by_status": [
            {"status": status, "stream": bool(stream), "rows": count}
            for status, stream, count in groups
        ],
        "token_used": used,
        "sum_of_logged_costs": logged,
        "used_matches_logs": used == logged,
    }


def check_router(router: Router, key: str) -> None:
    """One non-stream and one stream request through the router answer 200 and look right."""
    status, _, body = post(router.base + CHAT_PATH, _body("chat.json"), key)
    if status != 200 or b'"chat.completion"' not in body:
        raise RuntimeError(f"router chat check failed: {status} {body[:300]!r}")
    status, _, body = post(router.base + CHAT_PATH, _body("chat_stream.json"), key)
    stream_ok = body.endswith(b"data: [DONE]\n\n") and b'"usage":{' not in body
    if status != 200 or not stream_ok:
        raise RuntimeError(f"router stream check failed: {status} {body[:300]!r}")


def _body(name: str) -> bytes:
    return (Path(__file__).resolve().parent / "fixtures" / name).read_bytes()
