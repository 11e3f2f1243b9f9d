"""The connection limits' arithmetic and the answer past the cap, without a server."""

from __future__ import annotations

import logging

import orjson

from burncloud.config import DEFAULT_MAX_CONNECTIONS
from burncloud.serving import limits
from burncloud.serving.limits import (
    ConnectionGate,
    ServerLimits,
    connections_within,
    fit_open_files,
    refuse_connection,
)


def test_the_cap_leaves_two_files_per_connection_and_a_reserve() -> None:
    assert connections_within(1 << 20, 10_000) == 10_000
    assert connections_within(20_000, 10_000) == (20_000 - 256) // 2 == 9_872
    assert connections_within(100, 10) == 1  # never none


def test_the_gate_counts_open_connections_against_the_cap() -> None:
    gate = ConnectionGate(2)
    assert [gate.admit(), gate.admit(), gate.admit()] == [True, True, False]
    gate.release()
    assert gate.admit()


def test_fitting_raises_the_soft_file_limit_and_lowers_the_cap(monkeypatch, caplog) -> None:
    caplog.set_level(logging.INFO, "burncloud.serving")
    raised: list[tuple[int, int]] = []
    monkeypatch.setattr(limits.resource, "getrlimit", lambda _: (1024, 4096))
    monkeypatch.setattr(limits.resource, "setrlimit", lambda _, value: raised.append(value))
    asked = ServerLimits(5_000, 65536, 30.0, 75.0)
    assert fit_open_files(asked).max_connections == (4096 - 256) // 2
    assert raised == [(4096, 4096)]
    default = ServerLimits(DEFAULT_MAX_CONNECTIONS, 65536, 30.0, 75.0)
    assert fit_open_files(default).max_connections == (4096 - 256) // 2
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.INFO]  # only a cap asked for is a warning


async def test_a_connection_past_the_cap_is_answered_503_and_closed() -> None:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        raise AssertionError("the request is not read")

    await refuse_connection({"type": "http"}, receive, send)
    start, body = sent
    headers = dict(start["headers"])
    assert (start["status"], headers[b"connection"], headers[b"retry-after"]) == (
        503,
        b"close",
        b"1",
    )
    assert orjson.loads(body["body"])["error"]["code"] == "service_unavailable"
