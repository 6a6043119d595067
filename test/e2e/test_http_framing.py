"""HTTP message framing (RFC 9112 6.3) on the plain and the TLS listener, over
raw sockets. Each request below carries a second request, a PUT that would
create a device, placed where a server that framed the first one loosely
would read it as a request of its own. The node must answer the first
request 400 (501 for a transfer coding it does not implement) with a JSON
error and `Connection: close`, close the connection, and never run the
embedded PUT: afterwards GET shows no such device.

Below the routes: rest/src/bounded_stream.cpp checks the head before
cpp-httplib sees its end and the chunked body as it passes. cpp-httplib
0.11 alone never reads a GET's body, takes a chunk size with strtoul, and
keeps the connection after a bad chunk, so each of these ran the PUT."""
from __future__ import annotations

import base64
import json
import socket
import ssl
import time
from itertools import count

import pytest

from registrar_fixtures import add_user
from test_tls import make_cert

PASSWORD = "alice-Secret-1"
AUTH = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
TIMEOUT = 4.0  # the node's idle timeout is 5 s: a close before it is the node's answer
_names = count(1)


class Target:
    """A running node, spoken to in plain HTTP or over TLS."""

    def __init__(self, node, tls_ca=None):
        self.node = node
        self.port = node.http_port
        self.context = None
        if tls_ca is not None:
            self.context = ssl.create_default_context(cafile=str(tls_ca))

    def connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        if self.context is not None:
            s = self.context.wrap_socket(s, server_hostname="127.0.0.1")
        return s

    def exchange(self, raw: bytes):
        """Sends `raw` and reads to the close. Returns (answer, closed, seconds)."""
        s = self.connect()
        try:
            try:
                s.sendall(raw)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the node may refuse and close before all is sent: its answer is read
            t0 = time.monotonic()
            out = b""
            closed = False
            for _ in range(10000):  # bounded: each pass reads >= 1 byte or ends
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    break
                except (ConnectionResetError, ssl.SSLError):
                    closed = True
                    break
                if not chunk:
                    closed = True
                    break
                out += chunk
            return out, closed, time.monotonic() - t0
        finally:
            s.close()

    def request(self, method: str, path: str, body: bytes = b"") -> tuple:
        """One well-framed request (Connection: close): (status, body)."""
        raw = (f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               f"Connection: close\r\n\r\n").encode() + body
        out, _, _ = self.exchange(raw)
        head, _, rest = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 "), out[:200]
        return int(head.split()[1]), rest


@pytest.fixture(scope="module", params=["plain", "tls"])
def target(request, node_factory, tmp_path_factory):
    base = tmp_path_factory.mktemp(f"framing-{request.param}")
    data = base / "data"
    data.mkdir()
    add_user(data, "alice", PASSWORD)
    args = ["--label", "uw"]
    cert = None
    if request.param == "tls":
        cert, key = make_cert(base)
        args += ["--tls-cert", str(cert), "--tls-key", str(key)]
    node = node_factory.start(f"framing-{request.param}", devices=None, data_dir=data,
                              extra_args=args)
    t = Target(node, cert)
    try:
        last = None
        for _ in range(200):  # bounded: ~10 s
            try:
                last = t.request("GET", "/api/v1/status")
                if last[0] == 200:
                    break
            except (OSError, AssertionError) as e:
                last = e
            time.sleep(0.05)
        assert last and last[0] == 200, f"node not ready: {last}\n{node.log_tail()}"
        yield t
    finally:
        node.stop()


def smuggled_put(name: str) -> bytes:
    body = json.dumps({"ipv4": "192.0.2.77"}).encode()
    return (f"PUT /api/v1/devices/{name} HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def new_name() -> str:
    return f"smuggled{next(_names)}.alice.uw"


def assert_refused_and_not_run(target, raw: bytes, name: str, status: int = 400,
                               says: str = ""):
    answer, closed, took = target.exchange(raw)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), answer[:300]
    assert b"\r\nConnection: close" in head, head
    error = json.loads(body[:body.index(b"}") + 1])["error"]
    assert says in error, error
    assert answer.count(b"HTTP/1.1 ") == 1, f"a second answer: {answer[:600]!r}"
    assert closed, f"connection still open {took:.1f} s after the {status}"
    # The embedded PUT did not run.
    got, _ = target.request("GET", f"/api/v1/devices/{name}")
    assert got == 404, f"the embedded request created {name}"


