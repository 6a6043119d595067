"""Positive answers, negative answers, the apex, refusals and header bits
(behaviours 1-7 and 10), over UDP and TCP, against the main node."""
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype as T
import pytest

from pweb_dns import (FLAG_AA, FLAG_AD, FLAG_CD, FLAG_QR, FLAG_RA, FLAG_RD, FLAG_TC, FLAG_Z,
                      HEADER, assert_negative, make_query)
from store import LONG_AGENT, LONG_NAME, LONG_USER, TTL

# ---------------------------------------------------------------------------
# 1. positive answers
# ---------------------------------------------------------------------------

POSITIVE = [
    ("laptop.alice.uw.dht.", T.A, {"192.0.2.10"}),
    ("laptop.alice.uw.dht.", T.AAAA, {"2001:db8::10"}),
    ("phone.alice.uw.dht.", T.A, {"192.0.2.11"}),
    ("desk.bob.ut.dht.", T.A, {"192.0.2.20"}),
    ("tablet.carol.uv.dht.", T.AAAA, {"2001:db8::30"}),
    (LONG_NAME + ".dht.", T.A, {"192.0.2.63"}),
    (LONG_NAME + ".dht.", T.AAAA, {"2001:db8::63"}),
    ("LAPTOP.ALICE.UW.DHT.", T.A, {"192.0.2.10"}),
    (LONG_NAME.upper() + ".DHT.", T.AAAA, {"2001:db8::63"}),
]


def assert_positive(rep, qname, rdtype, expected):
    assert rep.rcode == dns.rcode.NOERROR, rep
    assert rep.flag(FLAG_AA), f"AA must be 1 on an authoritative answer: {rep!r}"
    assert not rep.flag(FLAG_TC), rep
    assert not rep.flag(FLAG_RA), f"RA must be 0 (no recursion offered): {rep!r}"
    assert rep.opcode == 0
    assert rep.counts[0] == 1, f"question not echoed: {rep!r}"
    assert rep.msg.question[0].name.to_text() == qname, "question name not echoed verbatim"
    assert rep.msg.question[0].rdtype == rdtype
    assert len(rep.msg.answer) == 1, f"expected exactly one answer RRset: {rep!r}"
    rrset = rep.msg.answer[0]
    assert rrset.name.to_text() == qname, f"answer owner {rrset.name} != {qname}"
    assert rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN
    assert rrset.ttl == TTL, f"TTL {rrset.ttl} != --ttl {TTL}"
    assert {rd.to_text() for rd in rrset} == expected


@pytest.mark.parametrize("qname,rdtype,expected", POSITIVE,
                         ids=[f"{q[:30]}-{T.to_text(t)}" for q, t, _ in POSITIVE])
def test_positive_answer(node, transport, qname, rdtype, expected):
    rep = node.ask(qname, rdtype, transport)
    assert_positive(rep, qname, rdtype, expected)


HEADER_CASES = [
    # (query flags, description)
    (0, "RD=0"),
    (FLAG_RD, "RD=1"),
    (FLAG_CD, "CD=1"),
    (FLAG_RD | FLAG_CD, "RD=1,CD=1"),
    (FLAG_AD, "AD=1 in query"),
    (FLAG_RD | FLAG_AD | FLAG_CD, "RD,AD,CD"),
]


@pytest.mark.parametrize("qflags,desc", HEADER_CASES, ids=[d for _, d in HEADER_CASES])
def test_header_bits(node, transport, qflags, desc):
    rep = node.ask("laptop.alice.uw.dht.", T.A, transport, flags=qflags)
    assert_positive(rep, "laptop.alice.uw.dht.", T.A, {"192.0.2.10"})
    assert rep.flag(FLAG_RD) == bool(qflags & FLAG_RD), f"RD not copied from query ({desc})"
    assert rep.flag(FLAG_CD) == bool(qflags & FLAG_CD), f"CD not copied from query ({desc}, RFC 4035 3.1.6)"
    assert not rep.flag(FLAG_AD), f"AD must be 0 from a non-validating authoritative server ({desc})"
    assert not rep.flag(FLAG_RA), f"RA must be 0 ({desc})"


