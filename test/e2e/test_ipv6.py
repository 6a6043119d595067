"""IPv6 listener (behaviour 14). Skipped, with the reason shown, when [::1]
cannot be bound on this machine."""
import dns.rcode
import dns.rdatatype as T
import pytest

import dnstools
from pweb_dns import FLAG_AA, ipv6_loopback_available

GOOD = "laptop.alice.uw.dht."


@pytest.fixture(scope="module")
def node6(node_factory):
    ok, why = ipv6_loopback_available()
    if not ok:
        pytest.skip(f"IPv6 loopback [::1] unavailable, IPv6 listener NOT tested: {why}")
    n = node_factory.start("ipv6", listen_hosts=["127.0.0.1", "::1"])
    yield n
    n.stop()


@pytest.mark.parametrize("rdtype,expected", [(T.A, "192.0.2.10"), (T.AAAA, "2001:db8::10")])
def test_ipv6_listener(node6, transport, rdtype, expected):
    rep = node6.ask(GOOD, rdtype, transport, host="::1")
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    assert [r[4] for r in rep.records("answer", rdtype)] == [expected]


def test_ipv6_negative(node6, transport):
    rep = node6.ask("nosuch.alice.uw.dht.", T.A, transport, host="::1")
    assert rep.rcode == dns.rcode.NXDOMAIN


def test_ipv4_still_answers(node6, transport):
    rep = node6.ask(GOOD, T.A, transport, host="127.0.0.1")
    assert rep.rcode == dns.rcode.NOERROR


def test_ns_glue_both_families(node6, transport):
    rep = node6.ask("dht.", T.NS, transport, host="::1")
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    targets = {rd.target.to_text() for rrset in rep.rrsets("answer", T.NS) for rd in rrset}
    assert targets == {"ns1.dht.", "ns2.dht."}, rep
    glue = {(o, d) for o, _, _, _, d in rep.records("additional", T.A) + rep.records("additional", T.AAAA)}
    assert {d for _, d in glue} == {"127.0.0.1", "::1"}, f"glue must be the listen addresses: {rep!r}"
    assert {o for o, _ in glue} == targets, f"each NS name needs its glue: {rep!r}"
    assert len(glue) == 2


@pytest.mark.parametrize("tool", ["dig", "kdig"])
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_tools_over_ipv6(node6, tool, tcp):
    r = dnstools.run(tool, "::1", node6.port, (["+tcp"] if tcp else []) + [GOOD, "AAAA"])
    assert r.status == "NOERROR" and "aa" in r.flags, r
    assert [rec[4].strip() for rec in r.records("ANSWER", "AAAA")] == ["2001:db8::10"], r
