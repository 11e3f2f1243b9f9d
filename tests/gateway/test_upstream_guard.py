"""The connect-time guard: the relay's resolver refuses names that resolve to the platform."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from burncloud.config import Settings
from burncloud.gateway.egress.fetcher import AddressRefused, address_allowed
from burncloud.gateway.egress.transport import AiohttpTransport
from burncloud.gateway.egress.upstream_guard import UpstreamResolver, upstream_address_allowed
from burncloud.gateway.runtime import Runtime
from tests.gateway.test_fetcher import FakeResolver as TableResolver

REFUSED = [
    "169.254.169.254",  # AWS, GCP and Azure metadata
    "169.254.0.1",
    "fe80::1",
    "fd00:ec2::254",  # AWS metadata over IPv6
    "100.100.100.200",  # Alibaba Cloud metadata
    "0.0.0.0",
    "::",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a9fe:a9fe",  # NAT64 to 169.254.169.254
]
ALLOWED = [
    "127.0.0.1",
    "127.0.1.1",
    "::1",
    "10.0.0.5",
    "172.16.3.4",
    "192.168.1.10",
    "fd12:3456::1",
    "100.64.0.1",  # carrier-grade NAT space (Tailscale nodes live here)
    "8.8.8.8",
    "2606:4700::1111",
]


@pytest.mark.parametrize("address", REFUSED)
def test_platform_addresses_are_refused(address: str) -> None:
    assert not address_allowed(address, upstream_address_allowed)


@pytest.mark.parametrize("address", ALLOWED)
def test_loopback_private_and_public_addresses_are_allowed(address: str) -> None:
    assert upstream_address_allowed(ipaddress.ip_address(address))


async def test_a_name_that_rebinds_to_metadata_is_refused_on_the_next_resolution() -> None:
    table = TableResolver({"llm.internal": ["10.0.0.7"]})
    resolver = UpstreamResolver(inner=table)
    assert [r["host"] for r in await resolver.resolve("llm.internal", 443)] == ["10.0.0.7"]
    table.names["llm.internal"] = ["10.0.0.7", "169.254.169.254"]
    with pytest.raises(AddressRefused):
        await resolver.resolve("llm.internal", 443)


async def test_allowing_private_upstreams_lets_every_address_through() -> None:
    resolver = UpstreamResolver(True, TableResolver({"metadata.test": ["169.254.169.254"]}))
    assert [r["host"] for r in await resolver.resolve("metadata.test")] == ["169.254.169.254"]


@pytest.fixture
async def local_server() -> AsyncIterator[int]:
    async def answer(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_a_session_with_the_guard_never_connects_to_a_refused_name(local_server) -> None:
    table = TableResolver({"vllm.test": ["127.0.0.1"], "rebound.test": ["169.254.169.254"]})
    connector = aiohttp.TCPConnector(resolver=UpstreamResolver(inner=table))
    async with aiohttp.ClientSession(connector=connector) as session:
        url = f"http://vllm.test:{local_server}/v1/chat/completions"
        async with session.post(url, json={}) as ok:
            assert ok.status == 200
        with pytest.raises(aiohttp.ClientConnectorError) as refused:
            await session.post(f"http://rebound.test:{local_server}/v1/chat/completions")
    assert isinstance(refused.value.os_error, AddressRefused)
    assert table.asked == ["vllm.test", "rebound.test"]


async def test_the_relay_session_resolves_through_the_guard(tmp_path) -> None:
    runtime = Runtime(Settings(database_url=f"sqlite:///{tmp_path}/r.db", secret="s"))
    await runtime.start()
    try:
        transport = runtime.transport
        assert isinstance(transport, AiohttpTransport)
        connector = transport.session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        assert isinstance(connector._resolver, UpstreamResolver)
    finally:
        await runtime.stop()
