"""Gateway protocol v3 between real nodes: a device's TXT, SRV and wildcard
records registered at agent uw are answered by `dig` at the other agents (they
ask uw with QUERY3 and cache per name and type), NODATA and NXDOMAIN stay
apart, and the metrics count the v3 questions on both sides.

The first records are written into the stopped node's SQLite store
(registrar/src/store.cpp: table rrsets, rdata as (u16 length, rdata)*,
devices.nrrsets the count) before it starts, one more through the JSON API
(PUT /api/v1/devices/{device}/rrsets/{subname}/{type}) while it runs."""
import base64
import json
import re
import sqlite3
import struct
import urllib.error
import urllib.request

from cluster import dig

TTL = 60
SRV = struct.pack(">HHH", 0, 5, 8080) + b"\x03web\x05alice\x02uw\x03dht\x00"


def txt(s: str) -> bytes:
    return bytes([len(s)]) + s.encode()


RRSETS = [  # (subname, type, ttl, [rdata]) sorted by (subname, type)
    ("", 16, 300, [txt("v=spf1"), txt("hello")]),
    ("*", 16, 120, [txt("wildcard")]),
    ("_acme-challenge", 16, 30, [txt("token-xyz")]),
    ("_http._tcp", 33, 200, [SRV]),
]


def seed_rrsets(node, device: str, rrsets) -> None:
    db = sqlite3.connect(node.data / "pweb.db")
    try:
        for sub, rtype, ttl, rdatas in rrsets:
            blob = b"".join(struct.pack(">H", len(r)) + r for r in rdatas)
            db.execute("INSERT INTO rrsets(device, subname, type, ttl, rdata) VALUES(?,?,?,?,?)",
                       (device, sub, rtype, ttl, blob))
        db.execute("UPDATE devices SET nrrsets=? WHERE name=?", (len(rrsets), device))
        db.commit()
    finally:
        db.close()


def records(d, rdtype: str):
    """(ttl, rdata text) of the answer records of `rdtype` in a dig run."""
    out = []
    for line in d.text.splitlines():
        f = line.split()
        if len(f) >= 5 and not line.startswith(";") and f[3] == rdtype:
            out.append((int(f[1]), " ".join(f[4:])))
    return sorted(out, key=lambda r: r[1])


ALICE_PASSWORD = "alice-Secret-1"


def put_rrset(node, device: str, subname: str, rtype: str, body: dict) -> int:
    """PUT /api/v1/devices/{device}/rrsets/{subname}/{type} as alice; the HTTP status."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{node.http}/api/v1/devices/{device}/rrsets/{subname}/{rtype}",
        data=json.dumps(body).encode(), method="PUT",
        headers={"Content-Type": "application/json", "Authorization": "Basic " +
                 base64.b64encode(f"alice:{ALICE_PASSWORD}".encode()).decode()})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def metric(node, name: str, labels: str) -> float:
    status, text = node.get("/metrics", json_body=False)
    assert status == 200
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    assert m, f"{name}{{{labels}}} not in /metrics"
    return float(m.group(1))


def test_txt_srv_and_wildcard_of_a_device_answered_everywhere(make_cluster):
    c = make_cluster(ttl=TTL)
    uw = c.add("uw", {"laptop.alice.uw": "192.0.2.10", "phone.alice.uw": "192.0.2.11"},
               users={"alice": ALICE_PASSWORD}, start=False)
    seed_rrsets(uw, "laptop.alice.uw", RRSETS)
    uw.start()
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"})
    eth = c.add("eth", {"tv.dave.eth": "203.0.113.5"})
    c.wait_converged()

    wrong = []
    for asker in (uw, mit, eth):
        for tcp in (False, True):
            checks = [
                ("laptop.alice.uw.dht", "TXT", "NOERROR", ['"hello"', '"v=spf1"']),
                ("_acme-challenge.laptop.alice.uw.dht", "TXT", "NOERROR", ['"token-xyz"']),
                ("_http._tcp.laptop.alice.uw.dht", "SRV", "NOERROR",
                 ["0 5 8080 web.alice.uw.dht."]),
                ("anything.laptop.alice.uw.dht", "TXT", "NOERROR", ['"wildcard"']),
                ("a.b.laptop.alice.uw.dht", "TXT", "NOERROR", ['"wildcard"']),
                ("laptop.alice.uw.dht", "A", "NOERROR", ["192.0.2.10"]),
                # The name exists without that type: NODATA, not NXDOMAIN.
                ("laptop.alice.uw.dht", "SRV", "NOERROR", []),
                ("_tcp.laptop.alice.uw.dht", "TXT", "NOERROR", []),
                ("phone.alice.uw.dht", "TXT", "NOERROR", []),
                ("x.phone.alice.uw.dht", "TXT", "NXDOMAIN", []),
                ("tablet.alice.uw.dht", "TXT", "NXDOMAIN", []),
            ]
            for name, rdtype, status, want in checks:
                d = dig(asker.dns, name, rdtype, tcp)
                got = records(d, rdtype)
                if d.status != status or sorted(r for _, r in got) != want or \
                        any(ttl > 300 for ttl, _ in got) or "aa" not in d.flags:
                    wrong.append((asker.label, tcp, d))
    assert not wrong, "\n".join(map(repr, wrong[:6]))

    # The other agents asked uw with v3, once per name and type (then cached).
    for asker in (mit, eth):
        assert metric(asker, "pweb_gateway_client_answers_by_version_total", 'version="3"') >= 10
        assert metric(asker, "pweb_gateway_client_answers_by_version_total", 'version="2"') == 0
    assert metric(uw, "pweb_gateway_server_queries_by_version_total", 'version="3"') >= 20

    # The HTTP resolve API takes ?type= and gives the records in presentation form.
    status, body = mit.get("/api/v1/resolve/_http._tcp.laptop.alice.uw?type=SRV")
    assert status == 200, body
    assert body["status"] == "found" and body["type"] == "SRV", body
    assert [r["rdata"] for r in body["records"]] == ["0 5 8080 web.alice.uw.dht."], body
    status, body = eth.get("/api/v1/resolve/laptop.alice.uw.dht?type=txt")
    assert status == 200 and sorted(r["rdata"] for r in body["records"]) == ['"hello"', '"v=spf1"']
    status, body = uw.get("/api/v1/resolve/laptop.alice.uw?type=SRV")
    assert status == 200 and body["status"] == "nodata" and body["records"] == [], body
    status, body = mit.get("/api/v1/resolve/laptop.alice.uw?type=NOPE")
    assert status == 400, body
    # Without a type: the addresses, as before.
    status, body = mit.get("/api/v1/resolve/laptop.alice.uw")
    assert status == 200 and body["ipv4"] == "192.0.2.10" and "records" not in body, body

    # An RRset written through the JSON API while the cluster runs is answered
    # at the other agents too (a name and type not asked before: not cached).
    assert put_rrset(uw, "phone.alice.uw", "_svc", "TXT",
                     {"ttl": 60, "records": ['"live"']}) in (200, 201)
    for asker in (mit, eth):
        d = dig(asker.dns, "_svc.phone.alice.uw.dht", "TXT")
        assert d.status == "NOERROR" and [r for _, r in records(d, "TXT")] == ['"live"'], d
