"""Issue 15's "done when": a zone delegated to two agents, run as an operator
would (--ns, --soa-contact, one shared DNSSEC key, DoT and DoH with a
certificate), validates end to end through a real Unbound whichever agent it
asks, over UDP, TCP and DNS over TLS; both agents give the same NS set and SOA
MNAME; the real kdig gets signed answers over DoT and DoH from each."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from cluster import binary, free_port

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from unbound_resolver import Unbound, describe  # noqa: E402

HOST = "ns.pweb.test"  # the name in the agents' certificate
NS = ["a.ns.example.net.", "b.ns.example.net."]  # out of the zone: no glue
DEVICES = {
    "uw": {"laptop.alice.uw": "192.0.2.10 2001:db8::10"},
    "mit": {"desk.bob.mit": "198.51.100.7"},
}
QUESTIONS = [  # (name, type, wants an answer); asked of each agent, about both agents' names
    ("laptop.alice.uw.dht.", "A", True),
    ("desk.bob.mit.dht.", "A", True),
    ("nobody.alice.uw.dht.", "A", False),  # NXDOMAIN (compact denial: NOERROR + NSEC)
    ("desk.bob.mit.dht.", "AAAA", False),  # NODATA
]


def tool(name):
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (CI installs it)", pytrace=False)
    return path


def test_zone_delegated_to_two_agents_validates_over_every_transport(make_cluster, tmp_path):
    key = tmp_path / "zone.key"
    subprocess.run([binary(), "dnssec", "keygen", "--out", str(key)], check=True,
                   capture_output=True, timeout=20)
    ds = subprocess.run([binary(), "dnssec", "ds", "--dnssec-key", str(key), "--suffix", "dht."],
                        check=True, capture_output=True, text=True, timeout=20).stdout.strip()
    cert, tls_key = tmp_path / "ns.crt", tmp_path / "ns.key"
    subprocess.run([tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", f"/CN={HOST}",
                    "-addext", f"subjectAltName=DNS:{HOST}", "-keyout", str(tls_key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)

    c = make_cluster()
    nodes, dot = [], {}
    for label, devs in DEVICES.items():
        dot[label] = free_port()
        nodes.append(c.add(label, devs, extra=[
            "--dnssec", "--dnssec-key", str(key),
            "--ns", NS[0].rstrip("."), "--ns", NS[1].rstrip("."),
            "--soa-contact", "hostmaster@example.org",
            "--dot-listen", f"127.0.0.1:{dot[label]}",
            "--tls-cert", str(cert), "--tls-key", str(tls_key)]))
    c.wait_converged()

    # One NS set and one SOA MNAME/RNAME whichever agent answers.
    for n in nodes:
        for rdtype, want in (("NS", sorted(NS)), ("SOA", None)):
            rep = dns.query.udp(dns.message.make_query("dht.", rdtype), "127.0.0.1",
                                port=n.dns, timeout=5)
            got = sorted(rd.to_text() for rr in rep.answer for rd in rr)
            if rdtype == "NS":
                assert got == want, f"{n.label}: {rep}"
            else:
                assert got and got[0].startswith(f"{NS[0]} hostmaster.example.org. "), rep

    # Unbound validating with the DS as its only anchor, stubbed to both agents
    # and to each alone, over UDP, TCP only and DoT.
    wrong = []
    setups = [("udp", nodes), ("tcp", nodes), ("tls", nodes)] + [("tls", [n]) for n in nodes]
    for i, (upstream, servers) in enumerate(setups):
        addrs = [("127.0.0.1", dot[n.label] if upstream == "tls" else n.dns) for n in servers]
        ub = Unbound(tmp_path / f"unbound-{i}", "dht.", addrs, [ds], upstream=upstream,
                     tls_bundle=cert, tls_name=HOST).start()
        try:
            for name, rdtype, answered in QUESTIONS:
                rep = ub.ask(name, rdtype)
                has = any(rr.rdtype == dns.rdatatype.from_text(rdtype) for rr in rep.answer)
                if rep.rcode() == dns.rcode.SERVFAIL or not rep.flags & dns.flags.AD \
                        or has != answered:
                    wrong.append((upstream, [n.label for n in servers], name, rdtype,
                                  describe(rep), ub.log()))
        finally:
            ub.stop()
    assert not wrong, "\n".join(map(str, wrong[:3])) + c.logs()

    # The real kdig over DoT and DoH (HTTP/2), certificate checked: signed answers.
    kdig = tool("kdig")
    for n in nodes:
        for how, port in (("+tls", dot[n.label]), ("+https", n.http)):
            out = subprocess.run([kdig, "@127.0.0.1", "-p", str(port), how, f"+tls-ca={cert}",
                                  f"+tls-hostname={HOST}", "+dnssec", "+timeout=5", "+retry=0",
                                  "desk.bob.mit.dht", "A"],
                                 capture_output=True, text=True, timeout=30)
            text = out.stdout + out.stderr
            assert "status: NOERROR" in out.stdout and "198.51.100.7" in out.stdout, text
            assert re.search(r"\bRRSIG\s+A 13 ", out.stdout), text  # ECDSA P-256
