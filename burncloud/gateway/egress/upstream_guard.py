"""Which addresses a channel's upstream may have: checked when a base URL is set, and again
each time the relay resolves a name to connect (a name may point elsewhere by then).

Self-hosted servers on loopback or the intranet (vLLM, Ollama) are a main use, so loopback
and private addresses stay allowed. Refused is the machine's platform: link-local
(169.254.0.0/16 holds the cloud metadata services, fe80::/10), the unspecified address,
multicast, reserved ranges, and the metadata addresses that sit elsewhere (AWS
fd00:ec2::254, Alibaba 100.100.100.200) or go by a name. BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS=1
lifts all of it. The address classification is the image fetcher's; only loopback and the
metadata extras are added here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import unquote

from aiohttp.abc import AbstractResolver
from yarl import URL

from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.fetcher import (
    IPAddress,
    VettingResolver,
    address_allowed,
    intranet_allowed,
)

ALLOW_ENV = "BURNCLOUD_ALLOW_PRIVATE_UPSTREAMS"
RESOLVE_TIMEOUT = 3.0
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(text) for text in ("fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTS = frozenset(
    {"metadata", "metadata.google.internal", "metadata.goog", "instance-data"}
)
_REFUSED_KINDS = "a link-local, cloud-metadata or non-unicast address"
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]+")  # 2852039166, 0xA9FEA9FE, 0251.0376.0251.0376

Resolve = Callable[[str], Awaitable[list[str]]]


def upstream_address_allowed(ip: IPAddress) -> bool:
    """Loopback, private and public unicast; never link-local, metadata, unspecified,
    multicast or reserved addresses."""
    if ip in METADATA_ADDRESSES:
        return False
    return ip.is_loopback or intranet_allowed(ip)


def _any_address(_ip: IPAddress) -> bool:
    return True


class UpstreamResolver(VettingResolver):
    """The relay session's resolver: a name is refused unless every address it resolves to
    passes ``upstream_address_allowed`` (anything passes with ``allow_private``). Literal
    IPs never reach a resolver; ``check_base_url`` vets those when the URL is set."""

    def __init__(self, allow_private: bool = False, inner: AbstractResolver | None = None) -> None:
        super().__init__(_any_address if allow_private else upstream_address_allowed, inner)


async def resolve_host(host: str) -> list[str]:
    """The addresses ``host`` resolves to now (OSError or TimeoutError when it does not)."""
    async with asyncio.timeout(RESOLVE_TIMEOUT):
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def check_base_url(url: str, allow_private: bool, resolve: Resolve | None = None) -> None:
    """Raise InvalidRequest if ``url``'s host is, or now resolves to, a refused address.

    A name that does not resolve here passes: the router may see other DNS (a compose
    service name), and its resolver vets the name again at connect time."""
    host = _host_of(url)
    if allow_private or host is None:
        return  # a malformed URL is reported by the channel's own validation
    if host in METADATA_HOSTS:
        raise _refused(f"base URL host {host} is a cloud metadata service")
    literal = _literal_address(unquote(host))
    if literal is not None:
        if not address_allowed(literal, upstream_address_allowed):
            raise _refused(f"base URL host {host} is {_REFUSED_KINDS}")
        return
    try:
        addresses = await (resolve or resolve_host)(host)
    except (OSError, TimeoutError):
        return
    for address in addresses:
        if not address_allowed(address, upstream_address_allowed):
            raise _refused(f"base URL host {host} resolves to {address}, {_REFUSED_KINDS}")


def _host_of(url: str) -> str | None:
    """The URL's host as sent to a resolver (IDNA-encoded, lower case, no final dot)."""
    try:
        host = URL(url.strip()).raw_host
    except (ValueError, TypeError):
        return None
    return host.rstrip(".").lower() if host else None


def _literal_address(host: str) -> str | None:
    """The address an IP literal names, the short and numeric IPv4 forms included (the
    system resolver reads ``2852039166`` as 169.254.169.254)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not _NUMERIC_HOST.fullmatch(host):
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _refused(reason: str) -> InvalidRequest:
    return InvalidRequest(f"{reason}; set {ALLOW_ENV}=1 to allow it")
