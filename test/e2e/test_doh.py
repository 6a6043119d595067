"""DNS over HTTPS (RFC 8484) at /dns-query: real clients only. kdig +https
(HTTP/2 over TLS, POST and GET) and curl over HTTP/1.1 and HTTP/2 get the same
answer as UDP, with Cache-Control max-age no longer than the smallest TTL;
bad requests get 400/413/415/405 and change nothing; an HTTP/2 request for
another path is sent back to HTTP/1.1 (curl retries it there); an HTTP/2
request over the header limit is refused and counted."""
from __future__ import annotations

import base64
import re
import shutil
import ssl
import subprocess
import urllib.request

import dns.message
import dns.rcode
import dns.rdatatype
import dns.update
import pytest

from test_tls import make_cert

DEVICE = "laptop.alice.uw.dht."
DEVICE_V4 = "192.0.2.10"
TTL = 60


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (CI installs it): DoH cannot be tested with it")
    return path


@pytest.fixture(scope="module")
def tls_node(node_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("doh-cert")
    cert, key = make_cert(d)
    n = node_factory.start("doh", extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    n.cert = cert
    yield n
    n.stop()


def b64url(wire: bytes) -> str:
    return base64.urlsafe_b64encode(wire).rstrip(b"=").decode()


def query_wire(name: str = DEVICE, rdtype=dns.rdatatype.A) -> bytes:
    q = dns.message.make_query(name, rdtype)
    q.id = 0  # RFC 8484 4.1: cache friendly
    return q.to_wire()


class Curl:
    def __init__(self, status: int, version: str, headers: dict, body: bytes, rc: int, err: str):
        self.status, self.version, self.headers, self.body = status, version, headers, body
        self.rc, self.err = rc, err

    def __repr__(self):
        return (f"<Curl rc={self.rc} {self.status} HTTP/{self.version} {self.headers} "
                f"{self.body[:200]!r} {self.err}>")


def curl(node, tmp_path, http: str, path: str, *, post: bytes | None = None,
         content_type: str = "application/dns-message", method: str | None = None,
         extra: list | None = None, tls: bool = True) -> Curl:
    """One request with curl (--http1.1 or --http2); body and headers back."""
    body_file, head_file = tmp_path / "body", tmp_path / "head"
    scheme = "https" if tls else "http"
    cmd = [tool("curl"), "-sS", "--max-time", "10", f"--{http}", "-o", str(body_file),
           "-D", str(head_file), "-w", "%{http_code} %{http_version}",
           "-H", "Accept: application/dns-message"]
    if tls:
        cmd += ["--cacert", str(node.cert)]
    if post is not None:
        (tmp_path / "post").write_bytes(post)
        cmd += ["--data-binary", f"@{tmp_path / 'post'}", "-H", f"Content-Type: {content_type}"]
    if method:
        cmd += ["-X", method]
    cmd += (extra or []) + [f"{scheme}://127.0.0.1:{node.http_port}{path}"]
    for f in (body_file, head_file):
        f.unlink(missing_ok=True)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    status, _, version = p.stdout.partition(" ")
    headers = {}
    if head_file.exists():
        # The last response's fields (after a retry there may be two).
        block = head_file.read_bytes().decode(errors="replace").strip().split("\r\n\r\n")[-1]
        for line in block.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = body_file.read_bytes() if body_file.exists() else b""
    return Curl(int(status or 0), version, headers, body, p.returncode, p.stderr)


def assert_device_answer(r: Curl, version: str):
    assert r.status == 200 and r.version == version, r
    assert r.headers.get("content-type") == "application/dns-message", r
    msg = dns.message.from_wire(r.body)
    assert msg.rcode() == dns.rcode.NOERROR and msg.id == 0, msg
    assert [rd.to_text() for rrset in msg.answer for rd in rrset] == [DEVICE_V4], msg
    assert r.headers.get("cache-control") == f"max-age={TTL}", r


@pytest.mark.parametrize("http,version", [("http1.1", "1.1"), ("http2", "2")])
def test_curl_get_and_post(tls_node, tmp_path, http, version):
    wire = query_wire()
    assert_device_answer(curl(tls_node, tmp_path, http, f"/dns-query?dns={b64url(wire)}"), version)
    assert_device_answer(curl(tls_node, tmp_path, http, "/dns-query", post=wire), version)


def test_plain_http_get(node, tmp_path):
    r = curl(node, tmp_path, "http1.1", f"/dns-query?dns={b64url(query_wire())}", tls=False)
    assert_device_answer(r, "1.1")


def test_negative_answer_is_cached_for_the_soa_minimum(tls_node, tmp_path):
    r = curl(tls_node, tmp_path, "http2",
             f"/dns-query?dns={b64url(query_wire('nosuch.alice.uw.dht.'))}")
    assert r.status == 200, r
    msg = dns.message.from_wire(r.body)
    assert msg.rcode() == dns.rcode.NXDOMAIN, msg
    soa = msg.authority[0]
    assert r.headers["cache-control"] == f"max-age={min(soa.ttl, soa[0].minimum)}", (r, msg)


def metrics(node) -> dict:
    """Unlabelled samples of /metrics (HTTPS: --tls-cert makes the API HTTPS)."""
    ctx = ssl.create_default_context(cafile=str(node.cert))
    ctx.check_hostname = False
    with urllib.request.urlopen(f"https://127.0.0.1:{node.http_port}/metrics", timeout=5,
                                context=ctx) as r:
        text = r.read().decode()
    return {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
            if line and not line.startswith("#") and "{" not in line}


def test_doh_queries_are_counted_apart_from_udp_and_tcp(tls_node, tmp_path):
    before = metrics(tls_node)
    wire = query_wire()
    assert_device_answer(curl(tls_node, tmp_path, "http2", f"/dns-query?dns={b64url(wire)}"), "2")
    assert_device_answer(curl(tls_node, tmp_path, "http2", "/dns-query", post=wire), "2")
    assert_device_answer(curl(tls_node, tmp_path, "http1.1", "/dns-query", post=wire), "1.1")
    # Refused before it is a DNS message: not a DoH query.
    assert curl(tls_node, tmp_path, "http2", "/dns-query?dns=AAAB").status == 400
    after = metrics(tls_node)
    assert after["pweb_dns_doh_queries_total"] - before["pweb_dns_doh_queries_total"] == 3
    for other in ("pweb_dns_udp_queries_total", "pweb_dns_tcp_queries_total",
                  "pweb_dns_dot_queries_total"):
        assert after[other] == before[other], other


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_kdig_over_https(tls_node, method):
    args = [tool("kdig"), "@127.0.0.1", "-p", str(tls_node.http_port), "+https" if method ==
            "POST" else "+https-get", f"+tls-ca={tls_node.cert}", "+tls-hostname=127.0.0.1",
            "+timeout=5", "+retry=0", DEVICE, "A"]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    assert re.search(rf"^{re.escape(DEVICE)}\s+{TTL}\s+IN\s+A\s+{DEVICE_V4}$", p.stdout,
                     re.M), p.stdout
    assert f"(HTTP/2-{method})" in p.stdout and "status: NOERROR" in p.stdout, p.stdout


@pytest.mark.parametrize("http", ["http1.1", "http2"])
def test_bad_requests_are_refused(tls_node, tmp_path, http):
    wire = query_wire()
    standard = base64.b64encode(b"\xfb" * 15).decode()  # '+' and '/', not base64url
    cases = [
        ("/dns-query", {}, 400),                                     # no dns parameter
        ("/dns-query?dns=", {}, 400),                                # empty
        (f"/dns-query?dns={b64url(wire)}==", {}, 400),               # padded
        (f"/dns-query?dns={standard}", {}, 400),
        (f"/dns-query?dns={b64url(wire[:11])}", {}, 400),           # shorter than a header
        ("/dns-query", {"post": wire, "content_type": "application/json"}, 415),
        ("/dns-query", {"post": wire, "content_type": "text/plain"}, 415),
        ("/dns-query", {"post": b"\0" * 65536}, 413),
        ("/dns-query", {"post": b"\0" * 5}, 400),
        ("/dns-query", {"method": "PUT", "post": wire}, 405),
    ]
    for path, kw, want in cases:
        r = curl(tls_node, tmp_path, http, path, **kw)
        assert r.status == want, (path, kw.get("content_type"), r)
        assert r.headers.get("content-type", "").startswith("application/json"), r
        assert "cache-control" not in r.headers, r
        if want == 405:
            assert "GET" in r.headers.get("allow", "") and "POST" in r.headers["allow"], r


def test_a_response_or_an_update_changes_nothing(tls_node, tmp_path):
    # A DNS response posted as a query: no DNS answer, a 400.
    response = dns.message.make_response(dns.message.make_query(DEVICE, "A")).to_wire()
    r = curl(tls_node, tmp_path, "http2", "/dns-query", post=response)
    assert r.status == 400, r
    # An RFC 2136 UPDATE over DoH is answered as DNS answers an unsigned one:
    # refused, and the device keeps its address.
    up = dns.update.UpdateMessage("dht.")
    up.replace("laptop.alice.uw", 60, "A", "192.0.2.99")
    r = curl(tls_node, tmp_path, "http2", "/dns-query", post=up.to_wire())
    assert r.status == 200, r
    assert dns.message.from_wire(r.body).rcode() != dns.rcode.NOERROR, r
    rep = tls_node.ask(DEVICE, dns.rdatatype.A)
    assert [rd.to_text() for rrset in rep.msg.answer for rd in rrset] == [DEVICE_V4], rep
    assert tls_node.alive()


def test_other_paths_over_http2_go_back_to_http1(tls_node, tmp_path):
    # The API is served by HTTP/1.1: curl, offered HTTP_1_1_REQUIRED, retries there.
    r = curl(tls_node, tmp_path, "http2", "/api/v1/status")
    assert r.status == 200 and r.version == "1.1" and b'"version"' in r.body, r


def metric(node, tmp_path, name: str, labels: str) -> int:
    r = curl(node, tmp_path, "http1.1", "/metrics")
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\d+)$", r.body.decode(), re.M)
    assert m, r.body.decode()[:2000]
    return int(m.group(1))


def test_http2_header_limit(tls_node, tmp_path):
    before = metric(tls_node, tmp_path, "pweb_http_refused_total", 'reason="head_too_large"')
    big = ["-H", "X-Big: " + "a" * 20000]
    r = curl(tls_node, tmp_path, "http2", f"/dns-query?dns={b64url(query_wire())}", extra=big)
    assert r.status != 200, r
    assert metric(tls_node, tmp_path, "pweb_http_refused_total",
                  'reason="head_too_large"') == before + 1
    # The node serves on.
    assert_device_answer(curl(tls_node, tmp_path, "http2", "/dns-query", post=query_wire()), "2")


def test_http2_body_limit(tls_node, tmp_path):
    # Past 64 KiB the HTTP/2 side stops reading the body: 413, as on HTTP/1.1.
    before = metric(tls_node, tmp_path, "pweb_http_refused_total", 'reason="body_too_large"')
    r = curl(tls_node, tmp_path, "http2", "/dns-query", post=b"\0" * 100_000)
    assert r.status == 413, r
    assert metric(tls_node, tmp_path, "pweb_http_refused_total",
                  'reason="body_too_large"') == before + 1


# Raw HTTP/2 frames (RFC 9113 4.1) for what no client does on purpose.
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") \
        + payload


def literal_headers(fields) -> bytes:
    """An HPACK block of literal fields without indexing, no Huffman (RFC 7541 6.2.2)."""
    out = b""
    for name, value in fields:
        assert len(name) < 127 and len(value) < 127
        out += b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value
    return out


def h2_connect(node):
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=str(node.cert))
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection(("127.0.0.1", node.http_port), timeout=20)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    assert s.selected_alpn_protocol() == "h2"
    s.sendall(PREFACE + frame(4, 0, 0))  # an empty SETTINGS
    return s


