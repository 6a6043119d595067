"""DynDNS2 over plain HTTP (`GET /nic/update`, `GET /checkip`), black-box.

Contract: /tmp/contract3.md ("DynDNS2"). Every `good` is followed at once (no
sleep) by a UDP DNS query that must already see the new address.

Most tests share the `registrar` node (users alice, bob; carol added after
start) and use their own device names; the throttling test gets its own node
because a blocked source address would disturb the others.
"""
import time

import pytest

from registrar_fixtures import (basic_auth_header, raw_http_exchange, registrar,  # noqa: F401
                                registrar_factory, run_user_cmd)

MAX_HOSTS = 20
THROTTLE_ATTEMPTS = 50


def first_tokens(lines):
    return [l.split(" ", 1)[0] for l in lines]


# ---------------------------------------------------------------------------
# good / nochg
# ---------------------------------------------------------------------------

def test_good_then_nochg(registrar):
    r = registrar
    name = "dg1.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.101"}) == ["good 192.0.2.101"]
    r.assert_dns(name, v4="192.0.2.101", v6=None)
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.101"}) == ["nochg 192.0.2.101"]
    r.assert_dns(name, v4="192.0.2.101")
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.102"}) == ["good 192.0.2.102"]
    r.assert_dns(name, v4="192.0.2.102", v6=None)


def test_ddclient_style_request(registrar):
    """Exactly what ddclient 3.10 sends: system=dyndns first, raw commas."""
    r = registrar
    qs = "system=dyndns&hostname=dd1.alice.uw,dd2.alice.uw&myip=192.0.2.110"
    assert r.nic_ok("alice", qs) == ["good 192.0.2.110", "good 192.0.2.110"]
    r.assert_dns("dd1.alice.uw", v4="192.0.2.110")
    r.assert_dns("dd2.alice.uw", v4="192.0.2.110")


def test_percent_encoded_comma(registrar):
    """inadyn (and urlencode) send ',' as %2C and ':' as %3A."""
    r = registrar
    qs = "hostname=pe1.alice.uw%2Cpe2.alice.uw&myip=192.0.2.111%2C2001%3Adb8%3A%3A111"
    lines = r.nic_ok("alice", qs)
    assert lines == ["good 192.0.2.111,2001:db8::111"] * 2, lines
    r.assert_dns("pe1.alice.uw", v4="192.0.2.111", v6="2001:db8::111")
    r.assert_dns("pe2.alice.uw", v4="192.0.2.111", v6="2001:db8::111")


def test_several_hostnames_answered_in_order(registrar):
    r = registrar
    # a device that already has the address: must answer nochg in the batch
    assert r.nic_ok("alice", {"hostname": "mh3.alice.uw", "myip": "192.0.2.120"}) == ["good 192.0.2.120"]
    names = ["mh1.alice.uw",      # good
             "mhx.bob.uw",        # another user's name: nohost
             "bad_label.alice.uw",  # notfqdn
             "mh3.alice.uw",      # nochg
             "mh1.alice.ut",      # another agent's label: nohost
             "alice.uw",          # two labels: notfqdn
             "mh2.alice.uw"]      # good
    lines = r.nic_ok("alice", {"hostname": ",".join(names), "myip": "192.0.2.120"})
    assert lines == ["good 192.0.2.120", "nohost", "notfqdn", "nochg 192.0.2.120",
                     "nohost", "notfqdn", "good 192.0.2.120"], lines
    r.assert_dns("mh1.alice.uw", v4="192.0.2.120")
    r.assert_dns("mh2.alice.uw", v4="192.0.2.120")
    r.assert_dns("mh3.alice.uw", v4="192.0.2.120")
    r.assert_nxdomain("mhx.bob.uw")


def test_hostname_case_insensitive(registrar):
    r = registrar
    lines = r.nic_ok("alice", {"hostname": "CaseDev.ALICE.Uw", "myip": "192.0.2.121"})
    assert lines == ["good 192.0.2.121"], lines
    r.assert_dns("casedev.alice.uw", v4="192.0.2.121")
    g = r.get_device("alice", "casedev.alice.uw")
    assert g.status == 200 and g.json().get("name") == "casedev.alice.uw", g