@pytest.mark.parametrize("qname,rdtype,rcode", [
    ("nosuch.alice.uw.dht.", T.A, dns.rcode.NXDOMAIN),
    ("alice.uw.dht.", T.A, dns.rcode.NOERROR),
    ("example.com.", T.A, dns.rcode.REFUSED),
], ids=["nxdomain", "nodata", "refused"])
@pytest.mark.parametrize("qflags", [0, FLAG_RD | FLAG_CD], ids=["plain", "rd-cd"])
def test_header_bits_negative(node, transport, qname, rdtype, rcode, qflags):
    rep = node.ask(qname, rdtype, transport, flags=qflags)
    assert rep.rcode == rcode, rep
    assert rep.flag(FLAG_RD) == bool(qflags & FLAG_RD), "RD not copied"
    assert rep.flag(FLAG_CD) == bool(qflags & FLAG_CD), "CD not copied"
    assert not rep.flag(FLAG_RA) and not rep.flag(FLAG_AD) and not rep.flag(FLAG_TC), rep


# 10. Z bit
def test_z_bit_ignored(node, transport):
    rep = node.ask("laptop.alice.uw.dht.", T.A, transport, flags=FLAG_RD | FLAG_Z)
    assert_positive(rep, "laptop.alice.uw.dht.", T.A, {"192.0.2.10"})
    assert rep.flag(FLAG_RD)
    assert not rep.flag(FLAG_Z), "Z must be zero in responses (RFC 1035 4.1.1)"


def test_id_echoed(node, transport):
    for qid in (0, 1, 0x7FFF, 0xFFFF):
        q = make_query("laptop.alice.uw.dht.", T.A, qid=qid)
        rep = node.ask_wire(q.to_wire(), transport)
        assert rep.id == qid


# ---------------------------------------------------------------------------
# 2. case preservation
# ---------------------------------------------------------------------------

CASE_NAMES = ["LaPtOp.AlIcE.uW.dHt.", "laptop.ALICE.uw.DHT.",
              LONG_NAME[:40].upper() + LONG_NAME[40:] + ".Dht."]


@pytest.mark.parametrize("qname", CASE_NAMES, ids=["mixed", "alternating", "long"])
def test_case_preserved(node, transport, qname):
    q = make_query(qname, T.A)
    wire = q.to_wire()
    rep = node.ask_wire(wire, transport)
    assert rep.rcode == dns.rcode.NOERROR
    # The question section must come back byte for byte.
    qlen = len(wire) - 12
    assert rep.wire[12:12 + qlen] == wire[12:], (
        f"question not echoed verbatim: sent {wire[12:]!r}, got {rep.wire[12:12 + qlen]!r}")
    assert rep.msg.question[0].name.to_text() == qname
    assert rep.msg.answer and rep.msg.answer[0].name.to_text() == qname, (
        f"answer owner case differs from query: {rep!r}")


def test_answer_owner_compressed_to_question(node, transport):
    """The answer's owner name is a compression pointer to the question (offset 12)."""
    qname = "LaPtOp.AlIcE.uW.dHt."
    wire = make_query(qname, T.A).to_wire()
    rep = node.ask_wire(wire, transport)
    ans_off = len(wire)  # header + question, echoed verbatim
    assert rep.counts[1] >= 1
    assert rep.wire[ans_off:ans_off + 2] == b"\xc0\x0c", (
        f"answer owner is not a pointer to the question: {rep.wire[ans_off:ans_off + 8]!r}")


def test_case_preserved_negative(node, transport):
    qname = "NoSuCh.AlIcE.Uw.DhT."
    wire = make_query(qname, T.A).to_wire()
    rep = node.ask_wire(wire, transport)
    assert rep.rcode == dns.rcode.NXDOMAIN
    assert rep.wire[12:len(wire)] == wire[12:], "question not echoed verbatim in NXDOMAIN"


# ---------------------------------------------------------------------------
# 3./5. NODATA, 4./5. NXDOMAIN
# ---------------------------------------------------------------------------