def closed_after(s) -> float:
    """Seconds until the server closes the connection (reading everything)."""
    import ssl
    import time
    t0 = time.monotonic()
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, ssl.SSLError, TimeoutError):
        pass
    return time.monotonic() - t0


def test_http2_idle_and_slow_requests_are_closed(tls_node, tmp_path):
    import threading
    before = metric(tls_node, tmp_path, "pweb_http_refused_total", 'reason="too_slow"')
    idle = h2_connect(tls_node)
    slow = h2_connect(tls_node)
    # A POST whose body never comes: the request must be whole within 10 s.
    slow.sendall(frame(1, 0x4, 1, literal_headers([
        (b":method", b"POST"), (b":scheme", b"https"), (b":path", b"/dns-query"),
        (b":authority", b"127.0.0.1"), (b"content-type", b"application/dns-message")])))
    took = {}
    threads = [threading.Thread(target=lambda k=k, s=s: took.__setitem__(k, closed_after(s)))
               for k, s in (("idle", idle), ("slow", slow))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    idle.close()
    slow.close()
    assert 4 <= took["idle"] <= 8, took    # 5 s without a request
    assert 9 <= took["slow"] <= 13, took   # 10 s for a whole request
    assert metric(tls_node, tmp_path, "pweb_http_refused_total",
                  'reason="too_slow"') == before + 1


def read_frames(s, until_seconds: float):
    """(type, flags, stream, payload) of the frames the server sends, until it
    closes or the time is up."""
    import ssl
    import time
    buf = b""
    end = time.monotonic() + until_seconds
    s.settimeout(0.5)
    while time.monotonic() < end:
        try:
            chunk = s.recv(65536)
        except (TimeoutError, ssl.SSLWantReadError):
            continue
        except (ConnectionResetError, ssl.SSLError):
            break
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            n = int.from_bytes(buf[:3], "big")
            yield buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]
            buf = buf[9 + n:]


