"""RRsets under a device (issue 13, DESIGN.md "Records beyond addresses"),
black-box: the JSON API writes them, the real `dig` reads them back.

PUT /api/v1/devices/{device}/rrsets/{subname}/{type} {"ttl": N, "records": [...]}
with records in DNS presentation format; GET lists; DELETE removes. Each bad
input gets a clear JSON error and changes nothing.
"""
import json
from urllib.parse import quote

import pytest

import dnstools
from registrar_fixtures import dns_name, registrar, registrar_factory  # noqa: F401

DEVICE = "rr1.alice.uw"


def rrset_path(device, subname=None, rtype=None):
    p = "/api/v1/devices/" + quote(device, safe="") + "/rrsets"
    if subname is not None:
        p += "/" + quote(subname, safe="") + "/" + rtype
    return p


def put(r, subname, rtype, body, device=DEVICE, user="alice"):
    data = body if isinstance(body, str) else json.dumps(body)
    return r.request("PUT", rrset_path(device, subname, rtype), auth=r.creds(user), body=data,
                     headers={"Content-Type": "application/json"})


def dig(r, name, rtype, *extra):
    return dnstools.run("dig", r.node.host, r.node.port, ["+norec", *extra, name, rtype])


def answers(res, rtype):
    return [" ".join(rec[4:]) for rec in res.records("ANSWER", rtype)]


@pytest.fixture(scope="module")
def rr(registrar):
    r = registrar
    assert r.put_device("alice", DEVICE, {"ipv4": "192.0.2.80"}).status in (200, 201)
    return r


@pytest.mark.parametrize("subname,rtype,records,dig_name,want", [
    ("@", "TXT", ['"v=spf1 -all"'], DEVICE, ['"v=spf1 -all"']),
    ("_acme-challenge", "TXT", ['"token-one"', '"token-two"'], "_acme-challenge." + DEVICE,
     ['"token-one"', '"token-two"']),
    ("_http._tcp", "SRV", ["10 5 8080 rr1.alice.uw.dht."], "_http._tcp." + DEVICE,
     ["10 5 8080 rr1.alice.uw.dht."]),
    ("@", "MX", ["10 mail.example.org."], DEVICE, ["10 mail.example.org."]),
    ("@", "CAA", ['0 issue "letsencrypt.org"'], DEVICE, ['0 issue "letsencrypt.org"']),
    ("_443._tcp", "TLSA", ["3 1 1 " + "ab" * 32], "_443._tcp." + DEVICE, None),
    ("@", "HTTPS", ['1 . alpn="h2,h3" port=8443'], DEVICE, None),
    ("svc", "SVCB", ["1 rr1.alice.uw.dht. port=8443"], "svc." + DEVICE, None),
    ("www", "CNAME", ["rr1.alice.uw.dht."], "www." + DEVICE, ["rr1.alice.uw.dht."]),
    ("*", "TXT", ['"wild"'], "anything." + DEVICE, ['"wild"']),
    ("*", "TXT", ['"wild"'], "a.b." + DEVICE, ['"wild"']),
])
def test_put_then_dig(rr, subname, rtype, records, dig_name, want):
    res = put(rr, subname, rtype, {"ttl": 300, "records": records})
    assert res.status == 200, res
    doc = res.json()
    assert doc["type"] == rtype and doc["ttl"] == 300, doc
    assert sorted(doc["records"]) == sorted(records) or rtype in ("TLSA", "HTTPS", "SVCB"), doc
    got = dig(rr, dns_name(dig_name), rtype)
    assert got.status == "NOERROR" and "aa" in got.flags, got
    recs = got.records("ANSWER", rtype)
    assert len(recs) == len(records), got
    assert all(rec[1] == "300" for rec in recs), got
    if want is not None:
        assert sorted(answers(got, rtype)) == sorted(want), got