NODATA = [
    ("phone.alice.uw.dht.", T.AAAA),
    ("tablet.carol.uv.dht.", T.A),
    ("laptop.alice.uw.dht.", T.TXT),
    ("laptop.alice.uw.dht.", T.MX),
    ("laptop.alice.uw.dht.", 65000),
    ("laptop.alice.uw.dht.", T.SOA),
    ("laptop.alice.uw.dht.", T.NS),
    ("laptop.alice.uw.dht.", T.CNAME),
    ("desk.bob.ut.dht.", T.AAAA),
    # empty non-terminals: user and agent names
    ("alice.uw.dht.", T.A),
    ("uw.dht.", T.A),
    ("ALICE.UW.DHT.", T.AAAA),
    ("bob.ut.dht.", T.TXT),
    ("ut.dht.", T.AAAA),
    (f"{LONG_USER}.{LONG_AGENT}.dht.", T.A),
    (f"{LONG_AGENT}.dht.", T.A),
    # agents not in this store: only they know what is below them, and NXDOMAIN
    # would deny every device under them to caching resolvers (RFC 8020)
    ("unknownagent.dht.", T.A),
    ("ns2.dht.", T.A),                 # one --dns-listen address: "ns2" may be an agent
    ("x.ns1.dht.", T.A),               # below the name server's name: agent ns1's user
    ("bob.unknownagent.dht.", T.A),
    # the apex has no address
    ("dht.", T.A),
    ("dht.", T.AAAA),
    ("dht.", T.TXT),
]


@pytest.mark.parametrize("qname,rdtype", NODATA, ids=[f"{q[:30]}-{T.to_text(t)}" for q, t in NODATA])
def test_nodata(node, transport, qname, rdtype):
    rep = node.ask(qname, rdtype, transport)
    assert_negative(rep, dns.rcode.NOERROR)
    assert rep.msg.question[0].name.to_text() == qname


NXDOMAIN = [
    "nosuch.alice.uw.dht.",
    "x.laptop.alice.uw.dht.",
    "a.b.laptop.alice.uw.dht.",
    "laptop.nosuchuser.uw.dht.",
    "nosuchuser.uw.dht.",
    "laptop.bob.ut.dht.",      # device exists, but for another user
    "bob.uw.dht.",             # user exists, but under another agent
    "laptop.alice.ut.dht.",
    "a.b.c.d.e.dht.",
    "laptop.alice.unknownagent.dht.",  # asked in the DHT: no such agent (this node is alone)
    "laptop-.alice.uw.dht.",
    "_tcp.alice.uw.dht.",
]


@pytest.mark.parametrize("qname", NXDOMAIN)
@pytest.mark.parametrize("rdtype", [T.A, T.AAAA])
def test_nxdomain(node, transport, qname, rdtype):
    rep = node.ask(qname, rdtype, transport)
    assert_negative(rep, dns.rcode.NXDOMAIN)


def test_nxdomain_type_65000(node, transport):
    rep = node.ask("nosuch.alice.uw.dht.", 65000, transport)
    assert_negative(rep, dns.rcode.NXDOMAIN)


def test_negative_soa_matches_apex_soa(node, transport):
    apex = node.ask("dht.", T.SOA, transport)
    nx = node.ask("nosuch.alice.uw.dht.", T.A, transport)
    nodata = node.ask("phone.alice.uw.dht.", T.AAAA, transport)
    apex_soa = apex.msg.answer[0][0]
    assert nx.msg.authority[0][0] == apex_soa
    assert nodata.msg.authority[0][0] == apex_soa


# ---------------------------------------------------------------------------
# 6. the apex
# ---------------------------------------------------------------------------