# ---------------------------------------------------------------------------
# address families
# ---------------------------------------------------------------------------

def test_myip_v4_and_v6_pair(registrar):
    r = registrar
    name = "pair.alice.uw"
    lines = r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.103,2001:db8::103"})
    assert lines == ["good 192.0.2.103,2001:db8::103"], lines
    r.assert_dns(name, v4="192.0.2.103", v6="2001:db8::103")
    lines = r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.103,2001:db8::103"})
    assert lines == ["nochg 192.0.2.103,2001:db8::103"], lines


def test_myip_v6_only(registrar):
    r = registrar
    name = "v6only.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "2001:db8::108"}) == ["good 2001:db8::108"]
    r.assert_dns(name, v4=None, v6="2001:db8::108")


def test_myipv6_parameter(registrar):
    r = registrar
    name = "myipv6.alice.uw"
    lines = r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.104", "myipv6": "2001:db8::104"})
    assert lines == ["good 192.0.2.104,2001:db8::104"], lines
    r.assert_dns(name, v4="192.0.2.104", v6="2001:db8::104")
    # myipv6 alone: only the AAAA changes, the A stays
    lines = r.nic_ok("alice", {"hostname": name, "myipv6": "2001:db8::105"})
    assert lines == ["good 2001:db8::105"], lines
    r.assert_dns(name, v4="192.0.2.104", v6="2001:db8::105")


def test_updating_one_family_keeps_the_other(registrar):
    r = registrar
    name = "keep.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.106,2001:db8::106"}) == \
        ["good 192.0.2.106,2001:db8::106"]
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.107"}) == ["good 192.0.2.107"]
    r.assert_dns(name, v4="192.0.2.107", v6="2001:db8::106")
    assert r.nic_ok("alice", {"hostname": name, "myip": "2001:db8::107"}) == ["good 2001:db8::107"]
    r.assert_dns(name, v4="192.0.2.107", v6="2001:db8::107")


def test_no_myip_uses_caller_address(registrar):
    r = registrar
    name = "caller.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.109,2001:db8::109"})[0].startswith("good")
    assert r.nic_ok("alice", {"hostname": name}) == ["good 127.0.0.1"]
    r.assert_dns(name, v4="127.0.0.1", v6="2001:db8::109")
    # from another loopback source address: that one is used
    lines = r.nic_ok("alice", {"hostname": name}, source="127.0.0.2")
    assert lines == ["good 127.0.0.2"], lines
    r.assert_dns(name, v4="127.0.0.2", v6="2001:db8::109")


# ---------------------------------------------------------------------------
# offline
# ---------------------------------------------------------------------------

def test_offline_removes_addresses(registrar):
    r = registrar
    name = "off.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.112,2001:db8::112"})[0].startswith("good")
    lines = r.nic_ok("alice", {"hostname": name, "offline": "YES"})
    assert len(lines) == 1 and first_tokens(lines)[0] in ("good", "nochg"), lines
    r.assert_dns(name, v4=None, v6=None)  # NODATA: the name still exists
    g = r.get_device("alice", name)
    assert g.status == 200, g
    assert g.json().get("ipv4") is None and g.json().get("ipv6") is None, g
    # back online
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.112"}) == ["good 192.0.2.112"]
    r.assert_dns(name, v4="192.0.2.112", v6=None)


# ---------------------------------------------------------------------------
# nohost / notfqdn / numhost
# ---------------------------------------------------------------------------

def test_nohost_other_users_name(registrar):
    r = registrar
    assert r.nic_ok("bob", {"hostname": "own.bob.uw", "myip": "192.0.2.130"}) == ["good 192.0.2.130"]
    assert r.nic_ok("alice", {"hostname": "own.bob.uw", "myip": "192.0.2.131"}) == ["nohost"]
    r.assert_dns("own.bob.uw", v4="192.0.2.130")
    assert r.nic_ok("alice", {"hostname": "new.bob.uw", "myip": "192.0.2.131"}) == ["nohost"]
    r.assert_nxdomain("new.bob.uw")


