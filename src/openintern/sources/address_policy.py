"""Which addresses a model-chosen URL may reach: public ones only (SSRF protection).

The web tool runs on the host, so a URL the model picks must not reach the host's own
services (loopback), the local network (private ranges), cloud metadata (link-local
169.254.169.254, ``fd00:ec2::254``, Alibaba's 100.100.100.200 in shared space) or other
non-global space. The check runs on the addresses the name *resolves to* (every one of
them), and the connection is then made to a checked address, so a DNS answer that changes
between check and connect (rebinding) cannot slip through. The user may open hosts or
networks on purpose (``web_fetch_allow``: an intranet wiki, a local test server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class AddressRefused(Exception):
    """The URL's host is (or resolves to) an address the policy refuses."""


def _embedded_v4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def why_not_public(address: IPAddress) -> str | None:
    """What kind of non-public address this is, or None for a public one."""
    inner = _embedded_v4(address)
    if inner is not None:
        reason = why_not_public(inner)
        return f"{reason} (inside the IPv6 address {address})" if reason else None
    if address.is_loopback:
        return "a loopback address (this machine's own services)"
    if address.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private and not address.is_global:
        return "a private-network address"
    if not address.is_global:
        return "not a public address (shared, reserved or special-purpose range)"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses only, except the hosts and networks the user opened."""

    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_allowlist(cls, entries: Iterable[str]) -> AddressPolicy:
        """From ``web_fetch_allow`` entries: host names, IP addresses or CIDRs."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            text = entry.strip()
            if not text:
                continue
            try:
                networks.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                hosts.add(text.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        """Whether the user opened this host name."""
        return host.lower().rstrip(".") in self.allowed_hosts

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be reached, or None."""
        if any(address in network for network in self.allowed_networks
               if network.version == address.version):
            return None
        return why_not_public(address)

    async def resolve(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, all of them allowed (else
        ``AddressRefused`` naming the first refused one)."""
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise AddressRefused(f"cannot resolve {host}: {exc.strerror or exc}") from None
            addresses = []
            for info in infos:
                raw = str(info[4][0]).split("%", 1)[0]  # drop an IPv6 zone index
                addresses.append(ipaddress.ip_address(raw))
        if self.host_allowed(host):
            return [str(a) for a in dict.fromkeys(addresses)]
        for address in addresses:
            reason = self.refusal(address)
            if reason is not None:
                shown = host if literal is not None else f"{host} (resolves to {address})"
                raise AddressRefused(
                    f"refusing to fetch from {shown}: it is {reason}. The web tool only "
                    "reaches public internet addresses; the user can allow a host or "
                    "network with the web_fetch_allow setting.")
        return [str(a) for a in dict.fromkeys(addresses)]


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