def test_cname_answers_other_types_and_wildcard_nodata(rr):
    assert put(rr, "alias", "CNAME", {"ttl": 60, "records": ["rr1.alice.uw.dht."]}).status == 200
    got = dig(rr, dns_name("alias." + DEVICE), "A")
    assert got.status == "NOERROR" and got.records("ANSWER", "CNAME"), got
    assert put(rr, "*", "TXT", {"ttl": 60, "records": ['"wild"']}).status == 200
    got = dig(rr, dns_name("nothing-here." + DEVICE), "A")
    assert got.status == "NOERROR" and not got.records("ANSWER"), "wildcard without A: NODATA"
    # An empty non-terminal (the _tcp of _http._tcp) is NODATA, not NXDOMAIN.
    assert put(rr, "_ftp._tcp", "SRV", {"ttl": 60, "records": ["0 0 21 x.example.org."]}).status == 200
    got = dig(rr, dns_name("_tcp." + DEVICE), "SRV")
    assert got.status == "NOERROR" and not got.records("ANSWER"), got


def test_list_get_delete(rr):
    dev = "rr2.alice.uw"
    assert rr.put_device("alice", dev, {"ipv4": "192.0.2.81"}).status in (200, 201)
    assert put(rr, "www", "TXT", {"ttl": 120, "records": ['"x"']}, device=dev).status == 200
    res = rr.request("GET", rrset_path(dev), auth=rr.creds("alice"))
    assert res.status == 200, res
    sets = {(s["subname"], s["type"]): s for s in res.json()}
    assert sets[("@", "A")]["records"] == ["192.0.2.81"], sets
    assert sets[("www", "TXT")]["records"] == ['"x"'], sets
    res = rr.request("GET", rrset_path(dev, "www", "TXT"), auth=rr.creds("alice"))
    assert res.status == 200 and res.json()["ttl"] == 120, res
    res = rr.request("DELETE", rrset_path(dev, "www", "TXT"), auth=rr.creds("alice"))
    assert res.status == 204, res
    assert rr.request("GET", rrset_path(dev, "www", "TXT"), auth=rr.creds("alice")).status == 404
    got = dig(rr, dns_name("www." + dev), "TXT")
    assert got.status == "NXDOMAIN", got
    # The crawler listing shows RRsets with the device.
    listed = [d for d in rr.list_all()[0] if d["name"] == DEVICE]
    assert listed and listed[0].get("rrsets"), listed


def test_large_txt_set_truncates_over_udp_and_is_whole_over_tcp(rr):
    records = ['"' + chr(ord("a") + i) * 200 + '"' for i in range(12)]
    assert put(rr, "big", "TXT", {"ttl": 60, "records": records}).status == 200
    udp = dig(rr, dns_name("big." + DEVICE), "TXT", "+ignore", "+bufsize=1232")
    assert "tc" in udp.flags, udp
    tcp = dig(rr, dns_name("big." + DEVICE), "TXT", "+tcp")
    assert tcp.status == "NOERROR" and len(tcp.records("ANSWER", "TXT")) == 12, tcp


@pytest.mark.parametrize("subname,rtype,body,status,fragment", [
    ("x", "TXT", {"ttl": 60, "records": ['"unterminated']}, 400, "TXT"),
    ("x", "MX", {"ttl": 60, "records": ["99999 mail.example.org."]}, 400, "MX"),
    ("x", "SRV", {"ttl": 60, "records": ["1 2 3 relative.name"]}, 400, "SRV"),
    ("x", "A", {"ttl": 60, "records": ["300.1.1.1"]}, 400, "A"),
    ("x", "NS", {"ttl": 60, "records": ["ns.example.org."]}, 400, "type"),
    ("x", "BOGUS", {"ttl": 60, "records": ['"a"']}, 400, "type"),
    ("a..b", "TXT", {"ttl": 60, "records": ['"a"']}, 400, "label"),
    ("x", "TXT", {"ttl": 5, "records": ['"a"']}, 422, "ttl"),
    ("x", "TXT", {"ttl": 60}, 400, "records"),
    ("x", "TXT", {"ttl": 60, "records": ['"a"'], "extra": 1}, 400, "unknown field"),
    ("x", "TXT", "not json", 400, "JSON"),
    ("www", "TXT", {"ttl": 60, "records": ['"beside a CNAME"']}, 422, "CNAME"),
    ("@", "CNAME", {"ttl": 60, "records": ["x.example.org."]}, 422, "CNAME"),
    ("x", "CNAME", {"ttl": 60, "records": ["a.example.org.", "b.example.org."]}, 422, "CNAME"),
    ("x", "TXT", {"ttl": 60, "records": ['"' + "a" * 250 + '"'] * 1 + ['"%03d%s"' % (i, "b" * 240) for i in range(80)]}, 422, "larger"),
])
def test_bad_input_is_refused_and_changes_nothing(rr, subname, rtype, body, status, fragment):
    assert put(rr, "www", "CNAME", {"ttl": 60, "records": ["rr1.alice.uw.dht."]}).status == 200
    before = rr.request("GET", rrset_path(DEVICE), auth=rr.creds("alice")).json()
    res = put(rr, subname, rtype, body)
    assert res.status == status, res
    err = res.json().get("error", "")
    assert fragment.lower() in err.lower(), err
    after = rr.request("GET", rrset_path(DEVICE), auth=rr.creds("alice")).json()
    assert after == before, "a refused change changed the RRsets"