def test_http2_concurrent_streams_are_bounded(tls_node):
    # 101 requests left open on one connection: the 101st is refused
    # (RST_STREAM REFUSED_STREAM), the SETTINGS said 100.
    s = h2_connect(tls_node)
    try:
        block = literal_headers([(b":method", b"POST"), (b":scheme", b"https"),
                                 (b":path", b"/dns-query"), (b":authority", b"127.0.0.1"),
                                 (b"content-type", b"application/dns-message")])
        s.sendall(b"".join(frame(1, 0x4, 2 * i + 1, block) for i in range(101)))
        settings, refused = None, []
        for ftype, flags, stream, payload in read_frames(s, 5):
            if ftype == 4 and not flags & 1:
                settings = {int.from_bytes(payload[i:i + 2], "big"):
                            int.from_bytes(payload[i + 2:i + 6], "big")
                            for i in range(0, len(payload), 6)}
            if ftype == 3:
                refused.append((stream, int.from_bytes(payload, "big")))
                break
        assert settings and settings.get(3) == 100, settings  # MAX_CONCURRENT_STREAMS
        assert refused == [(201, 7)], refused  # REFUSED_STREAM
    finally:
        s.close()


def test_http2_request_bytes_per_connection_are_bounded(tls_node, tmp_path):
    # Five streams each sending 60,000 bytes of body (each under the 64 KiB
    # limit) and never ending: past 256 KiB held for one connection the
    # request is refused (413) and the connection ends. The sender keeps to
    # HTTP/2 flow control, reading the server's WINDOW_UPDATEs.
    import ssl
    before = metric(tls_node, tmp_path, "pweb_http_refused_total", 'reason="body_too_large"')
    s = h2_connect(tls_node)
    s.settimeout(5)
    block = literal_headers([(b":method", b"POST"), (b":scheme", b"https"),
                             (b":path", b"/dns-query"), (b":authority", b"127.0.0.1"),
                             (b"content-type", b"application/dns-message")])
    streams = [1, 3, 5, 7, 9]
    s.sendall(b"".join(frame(1, 0x4, sid, block) for sid in streams))
    window = {0: 65535, **{sid: 65535 for sid in streams}}
    left = {sid: 60_000 for sid in streams}
    buf, closed, statuses = b"", False, []
    try:
        for _ in range(2000):  # bounded: ~20 frames are enough
            sent = False
            for sid in streams:
                n = min(left[sid], window[sid], window[0], 16384)
                if n > 0:
                    s.sendall(frame(0, 0, sid, b"\0" * n))
                    left[sid] -= n
                    window[sid] -= n
                    window[0] -= n
                    sent = True
            if sent:
                continue
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            buf += chunk
            while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
                n = int.from_bytes(buf[:3], "big")
                ftype, sid = buf[3], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
                payload = buf[9:9 + n]
                buf = buf[9 + n:]
                if ftype == 8:  # WINDOW_UPDATE
                    window[sid] = window.get(sid, 0) + int.from_bytes(payload, "big")
                if ftype == 1:
                    statuses.append(sid)
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError, TimeoutError):
        closed = True
    finally:
        s.close()
    assert closed, (left, window)
    assert statuses, "no response before the close"
    assert metric(tls_node, tmp_path, "pweb_http_refused_total",
                  'reason="body_too_large"') == before + 1
