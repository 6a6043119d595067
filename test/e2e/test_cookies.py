"""DNS cookies (RFC 7873, RFC 9018 server cookies), NSID (RFC 5001) and
Extended DNS Errors (RFC 8914), seen by real clients: `dig` (+cookie,
+cookie=VALUE, +nsid, its EDE lines), BIND 9.18 `named` as a resolver that
forwards the zone to the agent and sends cookies by itself, and raw UDP
clients on their own loopback addresses for rate limiting: a query with a
valid server cookie is answered in full while the same flood without one (or
with another address's cookie) is cut down. Every tool CI installs must be
there: a missing one fails the test."""
from __future__ import annotations

import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.request
from pathlib import Path

import dns.edns
import dns.message
import dns.rdatatype as T
import pytest

import dnstools
from conftest import free_port, node_binary

GOOD = "laptop.alice.uw.dht."
NSID = "pweb-test-node-1"
SECRET = "000102030405060708090a0b0c0d0e0f"
COOKIE_LINE = re.compile(r"^; COOKIE: ([0-9a-f]+)(.*)$", re.MULTILINE)


def metric(node, name: str, **labels) -> float:
    want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(want + " "):
                return float(line.split()[1])
    raise AssertionError(f"no metric {want}")


def dig(node, *args: str) -> dnstools.ToolResult:
    return dnstools.run("dig", node.host, node.port, list(args))


@pytest.fixture(scope="module")
def cnode(node_factory, tmp_path_factory):
    secret = tmp_path_factory.mktemp("cookie-secret") / "secret"
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    n = node_factory.start("cookies", extra_args=["--nsid", NSID, "--cookie-secret", str(secret),
                                                  "--rrl-rate", "0"])
    yield n
    n.stop()


# -- dig ----------------------------------------------------------------------

def test_dig_cookie_learned_then_sent_back(cnode):
    before = metric(cnode, "pweb_dns_cookies_total", result="valid")
    r = dig(cnode, "+cookie", GOOD, "A")
    assert r.status == "NOERROR" and len(r.records("ANSWER")) == 1, r
    m = COOKIE_LINE.search(r.text)
    assert m, f"dig shows no COOKIE: {r!r}"
    full, note = m.group(1), m.group(2)
    assert len(full) == 48, f"client 8 + server 16 bytes expected: {r!r}"
    assert full[16:18] == "01" and full[18:24] == "000000", f"RFC 9018 version 1: {full}"
    assert "good" in note, f"dig did not accept the server cookie: {r!r}"
    assert "mismatch" not in r.text.lower(), r
    # The whole cookie sent back (what a resolver does next): valid, counted so.
    r2 = dig(cnode, f"+cookie={full}", GOOD, "A")
    assert r2.status == "NOERROR" and len(r2.records("ANSWER")) == 1, r2
    m2 = COOKIE_LINE.search(r2.text)
    assert m2 and m2.group(1)[:16] == full[:16] and "good" in m2.group(2), r2
    assert m2.group(1) == full, "a young valid cookie comes back unchanged"
    assert metric(cnode, "pweb_dns_cookies_total", result="valid") >= before + 1


def test_dig_stale_cookie_is_renewed_not_refused(cnode):
    """A server cookie from two hours ago (our secret, right IP): not valid any
    more, answered normally with a fresh one (RFC 7873 5.2.3, no BADCOOKIE)."""
    r = dig(cnode, "+cookie", GOOD, "A")
    full = COOKIE_LINE.search(r.text).group(1)
    old = full[:24] + "00000001" + full[32:]  # timestamp 1: 1970
    before = metric(cnode, "pweb_dns_cookies_total", result="invalid")
    r2 = dig(cnode, f"+cookie={old}", GOOD, "A")
    assert r2.status == "NOERROR" and len(r2.records("ANSWER")) == 1, r2
    got = COOKIE_LINE.search(r2.text).group(1)
    assert got[:16] == full[:16] and got[24:32] != "00000001", r2
    assert metric(cnode, "pweb_dns_cookies_total", result="invalid") == before + 1


def test_dig_malformed_cookie_is_formerr(cnode):
    r = dig(cnode, "+cookie=0102030405", GOOD, "A")  # 5 bytes: RFC 7873 5.2.2
    assert r.status == "FORMERR", r
    assert metric(cnode, "pweb_dns_cookies_total", result="malformed") >= 1


def test_dig_nsid(cnode):
    r = dig(cnode, "+nsid", GOOD, "A")
    assert r.status == "NOERROR", r
    assert re.search(r'^; NSID: .*\("' + re.escape(NSID) + r'"\)', r.text, re.MULTILINE), r
    plain = dig(cnode, GOOD, "A")
    assert "NSID" not in plain.text, plain


