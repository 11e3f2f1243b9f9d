"""Peer gateways measured beside the router: Portkey's gateway (Node) and LiteLLM's proxy.

``setup`` installs both under ``bench/.peers/`` (gitignored): Portkey with npm into
``portkey/node_modules``, LiteLLM with pip into its own venv ``litellm-venv`` (never into
the bench's interpreter). ``start_portkey`` / ``start_litellm`` run one in front of the fake
upstream on 127.0.0.1, check one non-stream and one stream answer through it, and return a
``Peer``: where wrk sends each scenario, with which headers, key and request body.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from gateway import tail
from processes import Supervisor
from upstream import CHAT_PATH, FIXTURES, NO_PROXY, STREAM_PATH, Upstream

BENCH = Path(__file__).resolve().parent
PEERS_DIR = BENCH / ".peers"
NAMES = ("portkey", "litellm")  # what ``--peers`` accepts

# Pinned so that runs on different days measure the same code. @hono/node-server newer
# than 1.13.8 answers every Portkey stream with a 500, so it is forced with an override.
PORTKEY_VERSION = "1.15.2"
HONO_NODE_SERVER_VERSION = "1.13.8"
LITELLM_VERSION = "1.106.12"

LITELLM_KEY = "sk-bench-litellm-master"
UPSTREAM_KEY = "sk-upstream-bench"
CHAT_MODEL = "bench-chat"
STREAM_MODEL = "bench-stream"

# Portkey's start script serves on every interface (``serve`` without a hostname); this
# preload makes a listen() given only a port bind 127.0.0.1 instead.
PORTKEY_LOOPBACK = """\
'use strict';
const net = require('node:net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && (args[1] === undefined || typeof args[1] === 'function')) {
    args.splice(1, args[1] === undefined ? 1 : 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
"""


@dataclass(frozen=True, slots=True)
class Target:
    """One scenario's request: URL, JSON body file, bearer key, extra headers."""

    url: str
    body: Path
    key: str
    headers: dict[str, str]

    @property
    def headers_text(self) -> str:
        """The headers as ``wrk/chat.lua`` reads them from BENCH_HEADERS."""
        return "".join(f"{name}: {value}\n" for name, value in self.headers.items())


@dataclass(frozen=True, slots=True)
class Peer:
    """A running peer gateway: its process (the root of its tree) and how to call it."""

    name: str
    version: str
    port: int
    pid: int
    log: Path
    chat: Target
    stream: Target

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def target(self, stream: bool) -> Target:
        return self.stream if stream else self.chat


def installed(peers_dir: Path = PEERS_DIR) -> dict[str, bool]:
    """Which peers ``setup`` has installed under ``peers_dir`` (at the pinned versions)."""
    found = versions(peers_dir)
    loopback = peers_dir / "portkey" / "loopback.cjs"
    return {
        "portkey": found["portkey"] == PORTKEY_VERSION
        and found["hono_node_server"] == HONO_NODE_SERVER_VERSION
        and _portkey_entry(peers_dir).is_file()
        and loopback.is_file()
        and loopback.read_text() == PORTKEY_LOOPBACK,
        "litellm": found["litellm"] == LITELLM_VERSION and _litellm_bin(peers_dir).is_file(),
    }


def versions(peers_dir: Path = PEERS_DIR) -> dict[str, str]:
    """Installed versions ('' when not installed)."""
    found = {}
    for name, package in (
        ("portkey", "@portkey-ai/gateway"),
        ("hono_node_server", "@hono/node-server"),
    ):
        manifest = peers_dir / "portkey" / "node_modules" / package / "package.json"
        found[name] = json.loads(manifest.read_text())["version"] if manifest.is_file() else ""
    dist = sorted(
        (peers_dir / "litellm-venv" / "lib").glob("python*/site-packages/litellm-*.dist-info")
    )
    found["litellm"] = (
        dist[-1].name.removeprefix("litellm-").removesuffix(".dist-info") if dist else ""
    )
    return found


def setup(peers_dir: Path = PEERS_DIR) -> None:
    """Install both peers under ``peers_dir``; what is already there is left alone."""
    peers_dir.mkdir(parents=True, exist_ok=True)
    state = installed(peers_dir)
    failure = None
    if state["portkey"]:
        _say(f"portkey: already installed in {peers_dir / 'portkey'}")
    else:
        try:
            _setup_portkey(peers_dir / "portkey")
        except RuntimeError as exc:  # LiteLLM can still be installed
            failure = exc
            _say(f"portkey: {exc}")
    if state["litellm"]:
        _say(f"litellm: already installed in {peers_dir / 'litellm-venv'}")
    else:
        _setup_litellm(peers_dir / "litellm-venv")
    _say(f"installed: {versions(peers_dir)}")
    if failure is not None:
        raise failure


def _setup_portkey(directory: Path) -> None:
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise RuntimeError(
            "Portkey's gateway needs node and npm (e.g. apt-get install -y nodejs npm)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    package = {
        "name": "burncloud-bench-portkey",
        "private": True,
        "type": "module",
        "dependencies": {
            "@portkey-ai/gateway": PORTKEY_VERSION,
            "@hono/node-server": HONO_NODE_SERVER_VERSION,
        },
        "overrides": {"@hono/node-server": HONO_NODE_SERVER_VERSION},
    }
    (directory / "package.json").write_text(json.dumps(package, indent=2) + "\n")
    (directory / "loopback.cjs").write_text(PORTKEY_LOOPBACK)
    command = [npm, "install", "--no-audit", "--no-fund", "--omit=dev"]
    _say(f"portkey: {' '.join(command)} in {directory}")
    _run(command, directory)
    found = versions(directory.parent)
    if found["hono_node_server"] != HONO_NODE_SERVER_VERSION:
        raise RuntimeError(f"npm installed @hono/node-server {found['hono_node_server']!r}")


def _setup_litellm(venv: Path) -> None:
    _say(f"litellm: creating venv {venv}")
    _run([sys.executable, "-m", "venv", str(venv)], venv.parent)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    _say(f"litellm: pip install 'litellm[proxy]=={LITELLM_VERSION}'")
    _run([*pip, "--upgrade", "pip"], venv.parent)
    _run([*pip, f"litellm[proxy]=={LITELLM_VERSION}"], venv.parent)


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {done.returncode}")


def _portkey_entry(peers_dir: Path) -> Path:
    gateway = peers_dir / "portkey" / "node_modules" / "@portkey-ai" / "gateway"
    return gateway / "build" / "start-server.js"


def _litellm_bin(peers_dir: Path) -> Path:
    return peers_dir / "litellm-venv" / "bin" / "litellm"


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- running a peer -----------------------------------------------------------------------


def start_portkey(
    supervisor: Supervisor,
    port: int,
    upstream: Upstream,
    *,
    workdir: Path,
    peers_dir: Path = PEERS_DIR,
) -> tuple[Peer, subprocess.Popen[bytes]]:
    """Portkey's gateway (one Node process) on 127.0.0.1:``port`` in front of ``upstream``.

    Requests name the provider and the upstream in headers: ``x-portkey-custom-host`` is
    the base URL the OpenAI provider appends ``/chat/completions`` to. Returns the peer
    and its process (for ``Supervisor.stop``), once both checks have passed.
    """
    if not installed(peers_dir)["portkey"]:
        raise RuntimeError("Portkey is not installed: run python bench/setup_peers.py")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node not found")
    directory = peers_dir / "portkey"
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "portkey.log"
    command = [
        node, "--require", str(directory / "loopback.cjs"), str(_portkey_entry(peers_dir)),
        f"--port={port}", "--headless",
    ]  # fmt: skip
    env = {**os.environ, "NODE_ENV": "production"}
    child = supervisor.spawn(command, log=log, env=env, cwd=directory)

    def target(stream: bool) -> Target:
        location = STREAM_PATH if stream else CHAT_PATH
        headers = {
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": upstream.base + location.removesuffix("/chat/completions"),
        }
        return Target(
            f"http://127.0.0.1:{port}{CHAT_PATH}", _fixture(stream), UPSTREAM_KEY, headers
        )

    peer = Peer(
        "portkey", versions(peers_dir)["portkey"], port, child.pid, log,
        target(False), target(True),
    )  # fmt: skip
    _wait_until_serving(peer, child, "/", timeout=30)
    check_peer(peer)
    return peer, child


def start_litellm(
    supervisor: Supervisor,
    port: int,
    upstream: Upstream,
    workers: int,
    *,
    workdir: Path,
    peers_dir: Path = PEERS_DIR,
) -> tuple[Peer, subprocess.Popen[bytes]]:
    """LiteLLM's proxy with ``workers`` uvicorn workers on 127.0.0.1:``port``: no database,
    a fixed master key, the bench models mapped to ``openai/...`` at the fake upstream.
    Returns the peer and its process, once both checks have passed.
    """
    if not installed(peers_dir)["litellm"]:
        raise RuntimeError("LiteLLM is not installed: run python bench/setup_peers.py")
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "litellm.yaml"
    config.write_text(json.dumps(litellm_config(upstream), indent=2) + "\n")  # JSON is YAML
    log = workdir / "litellm.log"
    command = [
        str(_litellm_bin(peers_dir)), "--config", str(config), "--host", "127.0.0.1",
        "--port", str(port), "--num_workers", str(workers),
    ]  # fmt: skip
    child = supervisor.spawn(command, log=log, env=_litellm_env(), cwd=workdir)

    def target(stream: bool) -> Target:
        return Target(f"http://127.0.0.1:{port}{CHAT_PATH}", _fixture(stream), LITELLM_KEY, {})

    peer = Peer(
        "litellm", versions(peers_dir)["litellm"], port, child.pid, log,
        target(False), target(True),
    )  # fmt: skip
    _wait_until_serving(peer, child, "/health/liveliness", timeout=120)
    check_peer(peer)
    return peer, child


def litellm_config(upstream: Upstream) -> dict[str, object]:
    models = [
        {
            "model_name": model,
            "litellm_params": {
                "model": f"openai/{model}",
                "api_base": upstream.base + path.removesuffix("/chat/completions"),
                "api_key": UPSTREAM_KEY,
            },
        }
        for model, path in ((CHAT_MODEL, CHAT_PATH), (STREAM_MODEL, STREAM_PATH))
    ]
    return {
        "model_list": models,
        "litellm_settings": {"telemetry": False, "callbacks": [], "success_callback": []},
        "general_settings": {"master_key": LITELLM_KEY},
    }


def _litellm_env() -> dict[str, str]:
    """No database, no telemetry, the bundled model cost map, and any HTTP client that
    honours proxy variables sent to a closed loopback port for anything but loopback.
    """
    dropped = ("DATABASE_URL", "DIRECT_URL", "REDIS_HOST", "REDIS_URL", "LITELLM_MASTER_KEY")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env.update(
        {
            "LITELLM_TELEMETRY": "False",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
            "DISABLE_SCHEMA_UPDATE": "True",
            "HTTP_PROXY": "http://127.0.0.1:9",
            "HTTPS_PROXY": "http://127.0.0.1:9",
            "http_proxy": "http://127.0.0.1:9",
            "https_proxy": "http://127.0.0.1:9",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    return env


def _fixture(stream: bool) -> Path:
    return FIXTURES / ("chat_stream.json" if stream else "chat.json")


def _wait_until_serving(
    peer: Peer, child: subprocess.Popen[bytes], path: str, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with NO_PROXY.open(peer.base + path, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{peer.name} did not start:\n{tail(peer.log)}")
        time.sleep(0.2)


def check_peer(peer: Peer) -> None:
    """One non-stream and one stream request through ``peer`` carry the fixture content."""
    expected_chat, expected_stream = expected_contents()
    status, body = _post(peer.chat)
    try:
        content = json.loads(body)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        content = None
    if status != 200 or content != expected_chat:
        raise RuntimeError(f"{peer.name} chat check failed: {status} {body[:300]!r}")
    status, body = _post(peer.stream)
    content = stream_content(body)
    if status != 200 or content != expected_stream or not body.rstrip().endswith(b"[DONE]"):
        raise RuntimeError(f"{peer.name} stream check failed: {status} {body[:300]!r}")


def expected_contents() -> tuple[str, str]:
    """The assistant text of the upstream's non-stream answer and of its stream."""
    completion = json.loads((FIXTURES / "completion.json").read_text())
    return (
        completion["choices"][0]["message"]["content"],
        stream_content((FIXTURES / "stream.sse").read_bytes()),
    )


def stream_content(body: bytes) -> str | None:
    """The joined ``delta.content`` of an SSE chat stream (None if it does not parse)."""
    parts = []
    for line in body.decode(errors="replace").splitlines():
        if not line.startswith("data:") or line[5:].strip() == "[DONE]":
            continue
        try:
            chunk = json.loads(line[5:])
        except ValueError:
            return None
        if not isinstance(chunk, dict):
            return None
        for choice in chunk.get("choices") or ():
            parts.append((choice.get("delta") or {}).get("content") or "")
    return "".join(parts)


def _post(target: Target, timeout: float = 30) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json", **target.headers}
    if target.key:
        headers["Authorization"] = f"Bearer {target.key}"
    request = urllib.request.Request(
        target.url, data=target.body.read_bytes(), headers=headers, method="POST"
    )
    try:
        with NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start(
    name: str,
    supervisor: Supervisor,
    port: int,
    upstream: Upstream,
    workers: int,
    *,
    workdir: Path,
    peers_dir: Path = PEERS_DIR,
) -> tuple[Peer, subprocess.Popen[bytes]]:
    """``start_portkey`` (one Node process: ``workers`` does not apply) or ``start_litellm``."""
    if name == "portkey":
        return start_portkey(supervisor, port, upstream, workdir=workdir, peers_dir=peers_dir)
    if name == "litellm":
        return start_litellm(
            supervisor, port, upstream, workers, workdir=workdir, peers_dir=peers_dir
        )
    raise ValueError(f"unknown peer {name!r} (known: {', '.join(NAMES)})")