def test_apex_soa(node, transport):
    rep = node.ask("dht.", T.SOA, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    assert len(rep.msg.answer) == 1 and len(rep.msg.answer[0]) == 1, rep
    rrset = rep.msg.answer[0]
    assert rrset.name == dns.name.from_text("dht.") and rrset.rdtype == T.SOA
    soa = rrset[0]
    assert soa.minimum > 0 and soa.refresh > 0 and soa.retry > 0 and soa.expire > 0, soa
    assert soa.mname.is_absolute() and soa.rname.is_absolute()


def test_apex_soa_uppercase(node, transport):
    rep = node.ask("DHT.", T.SOA, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA)
    assert rep.msg.answer[0].name.to_text() == "DHT."


def test_apex_ns_and_glue(node, transport):
    rep = node.ask("dht.", T.NS, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    ns = rep.rrsets("answer", T.NS)
    assert len(ns) == 1 and ns[0].name == dns.name.from_text("dht."), rep
    assert {rd.target.to_text() for rd in ns[0]} == {"ns1.dht."}, rep
    glue = rep.records("additional", T.A) + rep.records("additional", T.AAAA)
    assert [(o, d) for o, _, _, _, d in glue] == [("ns1.dht.", "127.0.0.1")], (
        f"glue must be exactly the listen addresses: {rep!r}")


def test_ns1_address(node, transport):
    rep = node.ask("ns1.dht.", T.A, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    assert [r[4] for r in rep.records("answer", T.A)] == ["127.0.0.1"], rep
    assert rep.msg.answer[0].ttl > 0


def test_ns1_no_aaaa(node, transport):
    assert_negative(node.ask("ns1.dht.", T.AAAA, transport), dns.rcode.NOERROR)


# ---------------------------------------------------------------------------
# 7. outside the zone and other classes
# ---------------------------------------------------------------------------

REFUSED_NAMES = [
    ("example.com.", T.A),
    ("com.", T.NS),
    (".", T.NS),
    (".", T.SOA),
    ("xdht.", T.A),                    # suffix match must be label-wise
    ("laptop.alice.uwdht.", T.A),
    ("dht.example.com.", T.A),
    ("laptop.alice.uw.dht.example.", T.A),
]


def assert_refused(rep):
    assert rep.rcode == dns.rcode.REFUSED, rep
    assert not rep.flag(FLAG_AA), f"AA must be 0 on REFUSED: {rep!r}"
    assert rep.counts[1:] == (0, 0, 0), f"REFUSED must carry no records: {rep!r}"


@pytest.mark.parametrize("qname,rdtype", REFUSED_NAMES, ids=[f"{q}-{T.to_text(t)}" for q, t in REFUSED_NAMES])
def test_refused_outside_zone(node, transport, qname, rdtype):
    assert_refused(node.ask(qname, rdtype, transport))


CLASSES = [
    ("laptop.alice.uw.dht.", T.A, dns.rdataclass.CH),
    ("version.bind.", T.TXT, dns.rdataclass.CH),
    ("dht.", T.SOA, dns.rdataclass.CH),
    ("laptop.alice.uw.dht.", T.A, dns.rdataclass.HS),
    ("laptop.alice.uw.dht.", T.A, 42),
    ("laptop.alice.uw.dht.", T.A, dns.rdataclass.NONE),
]


@pytest.mark.parametrize("qname,rdtype,rdclass", CLASSES,
                         ids=[f"{q}-{T.to_text(t)}-class{c}" for q, t, c in CLASSES])
def test_refused_other_class(node, transport, qname, rdtype, rdclass):
    assert_refused(node.ask(qname, rdtype, transport, rdclass=rdclass))


def test_class_any_answered_like_in(node, transport):
    """As for IN, but not authoritative: QCLASS ANY may have answers in
    classes not served here (ISC genreport expects no AA)."""
    rep = node.ask("laptop.alice.uw.dht.", T.A, transport, rdclass=dns.rdataclass.ANY)
    assert rep.rcode == dns.rcode.NOERROR and not rep.flag(FLAG_AA), rep
    assert rep.records("answer", T.A) == [("laptop.alice.uw.dht.", TTL, dns.rdataclass.IN, T.A, "192.0.2.10")], rep
    assert rep.msg.question[0].rdclass == dns.rdataclass.ANY, "question class must be echoed"


def test_class_any_nxdomain(node, transport):
    rep = node.ask("nosuch.alice.uw.dht.", T.A, transport, rdclass=dns.rdataclass.ANY)
    assert_negative(rep, dns.rcode.NXDOMAIN, aa=False)


# ---------------------------------------------------------------------------
# extras (not in the brief): zone transfers and QTYPE ANY
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rdtype", [T.AXFR, T.IXFR])
def test_zone_transfer_not_served(node, transport, rdtype):
    rep = node.ask("dht.", rdtype, transport)
    assert rep.rcode in (dns.rcode.REFUSED, dns.rcode.NOTIMP, dns.rcode.FORMERR), rep
    assert rep.counts[1] == 0, f"zone transfer leaked records: {rep!r}"


def test_qtype_any_on_device(node, transport):
    """RFC 8482 allows a minimal answer; whatever is returned must be
    records of this device."""
    rep = node.ask("laptop.alice.uw.dht.", T.ANY, transport)
    assert rep.rcode == dns.rcode.NOERROR and rep.flag(FLAG_AA), rep
    recs = {(o, ty, d) for o, _, _, ty, d in rep.records("answer")}
    assert recs, rep
    allowed = {("laptop.alice.uw.dht.", T.A, "192.0.2.10"), ("laptop.alice.uw.dht.", T.AAAA, "2001:db8::10")}
    assert recs <= allowed or all(ty == T.HINFO for _, ty, _ in recs), rep