@pytest.mark.parametrize("args,code,name", [
    (["example.com.", "A"], 20, "Not Authoritative"),
    (["-c", "CH", "version.bind.", "TXT"], 20, "Not Authoritative"),
], ids=["outside-zone", "class-ch"])
def test_dig_shows_extended_error_on_refused(cnode, args, code, name):
    r = dig(cnode, *args)
    assert r.status == "REFUSED", r
    assert re.search(rf"^; EDE: {code} \({name}\): \(.+\)$", r.text, re.MULTILINE), r


def test_zone_transfer_refused_as_prohibited(cnode, transport):
    """dig prints no EDE for a failed transfer: asked with dnspython instead."""
    rep = cnode.ask("dht.", T.AXFR, transport, edns=0)
    assert rep.rcode == 5, rep  # REFUSED
    ede = [o for o in rep.msg.options if o.otype == 15]
    assert len(ede) == 1 and ede[0].code == 18, rep  # Prohibited


def test_no_edns_no_options(cnode):
    r = dig(cnode, "+noedns", "example.com.", "A")
    assert r.status == "REFUSED" and "EDE" not in r.text and "COOKIE" not in r.text, r


# -- a shared secret (anycast) ---------------------------------------------

def test_nodes_sharing_a_secret_accept_each_others_cookies(cnode, node_factory, tmp_path):
    other_secret = tmp_path / "other"
    other_secret.write_text("ff" * 16)
    same_secret = tmp_path / "same"
    same_secret.write_text(SECRET)
    same_secret.chmod(0o640)
    same = node_factory.start("cookies-same", extra_args=["--cookie-secret", str(same_secret)])
    other = node_factory.start("cookies-other", extra_args=["--cookie-secret", str(other_secret)])
    try:
        # A secret others may read lets them mint cookies that skip rate limiting: warned.
        assert "event=cookie_secret_readable" in same.log_text(), same.log_tail()
        assert "event=cookie_secret_readable" not in cnode.log_text(), cnode.log_tail()
        # The secret itself is never logged (it would let readers mint cookies).
        for n in (cnode, same):
            assert SECRET not in n.log_text().lower(), n.log_tail()
        full = COOKIE_LINE.search(dig(cnode, "+cookie", GOOD, "A").text).group(1)
        r = dig(same, f"+cookie={full}", GOOD, "A")
        assert COOKIE_LINE.search(r.text).group(1) == full, r
        assert metric(same, "pweb_dns_cookies_total", result="valid") == 1
        r = dig(other, f"+cookie={full}", GOOD, "A")
        assert r.status == "NOERROR" and COOKIE_LINE.search(r.text).group(1) != full, r
        assert metric(other, "pweb_dns_cookies_total", result="invalid") == 1
    finally:
        same.stop()
        other.stop()


@pytest.mark.parametrize("content", ["", "0102", "zz" * 16, SECRET + "00"],
                         ids=["empty", "short", "not-hex", "long"])
