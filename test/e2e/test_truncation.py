"""Truncation (behaviour 12): a node with 40 listen addresses, so that the
apex NS RRset (40 NS + 40 glue A) cannot fit in 512 bytes."""
import ipaddress

import dns.rcode
import dns.rdatatype as T
import pytest

import dnstools
from pweb_dns import FLAG_AA, FLAG_TC

HOSTS = [f"127.0.0.{i}" for i in range(2, 42)]
NS_NAMES = {f"ns{i}.dht." for i in range(1, len(HOSTS) + 1)}


@pytest.fixture(scope="module")
def wide(node_factory):
    n = node_factory.start("wide", listen_hosts=HOSTS)
    yield n
    n.stop()


def ns_targets(rep):
    return [rd.target.to_text() for rrset in rep.rrsets("answer", T.NS) for rd in rrset]


def assert_full_ns(rep):
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    targets = ns_targets(rep)
    assert len(targets) == len(HOSTS) and set(targets) == NS_NAMES, (
        f"expected {len(HOSTS)} NS ns1..ns{len(HOSTS)}.dht., got {sorted(targets)}")


def test_udp_without_edns_truncated(wide):
    rep = wide.ask("dht.", T.NS, "udp")
    assert len(rep.wire) <= 512, f"UDP reply without EDNS is {len(rep.wire)} > 512 bytes"
    assert rep.flag(FLAG_TC), f"TC must be set when the NS RRset does not fit: {rep!r}"
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA)
    assert rep.counts[0] == 1 and rep.msg.question[0].name.to_text() == "dht.", "question missing"
    targets = ns_targets(rep)
    assert len(targets) in (0, len(HOSTS)), (
        f"truncated reply carries a partial NS RRset ({len(targets)} of {len(HOSTS)})")


def test_tcp_full_answer(wide):
    rep = wide.ask("dht.", T.NS, "tcp")
    assert not rep.flag(FLAG_TC), rep
    assert_full_ns(rep)
    glue = rep.records("additional", T.A)
    assert {d for _, _, _, _, d in glue} == set(HOSTS), "glue A records must be the 40 listen addresses"
    assert {o for o, _, _, _, _ in glue} <= NS_NAMES
    assert len(glue) == len(HOSTS)
    assert not rep.records("additional", T.AAAA)


@pytest.mark.parametrize("payload", [1232, 4096])
def test_udp_with_edns(wide, payload):
    """With a bigger buffer the reply stays within it; if TC is clear the NS
    RRset must be complete."""
    rep = wide.ask("dht.", T.NS, "udp", edns=0, payload=payload)
    assert len(rep.wire) <= payload
    assert rep.msg.edns == 0
    if not rep.flag(FLAG_TC):
        assert_full_ns(rep)
    else:
        assert len(ns_targets(rep)) in (0, len(HOSTS))


@pytest.mark.parametrize("host", [HOSTS[0], HOSTS[1], HOSTS[19], HOSTS[-1]])
def test_every_listener_answers(wide, transport, host):
    rep = wide.ask("laptop.alice.uw.dht.", T.A, transport, host=host)
    assert rep.rcode == dns.rcode.NOERROR and not rep.flag(FLAG_TC)
    assert [r[4] for r in rep.records("answer", T.A)] == ["192.0.2.10"]


def test_ns_names_resolve_to_listen_addresses(wide):
    seen = set()
    for i in (1, 2, 20, 40):
        rep = wide.ask(f"ns{i}.dht.", T.A, "udp")
        addrs = [r[4] for r in rep.records("answer", T.A)]
        assert rep.rcode == dns.rcode.NOERROR and len(addrs) == 1, rep
        assert addrs[0] in HOSTS
        seen.add(addrs[0])
    assert len(seen) == 4, "distinct nsN names must map to distinct listen addresses"
    # One past the last name server is no name server: it could be an agent's label.
    rep = wide.ask(f"ns{len(HOSTS) + 1}.dht.", T.A, "udp")
    assert rep.rcode == dns.rcode.NOERROR and not rep.records("answer", T.A), rep
    # Below a name server's name: an agent labelled like it, not shadowed (NODATA).
    rep = wide.ask(f"x.ns{len(HOSTS)}.dht.", T.A, "udp")
    assert rep.rcode == dns.rcode.NOERROR and not rep.records("answer", T.A), rep


# --- the real tools -----------------------------------------------------------

def test_dig_ignore_shows_tc(wide):
    r = dnstools.run("dig", wide.host, wide.port, ["+noedns", "+ignore", "+norec", "dht.", "NS"])
    assert r.status == "NOERROR", r
    assert "tc" in r.flags, r
    assert r.counts.get("ANSWER", -1) == 0, r


def test_dig_retries_over_tcp(wide):
    r = dnstools.run("dig", wide.host, wide.port, ["+noedns", "+norec", "dht.", "NS"])
    assert "Truncated, retrying in TCP mode" in r.text, r
    assert r.status == "NOERROR" and "tc" not in r.flags, r
    assert {rec[4].lower() for rec in r.records("ANSWER", "NS")} == NS_NAMES, r
    assert len(r.records("ADDITIONAL", "A")) == len(HOSTS), r


def test_dig_default_gets_full_answer(wide):
    r = dnstools.run("dig", wide.host, wide.port, ["+norec", "dht.", "NS"])
    assert r.status == "NOERROR", r
    assert {rec[4].lower() for rec in r.records("ANSWER", "NS")} == NS_NAMES, r


def test_kdig_ignore_shows_tc(wide):
    r = dnstools.run("kdig", wide.host, wide.port, ["+noedns", "+ignore", "+norec", "dht.", "NS"])
    assert r.status == "NOERROR", r
    assert "tc" in r.flags, r
    assert not r.records("ANSWER", "NS"), r


def test_kdig_retries_over_tcp(wide):
    r = dnstools.run("kdig", wide.host, wide.port, ["+noedns", "+norec", "dht.", "NS"])
    assert r.status == "NOERROR" and "tc" not in r.flags, r
    assert {rec[4].lower() for rec in r.records("ANSWER", "NS")} == NS_NAMES, r
