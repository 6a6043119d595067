"""EDNS(0) handling (behaviour 11), over UDP and TCP."""
import ipaddress
import struct

import dns.edns
import dns.rcode
import dns.rdataclass
import dns.rdatatype as T
import pytest

from pweb_dns import EDNS_DO, FLAG_AA, HEADER, make_query, opt_rr
from store import TTL

GOOD = "laptop.alice.uw.dht."
CLIENT_COOKIE = bytes.fromhex("0123456789abcdef")


def assert_good_answer(rep):
    assert rep.rcode == dns.rcode.NOERROR, rep
    assert rep.flag(FLAG_AA)
    assert rep.records("answer", T.A) == [(GOOD, TTL, dns.rdataclass.IN, T.A, "192.0.2.10")], rep


def assert_opt_v0(rep):
    assert rep.msg.edns == 0, f"response must carry an OPT RR with version 0: {rep!r}"
    assert rep.msg.payload >= 512, f"advertised UDP size {rep.msg.payload} < 512"
    assert rep.counts[3] >= 1


def option(rep, code):
    return [o for o in rep.msg.options if o.otype == code]


def test_edns0_basic(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0, payload=1232)
    assert_good_answer(rep)
    assert_opt_v0(rep)
    assert rep.msg.ednsflags & 0xFF000000 == 0, "extended rcode bits must be 0 on NOERROR"


NEGATIVE_WITH_EDNS = [
    ("nosuch.alice.uw.dht.", T.A, dns.rdataclass.IN, dns.rcode.NXDOMAIN),
    ("phone.alice.uw.dht.", T.AAAA, dns.rdataclass.IN, dns.rcode.NOERROR),
    ("example.com.", T.A, dns.rdataclass.IN, dns.rcode.REFUSED),
    (GOOD, T.A, dns.rdataclass.CH, dns.rcode.REFUSED),
]


@pytest.mark.parametrize("qname,rdtype,rdclass,rcode", NEGATIVE_WITH_EDNS,
                         ids=["nxdomain", "nodata", "refused", "class-ch"])
def test_opt_in_every_response(node, transport, qname, rdtype, rdclass, rcode):
    """RFC 6891 s7: an OPT in the request means an OPT in the response."""
    rep = node.ask(qname, rdtype, transport, rdclass=rdclass, edns=0)
    assert rep.rcode == rcode, rep
    assert_opt_v0(rep)


@pytest.mark.parametrize("version", [1, 2, 255])
def test_badvers(node, transport, version):
    rep = node.ask(GOOD, T.A, transport, edns=version)
    assert rep.rcode == dns.rcode.BADVERS, f"EDNS version {version}: expected BADVERS: {rep!r}"
    assert rep.hflags & 0xF == 0, "header RCODE bits of BADVERS (16) must be 0"
    assert (rep.msg.ednsflags >> 24) & 0xFF == 1, "OPT extended RCODE must be 1 (16 >> 4)"
    assert rep.msg.edns == 0, f"BADVERS must advertise the version we do support (0): {rep!r}"
    assert rep.counts[1] == 0, f"BADVERS must carry no answer: {rep!r}"


def test_unknown_option_ignored(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0,
                   options=[dns.edns.GenericOption(100, b"\xde\xad\xbe\xef")])
    assert_good_answer(rep)
    assert_opt_v0(rep)
    assert not option(rep, 100), "unknown option must not be echoed"


def test_unknown_edns_flags_ignored(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0, ednsflags=0x4000)
    assert_good_answer(rep)
    assert_opt_v0(rep)
    assert rep.msg.ednsflags & 0x7FFF == 0, (
        f"unknown EDNS flag bits must be zero in the response (RFC 6891 6.1.4): "
        f"flags=0x{rep.msg.ednsflags & 0xFFFF:04x}")


def test_nsid(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0, options=[dns.edns.GenericOption(3, b"")])
    assert_good_answer(rep)
    assert_opt_v0(rep)


def test_client_cookie(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0,
                   options=[dns.edns.GenericOption(10, CLIENT_COOKIE)])
    assert_good_answer(rep)
    assert_opt_v0(rep)
    for o in option(rep, 10):  # a server that does cookies must echo ours first
        data = o.to_wire() if hasattr(o, "to_wire") else o.data
        assert 16 <= len(data) <= 40 and data[:8] == CLIENT_COOKIE, f"bad COOKIE in response: {data!r}"


def test_expire(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0, options=[dns.edns.GenericOption(9, b"")])
    assert_good_answer(rep)
    assert_opt_v0(rep)


@pytest.mark.parametrize("addr,prefix", [("192.0.2.0", 24), ("2001:db8::", 56), ("0.0.0.0", 0)])
def test_ecs(node, transport, addr, prefix):
    rep = node.ask(GOOD, T.A, transport, edns=0, options=[dns.edns.ECSOption(addr, prefix)])
    assert_good_answer(rep)
    assert_opt_v0(rep)
    for o in option(rep, 8):  # if echoed at all, family/prefix/address must match (RFC 7871 7.2.1)
        assert o.srclen == prefix and ipaddress.ip_address(o.address) == ipaddress.ip_address(addr), o


def test_all_options_together(node, transport):
    opts = [dns.edns.GenericOption(3, b""), dns.edns.GenericOption(10, CLIENT_COOKIE),
            dns.edns.GenericOption(9, b""), dns.edns.ECSOption("192.0.2.0", 24),
            dns.edns.GenericOption(100, b"x" * 10), dns.edns.GenericOption(65001, b"")]
    rep = node.ask(GOOD, T.A, transport, edns=0, ednsflags=EDNS_DO | 0x0001, options=opts)
    assert_good_answer(rep)
    assert_opt_v0(rep)
    assert rep.msg.ednsflags & EDNS_DO


def test_do_bit_echoed(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0, ednsflags=EDNS_DO)
    assert_good_answer(rep)
    assert_opt_v0(rep)
    assert rep.msg.ednsflags & EDNS_DO, "DO bit must be copied into the response (RFC 3225)"


def test_do_bit_not_set_when_not_asked(node, transport):
    rep = node.ask(GOOD, T.A, transport, edns=0)
    assert not rep.msg.ednsflags & EDNS_DO


@pytest.mark.parametrize("payload", [512, 100, 0, 65535])
def test_payload_sizes(node, payload):
    """Sizes below 512 count as 512 (RFC 6891 6.2.5)."""
    rep = node.ask(GOOD, T.A, "udp", edns=0, payload=payload)
    assert_good_answer(rep)
    assert_opt_v0(rep)
    assert len(rep.wire) <= max(payload, 512)


def test_second_opt_formerr(node, transport):
    q = make_query(GOOD, T.A, edns=0)
    wire = bytearray(q.to_wire())
    qid, flags, qd, an, ns, ar = HEADER.unpack_from(wire)
    assert ar == 1
    wire[10:12] = struct.pack("!H", 2)
    wire += opt_rr(payload=1232)
    data = node.exchange(bytes(wire), transport)
    assert data is not None, "two OPT RRs: expected FORMERR, got no reply"
    rflags = HEADER.unpack_from(data)[1]
    assert HEADER.unpack_from(data)[0] == qid and rflags & 0x8000
    assert rflags & 0xF == dns.rcode.FORMERR, (
        f"two OPT RRs: expected FORMERR (RFC 6891 6.1.1), got rcode {rflags & 0xF}")
    assert node.ask(GOOD, T.A, transport, edns=0).rcode == dns.rcode.NOERROR
