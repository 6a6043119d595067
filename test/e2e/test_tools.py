"""The same behaviours seen through the real `dig` and `kdig` binaries."""
import pytest

import dnstools

GOOD = "laptop.alice.uw.dht."

# (id, extra args, expected status, expected flags subset, expected ANSWER records
#  as (owner, ttl, type, rdata) or None to skip, expect SOA in AUTHORITY)
CASES = [
    ("a", ["+norec", GOOD, "A"], "NOERROR", {"qr", "aa"}, [(GOOD, "60", "A", "192.0.2.10")], False),
    ("aaaa-tcp", ["+tcp", GOOD, "AAAA"], "NOERROR", {"qr", "aa"}, [(GOOD, "60", "AAAA", "2001:db8::10")], False),
    ("rd-copied", ["+rec", GOOD, "A"], "NOERROR", {"qr", "aa", "rd"}, [(GOOD, "60", "A", "192.0.2.10")], False),
    ("case", ["LaPtOp.AlIcE.uW.dHt.", "A"], "NOERROR", {"aa"},
     [("LaPtOp.AlIcE.uW.dHt.", "60", "A", "192.0.2.10")], False),
    ("nxdomain", ["nosuch.alice.uw.dht.", "A"], "NXDOMAIN", {"aa"}, [], True),
    ("nxdomain-tcp", ["+tcp", "x.laptop.alice.uw.dht.", "A"], "NXDOMAIN", {"aa"}, [], True),
    ("nodata", ["phone.alice.uw.dht.", "AAAA"], "NOERROR", {"aa"}, [], True),
    ("ent", ["alice.uw.dht.", "A"], "NOERROR", {"aa"}, [], True),
    ("type65000", [GOOD, "TYPE65000"], "NOERROR", {"aa"}, [], True),
    ("refused", ["example.com.", "A"], "REFUSED", set(), [], False),
    ("chaos", ["-c", "CH", "version.bind.", "TXT"], "REFUSED", set(), [], False),
    ("soa", ["dht.", "SOA"], "NOERROR", {"aa"}, None, False),
    ("ns", ["dht.", "NS"], "NOERROR", {"aa"}, [("dht.", None, "NS", "ns1.dht.")], False),
    ("edns-options", ["+nsid", "+expire", "+subnet=192.0.2.0/24", "+dnssec", "+cookie", GOOD, "A"],
     "NOERROR", {"aa"}, [(GOOD, "60", "A", "192.0.2.10")], False),
    ("edns-unknown-opt", ["+ednsopt=100:abcd", GOOD, "A"], "NOERROR", {"aa"},
     [(GOOD, "60", "A", "192.0.2.10")], False),
    ("bufsize512", ["+bufsize=512", GOOD, "A"], "NOERROR", {"aa"},
     [(GOOD, "60", "A", "192.0.2.10")], False),
]

DIG_ONLY = [
    ("dig-badvers", ["+noednsneg", "+edns=1", GOOD, "A"], "BADVERS", set(), [], False),
    ("dig-ednsflags", ["+ednsflags=0x4000", GOOD, "A"], "NOERROR", {"aa"},
     [(GOOD, "60", "A", "192.0.2.10")], False),
    ("dig-zflag", ["+zflag", GOOD, "A"], "NOERROR", {"aa"}, [(GOOD, "60", "A", "192.0.2.10")], False),
    ("dig-opcode-status", ["+opcode=2", GOOD, "A"], "NOTIMP", set(), [], False),
    ("dig-cd-copied", ["+cdflag", GOOD, "A"], "NOERROR", {"aa", "cd"}, [(GOOD, "60", "A", "192.0.2.10")], False),
]
KDIG_ONLY = [
    ("kdig-badvers", ["+edns=1", GOOD, "A"], "BADVERS", set(), [], False),
    ("kdig-cd-copied", ["+cdflag", GOOD, "A"], "NOERROR", {"aa", "cd"}, [(GOOD, "60", "A", "192.0.2.10")], False),
]

ALL = ([("dig",) + c for c in CASES + DIG_ONLY] + [("kdig",) + c for c in CASES + KDIG_ONLY])


def check(r, status, flags, answer, soa, exact_case=True):
    assert r.responses >= 1, f"no response parsed: {r!r}"
    assert r.status == status, r
    assert flags <= r.flags, f"flags {r.flags} lack {flags - r.flags}: {r!r}"
    assert "ra" not in r.flags, r
    if answer is not None:
        got = r.records("ANSWER")
        assert len(got) == len(answer), f"expected {len(answer)} answer records: {r!r}"
        for g, (owner, ttl, rtype, rdata) in zip(got, answer):
            if not exact_case:  # kdig prints every name in lower case
                owner = owner.lower()
            assert (g[0], g[3], g[4].strip()) == (owner, rtype, rdata), f"answer {g}: {r!r}"
            if ttl is not None:
                assert g[1] == ttl, f"TTL {g[1]} != {ttl}: {r!r}"
    if soa:
        assert [rec[0].lower() for rec in r.records("AUTHORITY", "SOA")] == ["dht."], r
    assert "mismatch" not in r.text.lower(), f"cookie mismatch reported: {r!r}"


@pytest.mark.parametrize("tool,cid,args,status,flags,answer,soa", ALL,
                         ids=[f"{c[0]}-{c[1]}" for c in ALL])
def test_tool(node, tool, cid, args, status, flags, answer, soa):
    r = dnstools.run(tool, node.host, node.port, args)
    check(r, status, flags, answer, soa, exact_case=(tool == "dig"))


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_tool_edns_response(node, tool):
    r = dnstools.run(tool, node.host, node.port, ["+edns=0", "+dnssec", GOOD, "A"])
    check(r, "NOERROR", {"aa"}, [(GOOD, "60", "A", "192.0.2.10")], False)
    assert r.edns is not None, f"no EDNS pseudosection in the response: {r!r}"
    assert "version: 0" in r.edns.lower(), r.edns
    assert " do" in r.edns.lower() or "do;" in r.edns.lower(), f"DO not echoed: {r.edns}"


@pytest.mark.parametrize("tool", ["dig", "kdig"])
def test_tool_ns_glue(node, tool):
    r = dnstools.run(tool, node.host, node.port, ["dht.", "NS"])
    assert r.status == "NOERROR", r
    glue = [(rec[0].lower(), rec[3], rec[4].strip()) for rec in r.records("ADDITIONAL")
            if len(rec) > 4 and rec[3] in ("A", "AAAA")]
    assert glue == [("ns1.dht.", "A", "127.0.0.1")], r
