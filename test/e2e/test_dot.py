"""DNS over TLS (--dot-listen, RFC 7858): the real kdig over TLS, verifying the
node's certificate against the test's CA and host name, gets device answers;
pipelined queries on one TLS connection are all answered with their IDs; ALPN
"dot" is chosen when offered; plain
DNS on the DoT port gets nothing; a handshake that stalls is cut; DoT is
counted apart on /metrics; bad TLS files or a missing certificate stop the
node at start with an error naming the file or option."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import dns.rcode
import dns.rdatatype as T
import pytest

import dnstools
from conftest import free_port, node_binary
from pweb_dns import make_query, parse, tcp_frame, tcp_read_frame

HOSTNAME = "dot.pweb.test"
HANDSHAKE_DEADLINE = 5.0  # the node's, seconds


def make_ca_and_cert(d):
    """A test CA, and a server certificate it signed for HOSTNAME and 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (CI installs it): cannot make test certificates")

    def run(*args):
        subprocess.run([openssl, *args], check=True, capture_output=True, timeout=60)

    ca_key, ca = d / "ca.key", d / "ca.crt"
    key, csr, cert = d / "dot.key", d / "dot.csr", d / "dot.crt"
    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-days", "2", "-subj", "/CN=pweb test CA", "-keyout", str(ca_key), "-out", str(ca))
    run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-subj", f"/CN={HOSTNAME}", "-keyout", str(key), "-out", str(csr))
    ext = d / "san.ext"
    ext.write_text(f"subjectAltName=DNS:{HOSTNAME},IP:127.0.0.1\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


@pytest.fixture(scope="module")
def dot(node_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("dot-certs")
    ca, cert, key = make_ca_and_cert(d)
    port = free_port()
    node = node_factory.start("dot", extra_args=["--dot-listen", f"127.0.0.1:{port}",
                                                 "--tls-cert", str(cert), "--tls-key", str(key)])
    node.dot_port = port
    node.ca = ca
    # Bounded: the DoT listener opened with the DNS ones, before readiness.
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    yield node
    node.stop()


def kdig(node, args):
    if dnstools.available("kdig") is None:
        pytest.fail("kdig is not installed (knot-dnsutils; CI installs it)")
    return dnstools.run("kdig", "127.0.0.1", node.dot_port,
                        ["+tls", f"+tls-ca={node.ca}", f"+tls-hostname={HOSTNAME}"] + args)


def test_kdig_over_tls_gets_device_answers(dot):
    res = kdig(dot, ["laptop.alice.uw.dht.", "A"])
    assert res.returncode == 0 and res.status == "NOERROR", res.text
    assert [r[4] for r in res.records("ANSWER", "A")] == ["192.0.2.10"], res.text
    assert "aa" in res.flags, res.text
    res = kdig(dot, ["laptop.alice.uw.dht.", "AAAA"])
    assert [r[4] for r in res.records("ANSWER", "AAAA")] == ["2001:db8::10"], res.text
    res = kdig(dot, ["nosuch.alice.uw.dht.", "A"])
    assert res.status == "NXDOMAIN", res.text


def test_kdig_checks_the_certificate(dot):
    """The answers above are over a verified session: the wrong name fails."""
    res = kdig(dot, ["+tls-hostname=other.pweb.test", "laptop.alice.uw.dht.", "A"])
    assert res.status is None and res.returncode != 0, res.text


def tls_connect(node, alpn=("dot",)):
    ctx = ssl.create_default_context(cafile=str(node.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(list(alpn))
    raw = socket.create_connection(("127.0.0.1", node.dot_port), timeout=5)
    return ctx.wrap_socket(raw, server_hostname=HOSTNAME)


def test_alpn_dot_when_offered(dot):
    with tls_connect(dot) as s:
        assert s.selected_alpn_protocol() == "dot"
    # A client offering only other protocols goes on without ALPN (RFC 7858 needs none).
    with tls_connect(dot, alpn=("h2",)) as s:
        assert s.selected_alpn_protocol() is None
        s.sendall(tcp_frame(make_query("phone.alice.uw.dht.", T.A, qid=0x5400).to_wire()))
        data = tcp_read_frame(s, time.monotonic() + 2.0)
        assert data is not None and parse(data).id == 0x5400


MIX = [
    ("laptop.alice.uw.dht.", T.A, dns.rcode.NOERROR, ["192.0.2.10"]),
    ("laptop.alice.uw.dht.", T.AAAA, dns.rcode.NOERROR, ["2001:db8::10"]),
    ("phone.alice.uw.dht.", T.A, dns.rcode.NOERROR, ["192.0.2.11"]),
    ("nosuch.alice.uw.dht.", T.A, dns.rcode.NXDOMAIN, []),
    ("example.com.", T.A, dns.rcode.REFUSED, []),
]


def test_pipelined_queries_on_one_tls_connection(dot):
    n = 25
    expected, blob = {}, b""
    for i in range(n):
        qname, rdtype, rcode, addrs = MIX[i % len(MIX)]
        qid = 0x5100 + i
        expected[qid] = (qname, rcode, addrs)
        blob += tcp_frame(make_query(qname, rdtype, qid=qid).to_wire())
    got = {}
    with tls_connect(dot) as s:
        s.sendall(blob)  # all of them before reading anything
        deadline = time.monotonic() + 5.0
        for _ in range(n):
            data = tcp_read_frame(s, deadline)
            assert data is not None, f"only {len(got)} of {n} pipelined answers arrived"
            rep = parse(data)
            assert rep.id in expected and rep.id not in got, rep.id
            got[rep.id] = rep
        # The connection persists: one more query after the burst.
        s.sendall(tcp_frame(make_query("phone.alice.uw.dht.", T.A, qid=0x5200).to_wire()))
        data = tcp_read_frame(s, time.monotonic() + 2.0)
        assert data is not None and parse(data).id == 0x5200
    for qid, (qname, rcode, addrs) in expected.items():
        rep = got[qid]
        assert rep.msg.question[0].name.to_text() == qname, f"ID {qid}: wrong question"
        assert rep.rcode == rcode, f"ID {qid} {qname}: {rep!r}"
        assert [rd.to_text() for rr in rep.msg.answer for rd in rr] == addrs, rep


def test_plain_dns_on_the_dot_port_gets_nothing(dot):
    with socket.create_connection(("127.0.0.1", dot.dot_port), timeout=5) as s:
        s.sendall(tcp_frame(make_query("laptop.alice.uw.dht.", T.A, qid=0x5300).to_wire()))
        data = tcp_read_frame(s, time.monotonic() + 3.0)
    assert data is None or b"\xc0\x00\x02\x0a" not in data, "a DNS answer in clear on DoT"


def test_stalled_handshake_is_cut(dot):
    with socket.create_connection(("127.0.0.1", dot.dot_port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        t0 = time.monotonic()
        s.settimeout(HANDSHAKE_DEADLINE + 5)
        try:
            rest = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            rest = None
        took = time.monotonic() - t0
    assert rest == b"", f"not closed ({rest!r} after {took:.1f}s)"
    assert took <= HANDSHAKE_DEADLINE + 2, f"cut only after {took:.1f}s"


def test_dot_counted_on_metrics(dot):
    before = metrics(dot)
    kdig(dot, ["laptop.alice.uw.dht.", "A"])
    after = metrics(dot)
    assert after["pweb_dns_dot_queries_total"] >= before["pweb_dns_dot_queries_total"] + 1
    assert after["pweb_dns_dot_connections_total"] >= before["pweb_dns_dot_connections_total"] + 1
    assert after["pweb_dns_tcp_queries_total"] == before["pweb_dns_tcp_queries_total"]


def metrics(node):
    # --tls-cert makes the HTTP API HTTPS too.
    ctx = ssl.create_default_context(cafile=str(node.ca))
    ctx.check_hostname = False
    with urllib.request.urlopen(f"https://127.0.0.1:{node.http_port}/metrics", timeout=5,
                                context=ctx) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()[:2]
            out[name] = float(value)
    return out


def start_fails(tmp_path, *args):
    p = subprocess.run([node_binary(), "--label", "uw", "--data-dir", str(tmp_path / "d"),
                        "--dns-listen", f"127.0.0.1:{free_port()}", "--http-listen",
                        f"127.0.0.1:{free_port()}", "--gateway-listen", "127.0.0.1:0",
                        "--dht-port", "0", "--identity-bits", "2048", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p
    return p.stdout + p.stderr


def test_dot_without_a_certificate_stops_the_start(tmp_path):
    err = start_fails(tmp_path, "--dot-listen", f"127.0.0.1:{free_port()}")
    assert "--dot-listen" in err and "--tls-cert" in err, err


@pytest.mark.parametrize("case", ["not_pem", "key_of_other_cert"])
def test_bad_tls_files_stop_the_start_naming_the_file(tmp_path, case):
    _, cert, key = make_ca_and_cert(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    other = tmp_path / "other"
    other.mkdir()
    _, _, other_key = make_ca_and_cert(other)
    files = {"not_pem": (junk, key), "key_of_other_cert": (cert, other_key)}[case]
    named = {"not_pem": junk, "key_of_other_cert": other_key}[case]
    err = start_fails(tmp_path, "--dot-listen", f"127.0.0.1:{free_port()}",
                      "--tls-cert", str(files[0]), "--tls-key", str(files[1]))
    assert str(named) in err, err
