"""HTTP/1.1 over a bare socket, for the tests that send what no client library would (a
head that never ends, a 64 MiB header) and watch what the router does with the connection.
"""

from __future__ import annotations

import select
import socket
from dataclasses import dataclass

import orjson

TIMEOUT = 10.0  # a limit the router fails to apply fails the test rather than hang it


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> dict[str, str]:
        """The body's OpenAI-shaped error object."""
        return orjson.loads(self.body)["error"]


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def get(path: str, extra: bytes = b"") -> bytes:
    """A GET request's head, ``extra`` (header lines, each ending in CRLF) included."""
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: router\r\n" + extra + b"\r\n"


def read_response(sock: socket.socket) -> Response:
    """One whole response (its body by Content-Length), or ConnectionError at a close."""
    head = b""
    while b"\r\n\r\n" not in head:
        head += _recv(sock)
    head, body = head.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        body += _recv(sock)
    return Response(int(status_line.split()[1]), headers, body)


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the router closed the connection (an end of stream or a reset) without
    sending anything more; waits up to TIMEOUT."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def send_until_refused(sock: socket.socket, piece: bytes, total: int) -> int:
    """Send ``piece`` repeatedly, up to ``total`` bytes, stopping as soon as the router
    answers or closes; the bytes it took."""
    sent = 0
    while sent < total:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sent += sock.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
    return sent


def _recv(sock: socket.socket) -> bytes:
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("the router closed the connection")
    return data
