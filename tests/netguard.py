"""The socket guard of the AzureML test packages: only 127.0.0.1 may be reached.

The SDKs are real; only the service boundary is replaced (a stand-in on 127.0.0.1).
A request to any other address is refused and recorded, and the test fails on it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@contextmanager
def guard_sockets(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuse every connection and DNS lookup beyond loopback; fail if any was tried."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if sock.family == socket.AF_UNIX or host in LOCAL_HOSTS:
            return real_connect(sock, address)
        attempts.append(address)
        raise ConnectionRefusedError(f"test socket guard: no network ({address})")

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host in LOCAL_HOSTS or host is None:
            return real_getaddrinfo(host, *args, **kwargs)
        attempts.append(host)
        raise socket.gaierror(socket.EAI_NONAME, f"test socket guard: no DNS ({host})")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    assert not attempts, f"network attempts outside 127.0.0.1: {attempts}"
