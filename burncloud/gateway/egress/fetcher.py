"""Fetching client-supplied image URLs without letting a client reach our own network.

Some providers cannot take an image URL (Gemini wants File API or gs:// URIs, Bedrock
wants bytes or s3://), so the gateway downloads the image itself. The URL is the client's,
so every address we connect to is vetted by a policy (public addresses only by default).
The check lives in the connector's resolver, so the address checked is the address
connected to (no DNS rebinding window); literal IPs skip aiohttp's resolver and are vetted
before each hop instead. Redirects are followed by hand so every hop is vetted the same way.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

from burncloud.errors import InvalidRequest

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
AddressPolicy = Callable[[IPAddress], bool]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 3

_CHUNK = 64 * 1024
_SCHEMES = frozenset({"http", "https"})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DECLARED_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif", "image/webp"}
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
_HEADERS = {
    "Accept": "image/png, image/jpeg, image/gif, image/webp",
    # Images are compressed already; refusing transfer encodings keeps the size limit honest.
    "Accept-Encoding": "identity",
    "User-Agent": "burncloud-image-fetcher",
}


@dataclass(frozen=True, slots=True)
class FetchedImage:
    """An image downloaded for a client, typed by its magic bytes."""

    mime_type: str
    data: bytes


def public_only(ip: IPAddress) -> bool:
    """The default policy: globally routable unicast addresses only."""
    if not ip.is_global or ip.is_multicast:
        return False
    return all(public_only(inner) for inner in _embedded_ipv4(ip))


def intranet_allowed(ip: IPAddress) -> bool:
    """Public and private (RFC 1918, ULA) addresses, for operators with intranet images.

    Loopback, link-local (cloud metadata lives at 169.254.169.254), unspecified, multicast
    and reserved stay refused: they are this host or its platform, not the intranet.
    """
    if public_only(ip):
        return True
    if ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast:
        return False
    return not ip.is_reserved and all(intranet_allowed(inner) for inner in _embedded_ipv4(ip))


def policy_for(allow_private: bool) -> AddressPolicy:
    """The policy for the BURNCLOUD_FETCH_ALLOW_PRIVATE setting."""
    return intranet_allowed if allow_private else public_only


def _embedded_ipv4(ip: IPAddress) -> list[IPAddress]:
    """IPv4 addresses an IPv6 address tunnels to (6to4, Teredo, NAT64), which must pass too."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    if ip in _NAT64_LOCAL:
        return [ipaddress.IPv4Address(0)]  # the embedding varies with the prefix: refuse
    found: list[IPAddress] = []
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def address_allowed(text: str, allow: AddressPolicy) -> bool:
    """Whether ``allow`` accepts the address ``text``; IPv4-mapped IPv6 is judged as IPv4."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return allow(ip)


class AddressRefused(OSError):
    """A host name resolved to an address the policy refuses (raised inside aiohttp)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"host {host} resolves to an address that is not allowed")
        self.host = host


