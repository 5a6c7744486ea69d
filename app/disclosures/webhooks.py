"""Where webhooks may go, and an HTTP client that cannot be pointed anywhere else.

A recipient's webhook address is chosen by whoever manages recipients, so the service must not
become a way to reach its own network (SSRF): loopback, private and link-local ranges, cloud
metadata addresses, multicast. The address is checked when it is registered, and again on the
connection actually made: the client resolves the host name itself and connects only to an
address that passed, so a DNS answer that changes between the check and the request (DNS
rebinding) gains nothing. https only; plain http only to networks deliberately allowed
(``REGISTRY_WEBHOOK_ALLOWED_NETWORKS``), and redirects are never followed.

What a failed delivery records says only ``timeout``, ``refused``, ``tls`` or the HTTP status:
nothing that would turn the notification listing into a port scanner.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import secrets
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from standardwebhooks import Webhook

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _NAT64) or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class WebhookAddressRefused(ValueError):
    """A webhook address this service will not call."""


@dataclass(frozen=True)
class WebhookPolicy:
    """Public addresses over https, plus the networks an operator allowed (where http is fine)."""

    allowed_networks: tuple[IpNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> WebhookPolicy:
        return cls(tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs))

    def in_allowed_network(self, address: IpAddress) -> bool:
        return any(address in network for network in self.allowed_networks)

    def may_connect(self, address: IpAddress, *, plain_http: bool) -> bool:
        if self.in_allowed_network(address):
            return True
        if plain_http:
            return False
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                # ::ffff:a.b.c.d, NAT64, 6to4 and IPv4-compatible addresses reach the IPv4
                # address inside them: it is what must be public.
                address = embedded
            elif address not in GLOBAL_UNICAST_V6:
                return False  # site-local fec0::/10 and everything outside 2000::/3
        # is_global excludes loopback, private, link-local (169.254.169.254, the metadata
        # service), shared (100.64/10), documentation and reserved ranges.
        return address.is_global and not address.is_multicast

    def check_url(self, url: str) -> None:
        """Raises ``WebhookAddressRefused`` naming what is wrong with ``url``."""
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise WebhookAddressRefused("webhook_url must not hold a user name or password.")
        if parts.scheme not in ("https", "http"):
            raise WebhookAddressRefused("webhook_url must be an https address.")
        host = parts.hostname or ""
        try:
            literal: IpAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if not self.may_connect(literal, plain_http=parts.scheme == "http"):
                raise WebhookAddressRefused(
                    "webhook_url must point at a public address over https."
                )
            return
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise WebhookAddressRefused("webhook_url must point at a public host.")
        if parts.scheme == "http":
            raise WebhookAddressRefused(
                "webhook_url must be https (plain http only to an allowed network's address)."
            )


def failure_reason(exc: BaseException) -> str:
    """``timeout``, ``tls`` or ``refused``: never the exception's text."""
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return "tls"
        cause = cause.__cause__ or cause.__context__
    return "refused"


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host itself and connects only to an address the policy allows; TLS still
    verifies the certificate against the host name of the URL."""

    def __init__(self, policy: WebhookPolicy, *, plain_http: bool) -> None:
        self.policy = policy
        self.plain_http = plain_http
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise httpcore.ConnectError("the host name does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        # Every address the name has must be allowed: a name with one public and one private
        # address is refused, not tried until the private one answers.
        if not addresses or not all(
            self.policy.may_connect(address, plain_http=self.plain_http) for address in addresses
        ):
            raise httpcore.ConnectError("the destination is not an allowed address")
        return await self.inner.connect_tcp(
            str(addresses[0]),
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Any = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not webhook destinations")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: WebhookPolicy, *, plain_http: bool) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            network_backend=GuardedNetworkBackend(policy, plain_http=plain_http),
            max_connections=20,
        )


class WebhookClients:
    """One guarded client for https and one for plain http (allowed networks only)."""

    def __init__(self, policy: WebhookPolicy, timeout: float) -> None:
        self.https = httpx.AsyncClient(
            transport=_GuardedTransport(policy, plain_http=False),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )
        self.http = httpx.AsyncClient(
            transport=_GuardedTransport(policy, plain_http=True),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    def for_url(self, url: str) -> httpx.AsyncClient:
        return self.http if url.startswith("http:") else self.https

    async def aclose(self) -> None:
        await self.https.aclose()
        await self.http.aclose()


MAX_ATTEMPTS = 12
SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def as_standard_secret(secret: str) -> str:
    """Secrets made before Standard Webhooks were plain strings: their bytes are the key."""
    if secret.startswith(SECRET_PREFIX):
        return secret
    return SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    signing_secrets: list[str],
    message_id: str,
    payload: dict[str, Any],
) -> str | None:
    """POSTs one message signed by the Standard Webhooks specification (``webhook-id``,
    ``webhook-timestamp``, ``webhook-signature: v1,<base64>`` over ``id.timestamp.body``; one
    signature per secret while one is rotated). ``message_id`` stays the same across retries.
    Returns ``None`` when the receiver took it, else ``timeout``, ``refused``, ``tls`` or
    ``HTTP <status>``."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    sent_at = datetime.now(UTC).replace(microsecond=0)
    signatures = " ".join(
        Webhook(as_standard_secret(secret)).sign(message_id, sent_at, body)
        for secret in signing_secrets
    )
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signatures,
    }
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
    except (httpx.HTTPError, OSError) as exc:
        return failure_reason(exc)
    return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


def outcome(error: str | None, attempts: int) -> dict[str, Any]:
    """The outbox row's new values after an attempt: sent, retried with backoff (10 s doubling to
    an hour), or given up after ``MAX_ATTEMPTS``."""
    now = datetime.now(UTC)
    if error is None:
        return {"sent_at": now, "last_error": None}
    if attempts >= MAX_ATTEMPTS:
        return {"failed_at": now, "last_error": error}
    backoff = timedelta(seconds=min(10 * 2 ** (attempts - 1), 3600))
    return {"last_error": error, "next_attempt_at": now + backoff}