def test_nohost_other_agent_label(registrar):
    r = registrar
    for name in ("laptop.alice.ut", "laptop.alice.uwx", "laptop.alice.u"):
        lines = r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.132"})
        assert lines == ["nohost"], f"{name}: {lines}"


NOTFQDN = [
    ("underscore", "bad_label.alice.uw"),
    ("two-labels", "alice.uw"),
    ("four-labels", "a.dev.alice.uw"),
    ("leading-hyphen", "-dev.alice.uw"),
    ("trailing-hyphen", "dev-.alice.uw"),
    ("64-char-label", "d" * 64 + ".alice.uw"),
    ("empty-label", "dev..uw"),
    ("one-label", "dev"),
    ("space", "de v.alice.uw"),
    ("non-ascii", "l\u00e4ptop.alice.uw"),
]


@pytest.mark.parametrize("name", [c[1] for c in NOTFQDN], ids=[c[0] for c in NOTFQDN])
def test_notfqdn(registrar, name):
    lines = registrar.nic_ok("alice", {"hostname": name, "myip": "192.0.2.133"})
    assert lines == ["notfqdn"], f"{name!r}: {lines}"


def test_missing_hostname_is_notfqdn(registrar):
    assert registrar.nic_ok("alice", {"myip": "192.0.2.134"}) == ["notfqdn"]
    assert registrar.nic_ok("alice", {"hostname": "", "myip": "192.0.2.134"}) == ["notfqdn"]


def test_numhost(registrar):
    r = registrar
    names = [f"nh{i:02d}.alice.uw" for i in range(MAX_HOSTS + 1)]
    lines = r.nic_ok("alice", {"hostname": ",".join(names), "myip": "192.0.2.135"})
    assert lines and all(l == "numhost" for l in lines) and len(lines) in (1, len(names)), lines
    for n in (names[0], names[-1]):
        r.assert_nxdomain(n)  # nothing was created


def test_twenty_hostnames_allowed(registrar):
    r = registrar
    names = [f"tw{i:02d}.alice.uw" for i in range(MAX_HOSTS)]
    lines = r.nic_ok("alice", {"hostname": ",".join(names), "myip": "192.0.2.136"})
    assert lines == ["good 192.0.2.136"] * MAX_HOSTS, lines
    r.assert_dns(names[0], v4="192.0.2.136")
    r.assert_dns(names[-1], v4="192.0.2.136")


# ---------------------------------------------------------------------------
# authentication
# ---------------------------------------------------------------------------

def test_wrong_password_badauth_changes_nothing(registrar):
    r = registrar
    name = "auth.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.140"}) == ["good 192.0.2.140"]
    res = r.nic("alice", {"hostname": name, "myip": "192.0.2.141"}, password="wrong-password",
                source="127.0.0.3")
    assert res.status == 200 and res.lines == ["badauth"], res
    r.assert_dns(name, v4="192.0.2.140")
    res = r.nic("nosuchuser", {"hostname": "x.nosuchuser.uw", "myip": "192.0.2.141"},
                password="whatever", source="127.0.0.3")
    assert res.status == 200 and res.lines == ["badauth"], res
    r.assert_nxdomain("x.nosuchuser.uw")


def test_no_authorization_header_401(registrar):
    r = registrar
    res = r.nic(None, {"hostname": "noauth.alice.uw", "myip": "192.0.2.142"})
    assert res.status == 401, res
    www = res.headers.get("www-authenticate", "")
    assert www.lower().startswith("basic") and 'realm="pweb"' in www, res
    assert res.lines == ["badauth"], res
    r.assert_nxdomain("noauth.alice.uw")


def test_auth_scheme_case_insensitive(registrar):
    """RFC 7235 s2.1: the auth-scheme token is case-insensitive ("basic")."""
    r = registrar
    hdr = "basic " + basic_auth_header("alice", r.users["alice"]).split(" ", 1)[1]
    res = r.get("/nic/update?hostname=lcscheme.alice.uw&myip=192.0.2.147",
                headers={"Authorization": hdr}, source="127.0.0.3")
    assert res.status == 200 and res.lines == ["good 192.0.2.147"], res
    r.assert_dns("lcscheme.alice.uw", v4="192.0.2.147")


