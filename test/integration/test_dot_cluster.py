"""DNS over TLS in front of other agents: a gateway with --dot-listen answers,
over one pipelined TLS connection, names that only its home agents hold, and a
question it answers itself (the zone's SOA) is not held up behind them (RFC
7766 §6.2.1.1, as over TCP); the real kdig over TLS gets a remote device."""
import shutil
import socket
import ssl
import struct
import subprocess
import time

import dns.message
import dns.rcode
import pytest

from cluster import free_port
from test_cluster import three

HOST = "dot.pweb.test"


def self_signed(d):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is not installed (CI installs it)", pytrace=False)
    cert, key = d / "dot.crt", d / "dot.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_gateway_over_dot_answers_remote_names_pipelined(make_cluster, tmp_path):
    c, nodes = three(make_cluster)
    cert, key = self_signed(tmp_path)
    dot_port = free_port()
    homes = f"{nodes['uw'].gateway_addr},{nodes['mit'].gateway_addr}"
    gw = c.add(None, {}, extra=["--home-agent", homes, "--dot-listen", f"127.0.0.1:{dot_port}",
                                "--tls-cert", str(cert), "--tls-key", str(key)])
    remote = [("desk.bob.mit.dht.", "198.51.100.7"), ("tv.dave.eth.dht.", "203.0.113.5"),
              ("phone.alice.uw.dht.", "192.0.2.11"), ("printer.bob.mit.dht.", "198.51.100.9")]
    ctx = ssl.create_default_context(cafile=str(cert))
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", dot_port), timeout=5),
                         server_hostname=HOST) as s:
        blob = b""
        for i, (name, _) in enumerate(remote):
            blob += _framed(dns.message.make_query(name, "A", id=0x6100 + i))
        blob += _framed(dns.message.make_query("dht.", "SOA", id=0x6200))
        s.sendall(blob)
        deadline = time.monotonic() + c.timeout * 3 + 5
        order, rest = [], b""
        for _ in range(len(remote) + 1):
            wire, rest = _read_more(s, rest, deadline)
            assert wire is not None, f"only {len(order)} answers over DoT"
            order.append(dns.message.from_wire(wire))
    ids = [m.id for m in order]
    assert ids[0] == 0x6200, f"the local SOA waited behind remote names: {[hex(i) for i in ids]}"
    assert sorted(ids[1:]) == [0x6100 + i for i in range(len(remote))], ids
    for m in order[1:]:
        name, addr = remote[m.id - 0x6100]
        assert m.rcode() == dns.rcode.NOERROR, m
        assert [rd.address for rr in m.answer for rd in rr] == [addr], m

    # The real kdig, verifying the certificate, for a device two hops away.
    kdig = shutil.which("kdig")
    if kdig is None:
        pytest.fail("kdig is not installed (knot-dnsutils; CI installs it)", pytrace=False)
    out = subprocess.run([kdig, "@127.0.0.1", "-p", str(dot_port), "+tls", f"+tls-ca={cert}",
                          f"+tls-hostname={HOST}", "+timeout=5", "+retry=0", "pi.carol.mit.dht", "A"],
                         capture_output=True, text=True, timeout=30)
    assert "status: NOERROR" in out.stdout and "198.51.100.8" in out.stdout, out.stdout + out.stderr
    assert "TLS session" in out.stdout, out.stdout
    gw.stop()


def _framed(msg):
    wire = msg.to_wire()
    return struct.pack("!H", len(wire)) + wire


def _read_more(s, rest, deadline):
    """The next frame, reading after `rest` until it is whole: (wire, rest)."""
    buf = rest
    for _ in range(10000):  # bounded; every pass reads or returns
        if len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) >= 2 + n:
                return buf[2:2 + n], buf[2 + n:]
        left = deadline - time.monotonic()
        if left <= 0:
            return None, b""
        s.settimeout(left)
        try:
            chunk = s.recv(4096)
        except (socket.timeout, ssl.SSLError, OSError):
            return None, b""
        if not chunk:
            return None, b""
        buf += chunk
    return None, b""
