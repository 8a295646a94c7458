"""Addresses and networks: whether a connection comes from a trusted reverse proxy, and
which client a trusted proxy says it forwards."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache


def in_networks(address: str | None, networks: Sequence[str]) -> bool:
    """Whether ``address`` (an IP address, IPv6 possibly with a zone or IPv4-mapped) is
    in one of ``networks`` (addresses or networks such as ``10.0.0.0/8``)."""
    if not address or not networks:
        return False
    try:
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return any(parsed in network for network in _parsed(tuple(networks)))


@lru_cache(maxsize=64)
def _parsed(networks: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(network, strict=False) for network in networks)


def client_address(peer: str, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str:
    """The client's address: the connection's ``peer``, unless that is a trusted proxy
    sending ``X-Forwarded-For``; then the rightmost address in it that is not a trusted
    proxy itself (what is left of it the client may have made up)."""
    if not forwarded_for or not in_networks(peer, trusted_proxies):
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",")]):
        if in_networks(hop, trusted_proxies):
            continue
        try:
            return str(ipaddress.ip_address(hop.split("%", 1)[0]))
        except ValueError:
            return peer  # not an address: believe the connection
    return peer
