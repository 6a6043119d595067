"""HTTP request limits: a connection that sends nothing is closed by the node
within its read timeout (10 s); oversized request lines and headers are
refused without taking the node down; many idle connections do not stop the
API from answering once they time out; the node serves on afterwards."""
from __future__ import annotations

import socket
import time

from registrar_fixtures import registrar_factory  # noqa: F401

READ_TIMEOUT = 10.0


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=READ_TIMEOUT + 5)
    return s


def exchange(port, raw: bytes) -> bytes:
    s = connect(port)
    try:
        s.sendall(raw)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def test_idle_connection_is_closed_within_the_read_timeout(registrar_factory):  # noqa: F811
    r = registrar_factory.start("http-idle")
    try:
        s = connect(r.http_port)
        t0 = time.monotonic()
        try:
            data = s.recv(1)  # blocks until the server closes the connection
        except ConnectionResetError:
            data = b""
        took = time.monotonic() - t0
        s.close()
        assert data == b"", data
        assert took <= READ_TIMEOUT + 2, f"idle connection held {took:.1f}s"
    finally:
        r.stop()


def test_oversized_request_line_and_headers_refused(registrar_factory):  # noqa: F811
    r = registrar_factory.start("http-big")
    try:
        long_uri = b"GET /api/v1/devices?cursor=" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        out = exchange(r.http_port, long_uri)
        assert not out.startswith(b"HTTP/1.1 200"), out[:200]
        big_header = (b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"b" * 20000 +
                      b"\r\n\r\n")
        out = exchange(r.http_port, big_header)
        assert not out.startswith(b"HTTP/1.1 200"), out[:200]
        many = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 5000 + b"\r\n"
        out = exchange(r.http_port, many)
        assert out.startswith(b"HTTP/1.1 431"), out[:200]
        assert b"header fields" in out
        # Still serving.
        assert r.get("/api/v1/status").status == 200
    finally:
        r.stop()


def test_many_idle_connections_only_delay_the_api(registrar_factory):  # noqa: F811
    """More idle connections than HTTP workers (128): the API answers again
    once they time out, and DNS never waits on HTTP at all."""
    r = registrar_factory.start("http-many")
    socks = []
    try:
        for _ in range(200):
            socks.append(connect(r.http_port))
        rep = r.node.ask("dht.", "SOA")
        assert rep.rcode == 0, "DNS must not wait on HTTP"
        t0 = time.monotonic()
        res = r.get("/api/v1/status", timeout=READ_TIMEOUT * 3)
        took = time.monotonic() - t0
        assert res.status == 200, res
        assert took <= READ_TIMEOUT + 5, f"API blocked {took:.1f}s behind idle connections"
    finally:
        for s in socks:
            s.close()
        r.stop()
