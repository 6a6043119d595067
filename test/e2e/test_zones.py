"""Several zone suffixes on one node (behaviour 15)."""
import dns.name
import dns.rcode
import dns.rdatatype as T
import pytest

from pweb_dns import FLAG_AA, assert_negative
from store import TTL

ZONES = ["dht.", "pweb.example."]


@pytest.fixture(scope="module")
def multi(node_factory):
    n = node_factory.start("multizone", suffixes=ZONES)
    yield n
    n.stop()


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("rdtype,expected", [(T.A, "192.0.2.10"), (T.AAAA, "2001:db8::10")])
def test_device_in_each_zone(multi, transport, zone, rdtype, expected):
    qname = "laptop.alice.uw." + zone
    rep = multi.ask(qname, rdtype, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    assert rep.records("answer", rdtype) == [(qname, TTL, 1, rdtype, expected)], rep


def test_case_in_second_zone(multi, transport):
    qname = "LaPtOp.AlIcE.Uw.PWEB.Example."
    rep = multi.ask(qname, T.A, transport)
    assert rep.rcode == dns.rcode.NOERROR
    assert rep.msg.answer[0].name.to_text() == qname


@pytest.mark.parametrize("zone", ZONES)
def test_negative_soa_is_own_zone(multi, transport, zone):
    assert_negative(multi.ask("nosuch.alice.uw." + zone, T.A, transport), dns.rcode.NXDOMAIN, zone)
    assert_negative(multi.ask("alice.uw." + zone, T.A, transport), dns.rcode.NOERROR, zone)
    assert_negative(multi.ask("phone.alice.uw." + zone, T.AAAA, transport), dns.rcode.NOERROR, zone)
    # another agent, not in this store: NODATA (only it knows what is below it)
    assert_negative(multi.ask("unknownagent." + zone, T.A, transport), dns.rcode.NOERROR, zone)
    assert_negative(multi.ask("laptop.bob.unknownagent." + zone, T.A, transport), dns.rcode.NXDOMAIN,
                    zone)


@pytest.mark.parametrize("zone", ZONES)
def test_apex_of_each_zone(multi, transport, zone):
    rep = multi.ask(zone, T.SOA, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    assert len(rep.msg.answer) == 1 and rep.msg.answer[0].name == dns.name.from_text(zone)
    rep = multi.ask(zone, T.NS, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    ns = rep.rrsets("answer", T.NS)
    assert len(ns) == 1 and len(ns[0]) == 1, f"one NS per listen address expected: {rep!r}"
    assert [r[4] for r in rep.records("additional", T.A)] == ["127.0.0.1"], rep


@pytest.mark.parametrize("qname", ["example.", "com.", "pweb.example.com.", "laptop.alice.uw.example.",
                                   "xpweb.example.", "laptop.alice.uw.dht.pweb.example.com."])
def test_outside_both_zones_refused(multi, transport, qname):
    rep = multi.ask(qname, T.A, transport)
    assert rep.rcode == dns.rcode.REFUSED and not rep.flag(FLAG_AA), rep