def test_the_embedded_request_creates_a_device_when_sent_on_its_own(target):
    """The control: the PUT the other tests embed does create a device, so a
    404 afterwards means it did not run."""
    name = new_name()
    status, _ = target.request("PUT", f"/api/v1/devices/{name}",
                               json.dumps({"ipv4": "192.0.2.77"}).encode())
    assert status == 201
    assert target.request("GET", f"/api/v1/devices/{name}")[0] == 200
    # And a well-framed request pipelined after a chunked one is still served.
    put = smuggled_put(name)
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3;ext=1\r\nabc\r\n0\r\n\r\n" + put.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1))
    answer, closed, _ = target.exchange(raw)
    assert answer.count(b"HTTP/1.1 ") == 2 and b"HTTP/1.1 200 " in answer, answer[:600]


def test_content_length_and_transfer_encoding(target):
    name = new_name()
    put = smuggled_put(name)
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + put)
    assert_refused_and_not_run(target, raw, name, says="both Content-Length and Transfer-Encoding")


def test_transfer_encoding_and_content_length(target):
    name = new_name()
    put = smuggled_put(name)
    body = b"0\r\n\r\n" + put
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Content-Length: %d\r\n\r\n" % len(body)) + body
    assert_refused_and_not_run(target, raw, name, says="both Content-Length and Transfer-Encoding")


def test_two_differing_content_length_lines(target):
    name = new_name()
    put = smuggled_put(name)
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
           b"Content-Length: %d\r\n\r\n" % len(put)) + put
    assert_refused_and_not_run(target, raw, name, says="differing Content-Length")


def test_a_differing_content_length_list(target):
    name = new_name()
    put = smuggled_put(name)
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nContent-Length: 0, %d\r\n\r\n" % len(put)
           ) + put
    assert_refused_and_not_run(target, raw, name, says="differing Content-Length")


@pytest.mark.parametrize("value", [b"+0", b"-0", b"0x0", b"0 0", b"%30",
                                   b"99999999999999999999999"])
def test_invalid_content_length(target, value):
    name = new_name()
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + b"\r\n\r\n" +
           smuggled_put(name))
    assert_refused_and_not_run(target, raw, name, says="invalid Content-Length")


@pytest.mark.parametrize("coding,status", [(b"gzip", 400), (b"chunked, identity", 400),
                                           (b"chunked, chunked", 400), (b"gzip, chunked", 501)])
def test_transfer_encoding_other_than_chunked(target, coding, status):
    name = new_name()
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: " + coding + b"\r\n\r\n" +
           b"0\r\n\r\n" + smuggled_put(name))
    assert_refused_and_not_run(target, raw, name, status=status)


def test_get_whose_body_is_a_request(target):
    name = new_name()
    put = smuggled_put(name)
    raw = (b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(put)) + put
    assert_refused_and_not_run(target, raw, name, says="a GET request must not have a body")


@pytest.mark.parametrize("size,says", [(b"zz", "not a hex number"),
                                       (b"1ffffffffffffffff", "more than 16 hex digits")])
def test_bad_chunk_size(target, size, says):
    name = new_name()
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size +
           b"\r\n" + smuggled_put(name))
    assert_refused_and_not_run(target, raw, name, says=says)


def test_chunk_data_without_its_crlf(target):
    """cpp-httplib alone ends the body at a chunk not followed by CRLF and
    reads what follows as the next request."""
    name = new_name()
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2\r\nabX\r\n" + smuggled_put(name))
    assert_refused_and_not_run(target, raw, name, says="chunk data not followed by CRLF")


@pytest.mark.parametrize("ext,says", [(b";a\nb", "control character"),
                                      (b";" + b"e" * 300, "longer than 256 bytes"),
                                      (b" x", "other than an extension")],
                         ids=["bare-LF", "300-bytes", "junk-after-size"])
def test_chunk_extension_abuse(target, ext, says):
    name = new_name()
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2" + ext + b"\r\nab\r\n0\r\n\r\n" + smuggled_put(name))
    assert_refused_and_not_run(target, raw, name, says=says)


def test_refusals_are_counted(target):
    name = new_name()
    raw = (b"POST /nic/update HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
           + smuggled_put(name))
    assert_refused_and_not_run(target, raw, name)
    status, metrics = target.request("GET", "/metrics")
    assert status == 200
    line = [l for l in metrics.decode().splitlines()
            if l.startswith('pweb_http_refused_total{reason="bad_framing"}')]
    assert line and int(line[0].split()[-1]) >= 1, line
