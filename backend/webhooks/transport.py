"""Outbound webhook requests that cannot be pointed at the deployment's own network.

A registered URL is attacker-controlled input: without a check, `http://169.254.169.254/`
or `http://localhost:5432/` would let a tenant admin probe the inside of the deployment
(SSRF). So the host is resolved first, every address it resolves to must be public (not
private, loopback, link-local, multicast, reserved or unspecified) unless the allowlist
(`RAPPORT_WEBHOOK_ALLOWED_HOSTS`: host names or CIDRs) permits it, and the request is sent
to the address that was checked, not to the name: a DNS answer that changes between check
and connect (DNS rebinding) cannot redirect it. TLS still verifies the certificate against
the host name (sent as SNI). Redirects are not followed (a redirect could point anywhere).
Timeouts bound connect and read, and at most `max_bytes` of a response are read.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Self

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """The URL's host is not a public address and the allowlist does not permit it."""


@dataclass(frozen=True, slots=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, text: str | None) -> Self:
        entries = [e.strip().lower() for e in (text or "").split(",") if e.strip()]
        networks = tuple(ipaddress.ip_network(e, strict=False) for e in entries if "/" in e)
        return cls(frozenset(e for e in entries if "/" not in e), networks)

    def permits(self, host: str, address: IPAddress) -> bool:
        return host.lower() in self.hosts or str(address) in self.hosts or any(address in n for n in self.networks)


def is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is loopback too
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


async def resolve(host: str, port: int, allow: Allowlist) -> IPAddress:
    """The address to connect to; every address the name has must be permitted."""
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Refused(f"cannot resolve {host}: {exc.strerror}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    for address in addresses:
        if not is_public(address) and not allow.permits(host, address):
            raise Refused(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int | None  # the response's status code; None when there was no response
    duration_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


async def post(
    url: str, body: bytes, headers: dict[str, str], *, allow: Allowlist, timeout_s: float, max_bytes: int
) -> Outcome:
    """POST `body`; any 2xx answer is success, anything else (or no answer) an error."""
    started = time.monotonic()

    def outcome(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, round((time.monotonic() - started) * 1000), error)

    target = httpx.URL(url)
    if target.scheme not in ("http", "https") or not target.host:
        return outcome(None, "not an http(s) URL")
    try:
        address = await resolve(target.host, target.port or (443 if target.scheme == "https" else 80), allow)
    except Refused as exc:
        return outcome(None, f"refused: {exc}")
    host_header = target.netloc.decode("ascii").rpartition("@")[2]
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with (
            httpx.AsyncClient(timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST",
                target.copy_with(host=str(address)),
                content=body,
                headers={**headers, "Host": host_header},
                extensions=extensions,
            ) as response,
        ):
            seen = bytearray()
            async for chunk in response.aiter_raw():
                seen += chunk[: max_bytes - len(seen)]
                if len(seen) >= max_bytes:
                    break
    except httpx.TimeoutException:
        return outcome(None, f"timed out after {timeout_s:g} s")
    except httpx.HTTPError as exc:
        return outcome(None, f"{type(exc).__name__}: {exc}"[:500])
    if not 200 <= response.status_code < 300:
        text = seen[:200].decode("utf-8", "replace")
        return outcome(response.status_code, f"HTTP {response.status_code}" + (f": {text}" if text else ""))
    return outcome(response.status_code, None)