def test_bad_cookie_secret_is_a_config_error(tmp_path, content):
    f = tmp_path / "secret"
    f.write_text(content)
    r = subprocess.run([node_binary(), "--data-dir", str(tmp_path), "--cookie-secret", str(f),
                        "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert "--cookie-secret" in r.stdout + r.stderr, r


# -- rate limiting: a valid server cookie proves the address ---------------------

RATE = 5
QUERIES = 200


def udp_from(source: str) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    return s


def cookie_of(wire: bytes) -> bytes:
    msg = dns.message.from_wire(wire)
    for o in msg.options:
        if o.otype == 10:
            return o.to_wire() if not hasattr(o, "data") else o.data
    raise AssertionError(f"no COOKIE in {msg}")


def ask_once(node, source: str, cookie: bytes) -> bytes:
    s = udp_from(source)
    try:
        q = dns.message.make_query(GOOD, T.A, use_edns=0, options=[dns.edns.GenericOption(10, cookie)])
        s.sendto(q.to_wire(), (node.host, node.port))
        r, _, _ = select.select([s], [], [], 2.0)
        assert r, "no answer"
        return s.recv(4096)
    finally:
        s.close()


def answered(node, source: str, cookie: bytes | None, n: int = QUERIES, bound_s: float = 10.0) -> int:
    """Sends `n` queries from `source` in windows of 20; returns full answers."""
    s = udp_from(source)
    opts = [dns.edns.GenericOption(10, cookie)] if cookie else []
    wire = dns.message.make_query(GOOD, T.A, use_edns=0, options=opts).to_wire()
    full = 0

    def drain(wait: float) -> None:
        nonlocal full
        while True:
            r, _, _ = select.select([s], [], [], wait)
            if not r:
                return
            data = s.recv(4096)
            if not struct.unpack("!H", data[2:4])[0] & 0x0200:
                full += 1

    t0 = time.monotonic()
    try:
        for i in range(n):
            s.sendto(wire, (node.host, node.port))
            if i % 20 == 19:
                drain(0.02)
            assert time.monotonic() - t0 < bound_s, "took too long"
        drain(0.3)
    finally:
        s.close()
    return full


def test_valid_server_cookie_bypasses_rate_limiting(node_factory):
    node = node_factory.start("cookies-rrl", extra_args=["--rrl-rate", str(RATE), "--rrl-slip", "0"])
    try:
        client = bytes.fromhex("0123456789abcdef")
        full = cookie_of(ask_once(node, "127.0.3.1", client))
        assert len(full) == 24 and full[:8] == client
        # The proven address: every answer, far above the rate.
        assert answered(node, "127.0.3.1", full) == QUERIES
        # No cookie, a client cookie alone, or another address's server cookie:
        # limited to about the burst (a second's worth) plus the refill.
        for source, cookie in (("127.0.4.1", None), ("127.0.5.1", client), ("127.0.6.1", full)):
            got = answered(node, source, cookie)
            assert got <= RATE * 4, (source, cookie, got)
        assert metric(node, "pweb_dns_cookies_total", result="valid") >= QUERIES
        assert metric(node, "pweb_dns_cookies_total", result="invalid") >= QUERIES
        assert metric(node, "pweb_dns_rrl_dropped_total") > 0
    finally:
        node.stop()


# -- BIND 9.18 as a resolver ----------------------------------------------------

NAMED_CONF = """
options {{
    directory "{dir}";
    pid-file "{dir}/named.pid";
    session-keyfile "{dir}/session.key";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ 127.0.0.1; }};
    dnssec-validation no;
    send-cookie yes;
    notify no;
}};
controls {{ }};
zone "dht" {{
    type forward;
    forward only;
    forwarders {{ 127.0.0.1 port {agent}; }};
}};
"""


@pytest.fixture
def named(cnode, tmp_path):
    binary = shutil.which("named") or "/usr/sbin/named"
    assert Path(binary).exists(), "named (bind9) not installed"
    port = free_port()
    conf = tmp_path / "named.conf"
    conf.write_text(NAMED_CONF.format(dir=tmp_path, port=port, agent=cnode.port))
    log = open(tmp_path / "named.log", "w")
    proc = subprocess.Popen([binary, "-g", "-4", "-c", str(conf)], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            assert proc.poll() is None, (tmp_path / "named.log").read_text()
            r = dnstools.run("dig", "127.0.0.1", port, ["+norec", "version.bind.", "CH", "TXT"])
            if r.status is not None:
                break
            assert time.monotonic() < deadline, (tmp_path / "named.log").read_text()
            time.sleep(0.2)
        yield port, tmp_path / "named.log"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_bind_resolver_sends_cookies_and_they_are_valid(cnode, named):
    port, log = named
    before = metric(cnode, "pweb_dns_cookies_total", result="valid")
    answers = {}
    # Different names: each is a fresh question to the agent, not a cache hit.
    for name in (GOOD, "phone.alice.uw.dht.", "nosuch.alice.uw.dht."):
        r = dnstools.run("dig", "127.0.0.1", port, [name, "A"])
        answers[name] = r
    assert answers[GOOD].status == "NOERROR", (answers[GOOD], log.read_text())
    assert [rec[4] for rec in answers[GOOD].records("ANSWER", "A")] == ["192.0.2.10"]
    assert answers["phone.alice.uw.dht."].status == "NOERROR"
    assert answers["nosuch.alice.uw.dht."].status == "NXDOMAIN"
    # named learned our server cookie on the first question and sent it back on the next.
    assert metric(cnode, "pweb_dns_cookies_total", result="valid") >= before + 1, log.read_text()


# -- IPv6: the cookie is bound to the 16-byte address --------------------------

def test_ipv6_client_cookie_round_trip(node_factory):
    from pweb_dns import ipv6_loopback_available
    ok, why = ipv6_loopback_available()
    if not ok:
        pytest.skip(f"IPv6 loopback [::1] unavailable, IPv6 cookies NOT tested: {why}")
    n = node_factory.start("cookies-v6", listen_hosts=("::1", "127.0.0.1"))
    try:
        r = dnstools.run("dig", "::1", n.port, ["+cookie", GOOD, "A"])
        full = COOKIE_LINE.search(r.text).group(1)
        assert "good" in COOKIE_LINE.search(r.text).group(2), r
        r = dnstools.run("dig", "::1", n.port, [f"+cookie={full}", GOOD, "A"])
        assert COOKIE_LINE.search(r.text).group(1) == full, r
        assert metric(n, "pweb_dns_cookies_total", result="valid") == 1
        # The same cookie from 127.0.0.1 is another address: not valid there.
        r = dnstools.run("dig", "127.0.0.1", n.port, [f"+cookie={full}", GOOD, "A"])
        assert r.status == "NOERROR" and COOKIE_LINE.search(r.text).group(1) != full, r
        assert metric(n, "pweb_dns_cookies_total", result="invalid") == 1
    finally:
        n.stop()
