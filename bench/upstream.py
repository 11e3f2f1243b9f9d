"""The fake OpenAI upstream: nginx answering fixed bodies from the fixtures, on loopback.

``POST /v1/chat/completions`` returns ``fixtures/completion.json``;
``POST /stream/v1/chat/completions`` returns the SSE stream ``fixtures/stream.sse``
(20 content chunks, the usage chunk and ``[DONE]``) as ``text/event-stream``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from processes import Supervisor

BENCH = Path(__file__).resolve().parent
FIXTURES = BENCH / "fixtures"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
TEMPLATE = BENCH / "nginx.conf.template"
CHAT_PATH = "/v1/chat/completions"
STREAM_PATH = "/stream/v1/chat/completions"
TOKEN_LIMIT = 3500  # nginx's NGX_CONF_BUFFER is 4096 bytes


@dataclass(frozen=True, slots=True)
class Upstream:
    """A running fake upstream."""

    port: int
    pid: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def nginx_quote(text: str) -> str:
    """``text`` inside a single-quoted nginx string (``$`` would start a variable)."""
    if "$" in text:
        raise ValueError("a fixture for nginx's `return` must not contain '$'")
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def nginx_constant(name: str, text: str) -> tuple[list[str], str]:
    """``map`` blocks holding ``text`` in parts under nginx's 4 KB token limit, and the
    quoted ``return`` argument that joins them.
    """
    parts, current = [], ""
    for line in text.splitlines(keepends=True):
        if current and len(nginx_quote(current + line)) > TOKEN_LIMIT:
            parts.append(current)
            current = ""
        current += line
    parts.append(current)
    maps = [
        f"    map $request_method ${name}_{i} {{ default '{nginx_quote(part)}'; }}"
        for i, part in enumerate(parts)
    ]
    return maps, '"' + "".join(f"${name}_{i}" for i in range(len(parts))) + '"'


def render_config(prefix: Path, port: int, workers: int) -> str:
    completion_maps, completion = nginx_constant(
        "bench_completion", (FIXTURES / "completion.json").read_text()
    )
    stream_maps, stream = nginx_constant("bench_stream", (FIXTURES / "stream.sse").read_text())
    values = {
        "PREFIX": str(prefix),
        "PORT": str(port),
        "WORKERS": str(workers),
        "MAPS": "\n".join([*completion_maps, *stream_maps]),
        "COMPLETION": completion,
        "STREAM": stream,
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    return text


def start_nginx(supervisor: Supervisor, prefix: Path, port: int, workers: int) -> Upstream:
    """Write the config under ``prefix``, run nginx in the foreground, check both answers."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError("nginx not found (apt-get install -y nginx-light)")
    prefix.mkdir(parents=True, exist_ok=True)
    config = prefix / "nginx.conf"
    config.write_text(render_config(prefix, port, workers))
    command = [binary, "-p", str(prefix), "-c", str(config), "-e", str(prefix / "error.log")]
    test = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise RuntimeError(f"nginx rejected its config:\n{test.stderr}")
    child = supervisor.spawn(command, log=prefix / "nginx.out")
    upstream = Upstream(port, child.pid)
    _wait_until_answering(upstream, child)
    return upstream


def _wait_until_answering(upstream: Upstream, child: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            check_upstream(upstream)
            return
        except OSError:
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("nginx did not start; see its error.log") from None
            time.sleep(0.05)


def check_upstream(upstream: Upstream) -> None:
    """Both fake endpoints answer POST with their fixture, byte for byte."""
    for path, fixture, content_type in (
        (CHAT_PATH, "completion.json", "application/json"),
        (STREAM_PATH, "stream.sse", "text/event-stream"),
    ):
        status, headers, body = post(upstream.base + path, b"{}")
        expected = (FIXTURES / fixture).read_bytes()
        if status != 200 or body != expected or headers.get("Content-Type") != content_type:
            raise RuntimeError(f"nginx answers {path} wrongly: {status} {body[:200]!r}")


def post(
    url: str, body: bytes, key: str = "", timeout: float = 10
) -> tuple[int, dict[str, str], bytes]:
    """One POST on loopback: status, headers, body (HTTP errors are answers, not raised)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()
