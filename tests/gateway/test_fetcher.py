"""SafeFetcher against real aiohttp servers on loopback: what it fetches and what it refuses."""

from __future__ import annotations

import datetime
import socket
import ssl
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from burncloud.errors import InvalidRequest
from burncloud.gateway.egress.fetcher import (
    AddressRefused,
    FetchedImage,
    SafeFetcher,
    VettingResolver,
    address_allowed,
    intranet_allowed,
    policy_for,
    public_only,
)
from tests.fakes.image_server import PNG, ImageServer, MiB, only

SECRET_QUERY = "X-Amz-Signature=s3cr3t-signature"


class FakeResolver(AbstractResolver):
    """Names resolve to fixed addresses; anything else does not exist. ``asked`` lists the
    names looked up, in order."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = names
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"unknown host {host}")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.names[host]
        ]

    async def close(self) -> None:
        pass


async def refusal(fetcher: SafeFetcher, url: str) -> str:
    """The message of the InvalidRequest that fetching ``url`` raises."""
    with pytest.raises(InvalidRequest) as caught:
        await fetcher.fetch_image(url)
    return caught.value.message


async def test_allowed_address_returns_the_png() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        image = await fetcher.fetch_image(server.url("/cat.png"))
    assert image == FetchedImage(mime_type="image/png", data=PNG)
    assert server.seen == ["/cat.png"]
    assert server.headers[0]["Accept-Encoding"] == "identity"


async def test_sniffed_type_wins_over_the_declared_one() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        image = await fetcher.fetch_image(server.url("/png-as-jpeg"))
    assert image.mime_type == "image/png"


def test_defaults_are_ten_seconds_and_twenty_mib() -> None:
    fetcher = SafeFetcher()
    assert (fetcher.timeout, fetcher.max_bytes) == (10.0, 20 * MiB)
    assert fetcher.allow is public_only


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/cat.png",
        "http://localhost:{port}/cat.png",
        "http://[::1]:{port}/cat.png",
        "http://2130706433:{port}/cat.png",
        "http://0x7f.1:{port}/cat.png",
        "http://127.1:{port}/cat.png",
        "http://[::ffff:127.0.0.1]:{port}/cat.png",
        "http://0.0.0.0:{port}/cat.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/cat.png",
        "http://192.168.1.1/cat.png",
        "http://100.64.0.1/cat.png",
        "http://224.0.0.1/cat.png",
        "http://[fe80::1]/cat.png",
        "http://[fe80::1%25eth0]/cat.png",
        "http://[2002:7f00:1::]/cat.png",
    ],
)
async def test_default_policy_refuses_before_connecting(template: str) -> None:
    async with ImageServer() as server, SafeFetcher(timeout=2.0) as fetcher:
        message = await refusal(fetcher, template.format(port=server.port))
    assert "not allowed" in message
    assert "timeout" not in message
    assert server.seen == []


async def test_name_resolving_to_an_allowed_and_a_refused_address_is_refused() -> None:
    resolver = FakeResolver({"images.test": ["127.0.0.1", "10.0.0.1"]})
    async with (
        ImageServer() as server,
        SafeFetcher(allow=only("127.0.0.1"), resolver=resolver) as fetcher,
    ):
        message = await refusal(fetcher, f"http://images.test:{server.port}/cat.png")
    assert message == (
        "image URL refused for host images.test: host resolves to an address that is not allowed"
    )
    assert server.seen == []


async def test_name_is_connected_to_the_vetted_address_with_its_own_host_header() -> None:
    resolver = FakeResolver({"images.test": ["127.0.0.1"]})
    async with (
        ImageServer() as server,
        SafeFetcher(allow=only("127.0.0.1"), resolver=resolver) as fetcher,
    ):
        image = await fetcher.fetch_image(f"http://images.test:{server.port}/cat.png")
    assert image.data == PNG
    assert server.headers[0]["Host"] == f"images.test:{server.port}"


async def test_vetting_resolver_refuses_mixed_answers_and_passes_clean_ones() -> None:
    inner = FakeResolver({"mixed.test": ["8.8.8.8", "10.0.0.1"], "clean.test": ["8.8.8.8"]})
    resolver = VettingResolver(public_only, inner)
    with pytest.raises(AddressRefused):
        await resolver.resolve("mixed.test", 443)
    assert [r["host"] for r in await resolver.resolve("clean.test", 443)] == ["8.8.8.8"]


@pytest.mark.parametrize("target", ["literal", "name"])
async def test_redirect_to_a_refused_address_is_refused(target: str) -> None:
    resolver = FakeResolver({"inner.test": ["127.0.0.2"]})
    async with (
        ImageServer("127.0.0.1") as outside,
        ImageServer("127.0.0.2") as inside,
        SafeFetcher(allow=only("127.0.0.1"), resolver=resolver) as fetcher,
    ):
        host = "127.0.0.2" if target == "literal" else "inner.test"
        url = outside.url(f"/to?target=http://{host}:{inside.port}/cat.png")
        message = await refusal(fetcher, url)
    assert message.startswith(f"image URL refused for host {host}: ")
    assert "not allowed" in message
    assert outside.seen == ["/to"]
    assert inside.seen == []


async def test_three_redirects_are_followed() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        image = await fetcher.fetch_image(server.url("/redirect/2"))
    assert image.data == PNG
    assert server.seen == ["/redirect/2", "/redirect/1", "/redirect/0", "/cat.png"]


async def test_a_fourth_redirect_is_refused_without_following_it() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, server.url("/redirect/3"))
    assert message == "image URL refused for host 127.0.0.1: more than 3 redirects"
    assert server.seen == ["/redirect/3", "/redirect/2", "/redirect/1", "/redirect/0"]


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.1/cat.png"])
async def test_redirect_must_stay_http(target: str) -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, server.url(f"/to?target={target}"))
    assert "is not allowed (http or https only)" in message
    assert server.seen == ["/to"]


async def test_non_image_content_type_is_refused() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, server.url("/page.html"))
    assert message == (
        "image URL refused for host 127.0.0.1: Content-Type text/html is not png, jpeg, gif or webp"
    )


async def test_image_content_type_with_an_html_body_is_refused_by_sniffing() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, server.url("/lying.png"))
    assert message == (
        "image URL refused for host 127.0.0.1: body is not a png, jpeg, gif or webp image"
    )


async def test_streamed_oversized_body_is_cut_off_without_reading_it_all() -> None:
    limit = 1 * MiB
    async with (
        ImageServer() as server,
        SafeFetcher(allow=only("127.0.0.1"), max_bytes=limit) as fetcher,
    ):
        message = await refusal(fetcher, server.url("/stream"))
        sent_when_refused = server.sent
    assert message == f"image URL refused for host 127.0.0.1: image is larger than {limit} bytes"
    assert sent_when_refused < 30 * MiB


async def test_declared_oversized_body_is_refused_from_the_header() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, server.url("/declared-huge"))
        sent_when_refused = server.sent
    assert message.endswith(f"image is larger than {20 * MiB} bytes")
    assert sent_when_refused < 20 * MiB  # refused on the header, not after reading the limit


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "ftp://files.example.com/cat.png",
            "image URL refused for host files.example.com: "
            "scheme 'ftp' is not allowed (http or https only)",
        ),
        (
            "file:///etc/passwd",
            "image URL refused for host (none): scheme 'file' is not allowed (http or https only)",
        ),
        ("http:///cat.png", "image URL has no host"),
    ],
)
async def test_only_http_and_https_are_fetched(url: str, expected: str) -> None:
    async with SafeFetcher() as fetcher:
        assert await refusal(fetcher, url) == expected


async def test_user_credentials_in_the_url_are_refused() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, f"http://user:hunter2@127.0.0.1:{server.port}/cat.png")
    assert message == (
        "image URL refused for host 127.0.0.1: user credentials in the URL are not allowed"
    )
    assert server.seen == []


async def test_timeout_is_reported_as_a_client_error() -> None:
    async with (
        ImageServer() as server,
        SafeFetcher(allow=only("127.0.0.1"), timeout=0.2) as fetcher,
    ):
        message = await refusal(fetcher, server.url("/slow"))
    assert message == "could not fetch image from host 127.0.0.1: timeout"


async def test_connection_failure_is_reported_as_a_client_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, f"http://127.0.0.1:{port}/cat.png")
    assert message == "could not fetch image from host 127.0.0.1: connection failed"


async def test_http_error_status_is_reported() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        message = await refusal(fetcher, server.url("/missing.png"))
    assert message == "could not fetch image from host 127.0.0.1: HTTP 404"


@pytest.mark.parametrize("path", ["/missing.png", "/page.html", "/lying.png", "/slow"])
async def test_error_messages_never_echo_the_query_string(path: str) -> None:
    async with (
        ImageServer() as server,
        SafeFetcher(allow=only("127.0.0.1"), timeout=0.2) as fetcher,
    ):
        message = await refusal(fetcher, server.url(f"{path}?{SECRET_QUERY}"))
    assert "127.0.0.1" in message
    assert "s3cr3t" not in message
    assert "Signature" not in message


async def test_refused_address_message_never_echoes_the_query_string() -> None:
    async with SafeFetcher() as fetcher:
        message = await refusal(fetcher, f"http://10.0.0.1/cat.png?{SECRET_QUERY}")
    assert message == "image URL refused for host 10.0.0.1: address not allowed"


async def test_cookies_from_one_fetch_are_not_sent_on_the_next() -> None:
    async with ImageServer() as server, SafeFetcher(allow=only("127.0.0.1")) as fetcher:
        await fetcher.fetch_image(server.url("/cookie"))
        await fetcher.fetch_image(server.url("/cat.png"))
    assert "Cookie" not in server.headers[1]


@pytest.mark.parametrize(
    ("address", "public", "intranet"),
    [
        ("8.8.8.8", True, True),
        ("2001:4860:4860::8888", True, True),
        ("::ffff:8.8.8.8", True, True),
        ("10.1.2.3", False, True),
        ("192.168.0.7", False, True),
        ("fd00::7", False, True),
        ("127.0.0.1", False, False),
        ("::1", False, False),
        ("::ffff:127.0.0.1", False, False),
        ("169.254.169.254", False, False),
        ("fe80::1", False, False),
        ("0.0.0.0", False, False),
        ("224.0.0.1", False, False),
        ("ff02::1", False, False),
        ("100.64.0.1", False, True),
        ("240.0.0.1", False, False),
        ("2002:7f00:1::", False, False),
        ("64:ff9b::a00:1", False, False),
        ("64:ff9b::808:808", True, True),
        ("64:ff9b:1::1", False, False),
        ("not-an-address", False, False),
    ],
)
def test_policies(address: str, public: bool, intranet: bool) -> None:
    assert address_allowed(address, public_only) is public
    assert address_allowed(address, intranet_allowed) is intranet
    assert policy_for(allow_private=False) is public_only
    assert policy_for(allow_private=True) is intranet_allowed


def self_signed_context(tmp_path: Path, name: str) -> ssl.SSLContext:
    """A server TLS context with a self-signed certificate for ``name``."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


async def test_tls_certificates_are_still_verified(tmp_path: Path) -> None:
    resolver = FakeResolver({"x.test": ["127.0.0.1"]})
    async with (
        ImageServer(tls=self_signed_context(tmp_path, "x.test")) as server,
        SafeFetcher(allow=only("127.0.0.1"), resolver=resolver) as fetcher,
    ):
        message = await refusal(fetcher, f"https://x.test:{server.port}/cat.png")
    assert server.seen == []
    assert message == "could not fetch image from host x.test: TLS certificate verification failed"