def test_password_with_colon_and_space(registrar):
    """Basic auth: the password is everything after the first colon."""
    r = registrar
    r.add_user("dave", "pa:ss wo:rd")
    assert r.nic_ok("dave", {"hostname": "colon.dave.uw", "myip": "192.0.2.143"}) == ["good 192.0.2.143"]
    r.assert_dns("colon.dave.uw", v4="192.0.2.143")


def test_user_added_while_running(registrar):
    r = registrar
    # carol was added by the fixture after the node started
    assert r.nic_ok("carol", {"hostname": "late.carol.uw", "myip": "192.0.2.144"}) == ["good 192.0.2.144"]
    r.assert_dns("late.carol.uw", v4="192.0.2.144")
    r.add_user("erin", "erin-Secret-5")
    assert r.nic_ok("erin", {"hostname": "late.erin.uw", "myip": "192.0.2.145"}) == ["good 192.0.2.145"]
    r.assert_dns("late.erin.uw", v4="192.0.2.145")
    res = run_user_cmd(r.data_dir, "list")
    assert res.returncode == 0, res
    listed = res.stdout.split()
    for u in ("alice", "bob", "carol", "erin"):
        assert u in listed, f"`user list` lacks {u}: {res.stdout!r}"


def test_user_deleted_or_readded_while_running(registrar):
    """`user del` takes effect at once; re-adding with a new password makes
    the old one fail (no stale credential cache). Failed logins from
    127.0.0.3 so that they do not count against 127.0.0.1."""
    r = registrar
    r.add_user("gina", "gina-old-pw")
    assert r.nic_ok("gina", {"hostname": "x.gina.uw", "myip": "192.0.2.170"}) == ["good 192.0.2.170"]
    res = run_user_cmd(r.data_dir, "del", "gina")
    assert res.returncode == 0, res
    res = r.nic("gina", {"hostname": "x.gina.uw", "myip": "192.0.2.171"}, source="127.0.0.3")
    assert res.status == 200 and res.lines == ["badauth"], f"deleted user still accepted: {res!r}"
    r.add_user("gina", "gina-new-pw")
    res = r.nic("gina", {"hostname": "x.gina.uw", "myip": "192.0.2.172"}, password="gina-old-pw",
                source="127.0.0.3")
    assert res.status == 200 and res.lines == ["badauth"], f"old password still accepted: {res!r}"
    r.assert_dns("x.gina.uw", v4="192.0.2.170")
    assert r.nic_ok("gina", {"hostname": "x.gina.uw", "myip": "192.0.2.173"}) == ["good 192.0.2.173"]
    r.assert_dns("x.gina.uw", v4="192.0.2.173")
    res = run_user_cmd(r.data_dir, "del", "nosuchuser")
    assert res.returncode != 0 and (res.stdout + res.stderr).strip(), res


def test_user_add_rejects(registrar):
    r = registrar
    for name, pw, why in (("bad_name", "pw", "invalid label"), ("alice", "other", "exists"),
                          ("frank", "", "empty password")):
        res = run_user_cmd(r.data_dir, "add", name, "--password-stdin", stdin=pw + "\n")
        assert res.returncode != 0, f"user add {name} ({why}) exited 0: {res}"
        assert (res.stdout + res.stderr).strip(), f"user add {name} ({why}): no message"
    # alice's password is unchanged
    assert r.nic_ok("alice", {"hostname": "still.alice.uw", "myip": "192.0.2.146"}) == ["good 192.0.2.146"]


# ---------------------------------------------------------------------------
# malformed myip
# ---------------------------------------------------------------------------

BAD_MYIP = [
    ("v4-octet", "999.1.1.1"),
    ("v4-short", "1.2.3"),
    ("word", "hello"),
    ("v6-bad", "2001:db8::zz"),
    ("pair-bad-second", "192.0.2.150,zz"),
    ("v4-trailing-garbage", "192.0.2.150x"),
    ("three", "192.0.2.150,2001:db8::150,2001:db8::151"),
]


