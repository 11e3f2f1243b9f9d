"""Channel base URLs on link-local or metadata addresses are refused when set (CLI, admin API),
unless BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS=1; loopback and the intranet stay allowed."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson
import pytest
from typer.testing import CliRunner, Result

from burncloud.cli.app import app
from burncloud.config import Settings
from burncloud.errors import ConfigError, InvalidRequest
from burncloud.gateway.egress import upstream_guard
from burncloud.gateway.egress.upstream_guard import check_base_url
from tests.cli.checks import fails_with_one_line
from tests.fakes import FakeOpenAI
from tests.gateway.router_harness import running_router

REFUSED_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://169.254.170.2/v1",
    "http://[fe80::1]:8000/v1",
    "http://[fe80::1%25eth0]/v1",
    "http://[fd00:ec2::254]/v1",
    "http://100.100.100.200/v1",
    "http://0.0.0.0:8000/v1",
    "http://224.0.0.251/v1",
    "http://[::ffff:169.254.169.254]/v1",
    "http://2852039166/v1",  # 169.254.169.254 as one number
    "http://0xA9FEA9FE/v1",
    "http://metadata.google.internal/computeMetadata/v1",
    "https://Metadata.Google.Internal./v1",
]
ALLOWED_URLS = [
    "http://127.0.0.1:11434/v1",
    "http://localhost:8000/v1",
    "http://[::1]:8000/v1",
    "http://10.1.2.3:8000/v1",
    "http://192.168.0.10/v1",
    "https://api.openai.com/v1",
]
DNS = {
    "localhost": ["127.0.0.1", "::1"],
    "api.openai.com": ["162.159.140.245"],
    "rebind.example": ["169.254.169.254"],
    "half.example": ["10.0.0.8", "fe80::2"],
    "vllm.example": ["10.0.0.8"],
}


async def table_dns(host: str) -> list[str]:
    if host not in DNS:
        raise OSError(f"unknown host {host}")
    return DNS[host]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_platform_addresses_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await check_base_url(url, False, table_dns)
    assert "\n" not in refused.value.message
    assert "BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS=1" in refused.value.message


@pytest.mark.parametrize("url", ALLOWED_URLS)
async def test_loopback_intranet_and_public_hosts_are_allowed(url: str) -> None:
    await check_base_url(url, False, table_dns)


@pytest.mark.parametrize("host", ["rebind.example", "half.example"])
async def test_a_name_resolving_to_a_platform_address_is_refused(host: str) -> None:
    with pytest.raises(InvalidRequest, match=f"base URL host {host} resolves to"):
        await check_base_url(f"https://{host}/v1", False, table_dns)


async def test_an_unresolvable_name_passes_to_the_connect_time_guard() -> None:
    await check_base_url("http://vllm-in-compose:8000/v1", False, table_dns)


async def test_allowing_private_upstreams_accepts_everything_without_resolving() -> None:
    async def no_lookups(host: str) -> list[str]:
        raise AssertionError(f"resolved {host}")

    for url in [*REFUSED_URLS, "https://rebind.example/v1"]:
        await check_base_url(url, True, no_lookups)


def test_the_operator_setting_is_off_unless_the_environment_turns_it_on() -> None:
    assert Settings.from_env({}).allow_private_upstreams is False
    on = Settings.from_env({"BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS": "1"})
    assert on.allow_private_upstreams is True
    with pytest.raises(ConfigError):
        Settings.from_env({"BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS": "sometimes"})


def _cli(db_url: str, allow: bool = False) -> Callable[..., Result]:
    runner = CliRunner()
    env = {
        "DATABASE_URL": db_url,
        "BURNCLOUD_SECRET": None if db_url.startswith("sqlite") else "test-secret",
        "BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS": "1" if allow else None,
    }
    return lambda *args: runner.invoke(app, list(args), env=env)


ADD = ("channel", "add", "--type", "openai-compatible", "--name", "n", "--key", "sk-k")


def test_the_cli_refuses_metadata_urls_on_add_and_update(db_url, bootstrapped, monkeypatch) -> None:
    monkeypatch.setattr(upstream_guard, "resolve_host", table_dns)
    cli = _cli(db_url)
    fails_with_one_line(
        cli(*ADD, "--models", "m", "--base-url", "http://169.254.169.254/v1"),
        "base URL host 169.254.169.254 is a link-local",
    )
    fails_with_one_line(
        cli(*ADD, "--models", "m", "--base-url", "https://rebind.example/v1"),
        "resolves to 169.254.169.254",
    )
    added = cli(*ADD, "--models", "m", "--base-url", "http://127.0.0.1:11434/v1", "--json")
    assert added.exit_code == 0, added.output
    channel_id = str(orjson.loads(added.stdout)["id"])
    fails_with_one_line(
        cli("channel", "update", channel_id, "--base-url", "http://[fd00:ec2::254]/v1"),
        "BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS=1",
    )
    assert cli("channel", "update", channel_id, "--base-url", "http://10.0.0.9/v1").exit_code == 0
    shown = orjson.loads(cli("channel", "show", channel_id, "--json").stdout)
    assert shown["base_url"] == "http://10.0.0.9/v1"
    assert len(orjson.loads(cli("channel", "list", "--json").stdout)) == 1


def test_the_cli_accepts_metadata_urls_when_the_operator_allows_them(db_url, bootstrapped) -> None:
    cli = _cli(db_url, allow=True)
    added = cli(*ADD, "--models", "m", "--base-url", "http://169.254.169.254/v1", "--json")
    assert added.exit_code == 0, added.output
    channel_id = str(orjson.loads(added.stdout)["id"])
    updated = cli("channel", "update", channel_id, "--base-url", "http://100.100.100.200/v1")
    assert updated.exit_code == 0, updated.output


async def _admin_calls(http: httpx.AsyncClient, url: str) -> tuple[httpx.Response, ...]:
    body = {"type": "openai-compatible", "name": "n", "key": "sk-k", "models": "m"}
    added = await http.post("/api/channels", json={**body, "base_url": url})
    updated = await http.patch("/api/channels/1", json={"base_url": url})
    shown = await http.get("/api/channels/1")
    return added, updated, shown


@pytest.mark.parametrize("allow", [False, True])
async def test_the_admin_api_refuses_metadata_urls_with_400(tmp_path, allow: bool) -> None:
    async with (
        FakeOpenAI("sk-canary-upstream") as upstream,
        running_router(tmp_path, upstream, allow_private_upstreams=allow) as router,
    ):
        root = router.base_url.removesuffix("/v1")
        headers = {"Authorization": f"Bearer {router.admin_key}"}
        async with httpx.AsyncClient(base_url=root, headers=headers) as http:
            added, updated, shown = await _admin_calls(http, "http://[fe80::a9fe]/v1")
    if allow:
        assert (added.status_code, updated.status_code) == (201, 200)
        assert shown.json()["base_url"] == "http://[fe80::a9fe]/v1"
        return
    for refused in (added, updated):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "invalid_request"
        assert "fe80::a9fe" in refused.json()["error"]["message"]
    assert shown.json()["base_url"] == upstream.base_url
