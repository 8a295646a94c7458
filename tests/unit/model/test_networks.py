"""Trusted proxies and the client address they forward."""

from __future__ import annotations

import pytest
from idx_server.model.networks import client_address, in_networks


@pytest.mark.parametrize(
    ("address", "networks", "expected"),
    [
        ("10.0.0.1", ("10.0.0.0/8",), True),
        ("::ffff:10.0.0.1", ("10.0.0.1",), True),  # IPv4-mapped
        ("fe80::1%eth0", ("fe80::/10",), True),  # with a zone
        ("10.0.0.2", ("10.0.0.1",), False),
        ("not-an-address", ("10.0.0.1",), False),
        ("10.0.0.1", (), False),
        (None, ("10.0.0.1",), False),
    ],
)
def test_in_networks(address, networks, expected):
    assert in_networks(address, networks) is expected


TRUSTED = ("127.0.0.1", "10.1.0.0/16")


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "expected"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("127.0.0.1", None, "127.0.0.1"),  # no header: the proxy itself
        ("192.0.2.1", "203.0.113.7", "192.0.2.1"),  # not a trusted proxy: not believed
        ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the left part is the client's
        ("127.0.0.1", "203.0.113.7, 10.1.2.3", "203.0.113.7"),  # proxies chained
        ("127.0.0.1", "10.1.2.3", "127.0.0.1"),  # only proxies: the peer
        ("127.0.0.1", "unknown", "127.0.0.1"),  # not an address
        ("127.0.0.1", " 2001:db8::1 ", "2001:db8::1"),
    ],
)
def test_client_address(peer, forwarded_for, expected):
    assert client_address(peer, forwarded_for, TRUSTED) == expected