@pytest.mark.parametrize("myip", [c[1] for c in BAD_MYIP], ids=[c[0] for c in BAD_MYIP])
def test_malformed_myip_400(registrar, myip):
    r = registrar
    name = "badip.alice.uw"
    assert r.nic("alice", {"hostname": name, "myip": "192.0.2.149"}).status == 200
    res = r.nic("alice", {"hostname": name, "myip": myip})
    assert res.status == 400, f"myip={myip!r}: {res!r}"
    assert res.text.strip(), f"myip={myip!r}: 400 without an explanation: {res!r}"
    assert not res.text.startswith(("good", "nochg")), res
    r.assert_dns(name, v4="192.0.2.149", v6=None)


def test_malformed_myipv6_400(registrar):
    r = registrar
    name = "badip6.alice.uw"
    assert r.nic("alice", {"hostname": name, "myip": "192.0.2.151"}).status == 200
    for bad in ("2001:db8::zz", "192.0.2.152"):  # myipv6 must be an IPv6 address
        res = r.nic("alice", {"hostname": name, "myipv6": bad})
        assert res.status == 400, f"myipv6={bad!r}: {res!r}"
    r.assert_dns(name, v4="192.0.2.151", v6=None)


# ---------------------------------------------------------------------------
# /checkip and HTTP details the clients rely on
# ---------------------------------------------------------------------------

def test_checkip(registrar):
    res = registrar.get("/checkip")
    assert res.status == 200, res
    assert res.content_type.startswith("text/html"), res
    assert "Current IP Address: 127.0.0.1" in res.text, res
    res = registrar.get("/checkip", source="127.0.0.2")
    assert "Current IP Address: 127.0.0.2" in res.text, res


def test_http10_request_is_answered_and_closed(registrar):
    """inadyn sends HTTP/1.0 without Connection: close and reads until EOF."""
    req = (b"GET /checkip HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: inadyn-like\r\n\r\n")
    t0 = time.monotonic()
    data, closed = raw_http_exchange(registrar.http_port, req, timeout=6.0)
    took = time.monotonic() - t0
    assert data.startswith(b"HTTP/1."), data
    assert b" 200 " in data.split(b"\r\n", 1)[0], data
    assert b"127.0.0.1" in data, data
    assert closed and took < 3.0, (f"server did not close the HTTP/1.0 connection "
                                   f"(closed={closed}, {took:.1f}s): inadyn would hang")


# ---------------------------------------------------------------------------
# throttling (own node: it blocks 127.0.0.1)
# ---------------------------------------------------------------------------

def test_failed_logins_are_throttled(registrar_factory):
    r = registrar_factory.start("throttle")
    try:
        name = "thr.alice.uw"
        assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.160"}) == ["good 192.0.2.160"]
        seen = []
        abuse_at = None
        for i in range(THROTTLE_ATTEMPTS):
            res = r.nic("alice", {"hostname": name, "myip": "192.0.2.161"}, password=f"wrong{i}")
            seen.append((res.status, res.text.strip()))
            if res.status == 429:
                abuse_at = i
                assert res.lines[:1] == ["abuse"], res
                break
            assert res.lines == ["badauth"], res
        assert abuse_at is not None, (f"no 429 abuse after {THROTTLE_ATTEMPTS} wrong passwords "
                                      f"from 127.0.0.1: {seen[-3:]}")
        print(f"throttled after {abuse_at} wrong passwords")
        # still blocked for wrong passwords
        res = r.nic("alice", {"hostname": name, "myip": "192.0.2.161"}, password="wrong-again")
        assert res.status == 429 and res.lines[:1] == ["abuse"], res
        # the correct password from the blocked address: report what happens
        res = r.nic("alice", {"hostname": name, "myip": "192.0.2.162"})
        print(f"correct password from the blocked address -> {res.status} {res.text.strip()!r}")
        if res.status == 429:
            r.assert_dns(name, v4="192.0.2.160")  # blocked: nothing changed
        # another source address is not blocked
        res = r.nic("alice", {"hostname": name, "myip": "192.0.2.163"}, source="127.0.0.2")
        assert res.status == 200 and res.lines == ["good 192.0.2.163"], res
        r.assert_dns(name, v4="192.0.2.163")
    finally:
        r.stop()
