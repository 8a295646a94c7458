"""The upstream client honours the proxy environment (https_proxy, no_proxy), read once
per scheme and host."""

from __future__ import annotations

import urllib3
from idx_server.mirror.upstream import UpstreamClient


def client() -> UpstreamClient:
    return UpstreamClient(1, 1, 0, "idx-test")


def test_a_proxy_from_the_environment_is_used(monkeypatch):
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    monkeypatch.setenv("no_proxy", "internal.example")
    upstream = client()
    manager = upstream._manager("https://pypi.org/simple/six/")
    assert isinstance(manager, urllib3.ProxyManager)
    assert manager.proxy is not None
    assert manager.proxy.host == "proxy.example"
    assert upstream._manager("https://files.pythonhosted.org/x.whl") is not upstream._direct
    # no_proxy hosts and schemes without a proxy go direct.
    assert upstream._manager("https://internal.example/simple/") is upstream._direct
    assert upstream._manager("http://pypi.org/simple/") is upstream._direct


def test_the_environment_is_read_once_per_host(monkeypatch):
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    upstream = client()
    assert upstream._manager("https://pypi.org/simple/") is upstream._direct
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    assert upstream._manager("https://pypi.org/simple/six/") is upstream._direct
    assert isinstance(upstream._manager("https://other.example/"), urllib3.ProxyManager)