class VettingResolver(AbstractResolver):
    """Resolves with ``inner`` and refuses the name unless every address passes ``allow``."""

    def __init__(self, allow: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._allow = allow
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not results or not all(address_allowed(r["host"], self._allow) for r in results):
            raise AddressRefused(host)
        return results

    async def close(self) -> None:
        await self._inner.close()


def sniff_image_type(data: bytes) -> str | None:
    """The MIME type the magic bytes say, for the four types every provider takes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _host_of(url: URL) -> str:
    return url.host or "(none)"


def _refused(url: URL, why: str) -> InvalidRequest:
    return InvalidRequest(f"image URL refused for host {_host_of(url)}: {why}")


def _unreachable(url: URL, why: str) -> InvalidRequest:
    return InvalidRequest(f"could not fetch image from host {_host_of(url)}: {why}")


def _looks_like_ip(host: str) -> bool:
    """aiohttp's own test for "connect to this literally, skip the resolver"."""
    return ":" in host or host.replace(".", "").isdigit()


def _parse_url(raw: str) -> URL:
    try:
        return URL(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidRequest("image URL is not a valid URL") from exc


class SafeFetcher:
    """Downloads images for clients over one session whose connector vets every address."""

    def __init__(
        self,
        allow: AddressPolicy = public_only,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.allow = allow
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._inner_resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        """Open the session; call once from the lifespan."""
        resolver = VettingResolver(self.allow, self._inner_resolver)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            cookie_jar=aiohttp.DummyCookieJar(),  # one client's cookies never reach another's
            auto_decompress=False,
            trust_env=False,  # an environment proxy would connect for us, unvetted
        )

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> SafeFetcher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def fetch_image(self, url: str) -> FetchedImage:
        """The image at ``url``, or InvalidRequest naming the host (never the query)."""
        if self._session is None:
            raise RuntimeError("SafeFetcher.start() was not called")
        current = self._vetted(_parse_url(url))
        redirects = 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    outcome = await self._fetch_once(self._session, current)
                    if isinstance(outcome, FetchedImage):
                        return outcome
                    if redirects == MAX_REDIRECTS:
                        raise _refused(current, f"more than {MAX_REDIRECTS} redirects")
                    redirects += 1
                    current = self._vetted(outcome)
        except TimeoutError as exc:
            raise _unreachable(current, "timeout") from exc

    def _vetted(self, url: URL) -> URL:
        """``url`` if its scheme and form are acceptable and any literal IP passes the policy."""
        if url.scheme not in _SCHEMES:
            raise _refused(url, f"scheme {url.scheme[:20]!r} is not allowed (http or https only)")
        if not url.raw_host:
            raise InvalidRequest("image URL has no host")
        if url.raw_user is not None or url.raw_password is not None:
            raise _refused(url, "user credentials in the URL are not allowed")
        host = url.raw_host
        if _looks_like_ip(host) and not address_allowed(host, self.allow):
            raise _refused(url, "address not allowed")
        return url

    async def _fetch_once(self, session: aiohttp.ClientSession, url: URL) -> FetchedImage | URL:
        """One hop: the image, or the URL a redirect points to (not yet vetted)."""
        try:
            async with session.get(url, allow_redirects=False, headers=_HEADERS) as resp:
                if resp.status in _REDIRECT_STATUSES:
                    return _redirect_target(resp, url)
                return await self._read_image(resp, url)
        except aiohttp.ClientConnectorError as exc:
            raise _connect_failure(url, exc) from exc
        except aiohttp.ClientError as exc:
            raise _unreachable(url, _describe(exc)) from exc

    async def _read_image(self, resp: aiohttp.ClientResponse, url: URL) -> FetchedImage:
        if resp.status != 200:
            raise _unreachable(url, f"HTTP {resp.status}")
        if resp.content_type not in _DECLARED_TYPES:
            declared = resp.content_type[:60]
            raise _refused(url, f"Content-Type {declared} is not png, jpeg, gif or webp")
        if resp.headers.get("Content-Encoding", "identity").lower() != "identity":
            raise _refused(url, "compressed (Content-Encoding) images are not accepted")
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise _refused(url, f"image is larger than {self.max_bytes} bytes")
        data = await self._read_limited(resp, url)
        mime_type = sniff_image_type(data)
        if mime_type is None:
            raise _refused(url, "body is not a png, jpeg, gif or webp image")
        return FetchedImage(mime_type=mime_type, data=data)

    async def _read_limited(self, resp: aiohttp.ClientResponse, url: URL) -> bytes:
        """The body, read in chunks; stops one byte past the limit instead of buffering on."""
        body = bytearray()
        while chunk := await resp.content.read(min(_CHUNK, self.max_bytes + 1 - len(body))):
            body += chunk
            if len(body) > self.max_bytes:
                resp.close()  # drop the connection: the rest of the body is never read
                raise _refused(url, f"image is larger than {self.max_bytes} bytes")
        return bytes(body)


def _redirect_target(resp: aiohttp.ClientResponse, url: URL) -> URL:
    location = resp.headers.get("Location")
    if not location:
        raise _unreachable(url, f"HTTP {resp.status} without a Location")
    try:
        return url.join(URL(location))
    except (ValueError, TypeError) as exc:
        raise _unreachable(url, "redirect to an invalid URL") from exc


def _connect_failure(url: URL, exc: aiohttp.ClientConnectorError) -> InvalidRequest:
    if isinstance(exc.os_error, AddressRefused):
        return _refused(url, "host resolves to an address that is not allowed")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return _unreachable(url, "TLS certificate verification failed")
    return _unreachable(url, "connection failed")


def _describe(exc: aiohttp.ClientError) -> str:
    """A short reason that never echoes the URL (aiohttp's messages may hold the query)."""
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the body was cut short"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"bad response (HTTP {exc.status})"
    return "connection failed"
