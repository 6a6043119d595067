"""Inputs and secrets (issue 12, item 6): one address rule for /nic/update
and the JSON API, nothing after an address (not even %00), failed logins
throttled per /24 as well as per address, and the files holding password
hashes or the identity private (0600) under a umask of 022."""
from __future__ import annotations

import os
import stat

import dns.rdatatype
import pytest

from registrar_fixtures import REG_LABEL, Registrar, registrar_factory  # noqa: F401

# (address, the rule that refuses it, as the answer says it)
REFUSED = [
    ("224.0.0.1", "224.0.0.1 is a multicast address"),
    ("0.0.0.0", "0.0.0.0 is the unspecified address"),
    ("255.255.255.255", "255.255.255.255 is the broadcast address"),
    ("ff02::1", "ff02::1 is a multicast address"),
    ("::", ":: is the unspecified address"),
]


@pytest.fixture(scope="module")
def reg(registrar_factory):  # noqa: F811
    r = registrar_factory.start("input-rules")
    yield r
    r.stop()


@pytest.mark.parametrize("addr,rule", REFUSED)
def test_one_address_rule_for_nic_update_and_json_api(reg, addr, rule):
    name = "rule.alice.uw"
    assert reg.put_device("alice", name, {"ipv4": "192.0.2.50", "ipv6": "2001:db8::50"}).status in (
        200, 201)
    key = "myipv6" if ":" in addr else "myip"
    res = reg.nic("alice", {"hostname": name, key: addr})
    assert res.status == 400 and rule in res.text, res
    field = "ipv6" if ":" in addr else "ipv4"
    res = reg.put_device("alice", name, {field: addr})
    assert res.status == 400 and rule in res.json()["error"], res
    reg.assert_dns(name, v4="192.0.2.50", v6="2001:db8::50")


@pytest.mark.parametrize("query", [
    "myip=192.0.2.60%00junk",
    "myip=192.0.2.60junk",
    "myip=192.0.2.60%00",
    "myipv6=2001:db8::60%00junk",
    "myipv6=2001:db8::60/64",
])
def test_nothing_may_follow_an_address(reg, query):
    name = "nul.alice.uw"
    assert reg.nic_ok("alice", {"hostname": name, "myip": "192.0.2.59"})[0].endswith(" 192.0.2.59")
    res = reg.nic("alice", f"hostname={name}&{query}")
    assert res.status == 400, res
    assert "is not an IPv" in res.text and "\0" not in res.text, res
    reg.assert_dns(name, v4="192.0.2.59")
    res = reg.put_device("alice", name, '{"ipv4": "192.0.2.60\\u0000junk"}')
    assert res.status == 400 and "not an IPv4 address" in res.json()["error"], res
    reg.assert_dns(name, v4="192.0.2.59")


def test_guesses_from_one_slash24_are_throttled(registrar_factory):  # noqa: F811
    """45 wrong logins from 5 addresses of 127.0.0.0/24, 9 from each (under the
    per-address limits), at different users: stopped by the /24 count. A new
    address of that /24 is refused even with the right password; the client
    that logged in before, and another /24, are not."""
    r = registrar_factory.start("throttle-24")
    try:
        assert r.nic_ok("alice", {"hostname": "t.alice.uw", "myip": "192.0.2.70"}) == [
            "good 192.0.2.70"]
        answers = []
        for i in range(45):
            res = r.nic(f"guess{i}", {"hostname": f"t.guess{i}.uw", "myip": "192.0.2.71"},
                        password="wrong", source=f"127.0.0.{10 + i % 5}")
            answers.append((res.status, res.text.strip()))
        blocked = [i for i, a in enumerate(answers) if a == (429, "abuse")]
        assert blocked, f"45 guesses from one /24 were never throttled: {answers[-5:]}"
        assert blocked[0] <= 30 and blocked == list(range(blocked[0], 45)), answers
        assert all(a == (200, "badauth") for a in answers[:blocked[0]]), answers
        res = r.nic("alice", {"hostname": "t.alice.uw", "myip": "192.0.2.72"},
                    source="127.0.0.40")
        assert res.status == 429 and res.lines == ["abuse"], res
        r.assert_dns("t.alice.uw", v4="192.0.2.70")
        # alice's own client (127.0.0.1 logged in before) and another /24 still work
        assert r.nic_ok("alice", {"hostname": "t.alice.uw", "myip": "192.0.2.73"}) == [
            "good 192.0.2.73"]
        assert r.nic_ok("alice", {"hostname": "t.alice.uw", "myip": "192.0.2.74"},
                        source="127.0.1.1") == ["good 192.0.2.74"]
    finally:
        r.stop()


def test_secret_files_are_0600_under_umask_022(registrar_factory):  # noqa: F811
    old = os.umask(0o022)
    try:
        r = registrar_factory.start("file-modes")
    finally:
        os.umask(old)
    try:
        assert r.nic_ok("alice", {"hostname": "m.alice.uw", "myip": "192.0.2.80"}) == [
            "good 192.0.2.80"]
        names = ["pweb.db", "pweb.db-wal", "pweb.db-shm", "identity.pem", "identity.crt"]
        names += [p.name for p in r.data_dir.glob("identity.pins")]
        assert set(names) <= {p.name for p in r.data_dir.iterdir()}, (
            sorted(p.name for p in r.data_dir.iterdir()), r.node.alive())
        modes = {n: oct(stat.S_IMODE((r.data_dir / n).stat().st_mode)) for n in names}
        assert modes == {n: "0o600" for n in names}, modes
    finally:
        r.stop()