def test_only_the_owner(rr):
    res = put(rr, "x", "TXT", {"ttl": 60, "records": ['"a"']}, user="bob")
    assert res.status == 403, res
    res = rr.request("PUT", rrset_path(DEVICE, "x", "TXT"), body='{"records": []}')
    assert res.status == 401, res


def test_device_ttl_and_interface_id(rr):
    dev = "rr3.alice.uw"
    res = rr.put_device("alice", dev, {"ipv4": "192.0.2.83", "ttl": 120, "ipv6_iid": "::1:2"})
    assert res.status in (200, 201), res
    assert res.json()["ttl"] == 120 and res.json()["ipv6_iid"] == "::1:2", res
    got = dig(rr, dns_name(dev), "A")
    assert got.records("ANSWER", "A")[0][1] == "120", got
    res = rr.put_device("alice", dev, {"ttl": 3})
    assert res.status == 422 and "ttl" in res.json()["error"], res
    # ipv6prefix= gives every device with an interface id prefix + iid, in one request.
    lines = rr.nic_ok("alice", {"ipv6prefix": "2001:db8:7::/64"})
    assert lines and lines[0].startswith("good"), lines
    rr.assert_dns(dev, v4="192.0.2.83", v6="2001:db8:7::1:2")
    res = rr.nic("alice", {"ipv6prefix": "2001:db8:7::/80"})
    assert res.status == 400 and "64" in res.text, res


def make_token(r, device, scope):
    res = r.request("POST", "/api/v1/devices/" + quote(device, safe="") + "/tokens",
                    auth=r.creds("alice"), body=json.dumps({"scope": scope}),
                    headers={"Content-Type": "application/json"})
    assert res.status == 201, res
    return res.json()["token"]


def test_tokens_change_only_what_their_scope_allows(rr):
    dev, other = "rr4.alice.uw", "rr5.alice.uw"
    for d in (dev, other):
        assert rr.put_device("alice", d, {"ipv4": "192.0.2.84"}).status in (200, 201)
    acme = make_token(rr, dev, "acme")
    records = make_token(rr, dev, "records")

    def put_as(token, device, subname, rtype, records_):
        return rr.request("PUT", rrset_path(device, subname, rtype), auth=(dev, token),
                          body=json.dumps({"ttl": 60, "records": records_}),
                          headers={"Content-Type": "application/json"})

    assert put_as(acme, dev, "_acme-challenge", "TXT", ['"challenge"']).status == 200
    for subname, rtype, recs in (("@", "A", ["192.0.2.99"]), ("www", "TXT", ['"x"']),
                                 ("_acme-challenge", "CNAME", ["x.example.org."])):
        res = put_as(acme, dev, subname, rtype, recs)
        assert res.status == 403 and "scope" in res.json()["error"], res
    res = put_as(records, other, "www", "TXT", ['"x"'])
    assert res.status == 403, "a token of one device changed another"
    assert put_as(records, dev, "www", "TXT", ['"x"']).status == 200
    res = put_as("AAAA" + records[4:], dev, "www", "TXT", ['"y"'])
    assert res.status == 401, res
    got = dig(rr, dns_name("www." + other), "TXT")
    assert got.status == "NXDOMAIN", got
    assert rr.request("GET", rrset_path(dev), auth=(dev, acme)).status == 200, "tokens may read"
