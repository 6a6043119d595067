"""Scoped device tokens (DESIGN.md "Records beyond addresses"): made, listed and
revoked over HTTP by the device's owner; the secret shown once; a token as the
DynDNS2 password with the device name as the user name, for its device only,
within its scope, subnets and lifetime; throttled as passwords are; the real
ddclient updating a device with one.

Each protection has a test that fails without it. Failed logins are counted per
source address too, so the tests that fail logins on purpose do it from
addresses of their own (127.0.x.y is all loopback on Linux).
"""
import base64
import json
import os
import re
import time

import pytest

from registrar_fixtures import registrar_factory, require_tool, run_client  # noqa: F401

TOKEN_RE = re.compile(r"^[A-Za-z0-9+/]{44}$")
ID_RE = re.compile(r"^t[0-9a-f]{16}$")


@pytest.fixture(scope="module")
def reg(registrar_factory):  # noqa: F811
    r = registrar_factory.start("tokens")
    yield r
    r.stop()


def tokens_path(name, token_id=None):
    return f"/api/v1/devices/{name}/tokens" + (f"/{token_id}" if token_id else "")


def create(r, name, body=None, user="alice", password=None, **kw):
    auth = (user, password if password is not None else r.users[user])
    return r.request("POST", tokens_path(name), auth=auth, body=json.dumps(body or {}),
                     headers={"Content-Type": "application/json"}, **kw)


def made(r, name, body=None):
    res = create(r, name, body)
    assert res.status == 201, res
    return res.json()


def listed(r, name, user="alice"):
    res = r.request("GET", tokens_path(name), auth=r.creds(user))
    assert res.status == 200, res
    return res.json()["tokens"]


def device(r, name, v4="192.0.2.1"):
    res = r.put_device(name.split(".")[1], name, {"ipv4": v4})
    assert res.status in (200, 201), res


def nic_token(r, name, token, hostname=None, myip="198.51.100.1", source=None):
    """/nic/update with the device name as user and the token as password."""
    params = {"hostname": hostname or name, "myip": myip}
    return r.nic(name, params, password=token, source=source)


# ---------------------------------------------------------------------------
# HTTP: create, list, revoke
# ---------------------------------------------------------------------------

def test_create_list_revoke(reg):
    r = reg
    name = "tk-crud.alice.uw"
    device(r, name)
    t = made(r, name, {"scope": "update", "allowed_subnets": ["127.0.0.0/8", "2001:db8::/32"],
                       "expires": 4102444800})
    assert ID_RE.match(t["id"]), t
    assert TOKEN_RE.match(t["token"]) and len(base64.b64decode(t["token"])) == 33, t
    assert (t["device"], t["scope"], t["allowed_subnets"], t["expires"]) == (
        name, "update", ["127.0.0.0/8", "2001:db8::/32"], 4102444800), t
    assert abs(t["created"] - time.time()) < 60, t
    # Listed without the secret; the secret is nowhere in the listing.
    got = listed(r, name)
    assert got == [{k: v for k, v in t.items() if k != "token"}], got
    res = r.request("GET", tokens_path(name), auth=r.creds("alice"))
    assert t["token"] not in res.text, res
    # It works, then, revoked, it does not.
    assert nic_token(r, name, t["token"]).lines == ["good 198.51.100.1"]
    res = r.request("DELETE", tokens_path(name, t["id"]), auth=r.creds("alice"))
    assert res.status == 204 and res.body == b"", res
    assert listed(r, name) == []
    assert r.request("DELETE", tokens_path(name, t["id"]), auth=r.creds("alice")).status == 404
    res = nic_token(r, name, t["token"], myip="198.51.100.2", source="127.0.1.1")
    assert (res.status, res.lines) == (200, ["badauth"]), res
    r.assert_dns(name, v4="198.51.100.1")


def test_ids_unique_and_secret_shown_once(reg):
    r = reg
    name = "tk-once.alice.uw"
    device(r, name)
    a, b = made(r, name), made(r, name)
    assert a["id"] != b["id"] and a["token"] != b["token"]
    assert a["scope"] == "update" and a["expires"] is None and a["allowed_subnets"] == []
    for t in listed(r, name):
        assert "token" not in t and set(t) == {"id", "device", "scope", "allowed_subnets",
                                               "expires", "created"}, t


def test_limit_per_device(reg):
    r = reg
    name = "tk-limit.alice.uw"
    device(r, name)
    for _ in range(20):
        made(r, name)
    res = create(r, name)
    assert res.status == 409 and "20" in res.json()["error"], res
    assert len(listed(r, name)) == 20
    device(r, "tk-limit2.alice.uw")
    made(r, "tk-limit2.alice.uw")  # per device, not per user


@pytest.mark.parametrize("body,needle", [
    ({"scope": "admin"}, "scope"),
    ({"scope": None}, "scope"),
    ({"allowed_subnets": ["192.0.2.1/24"]}, "host bits"),
    ({"allowed_subnets": ["192.0.2.0/33"]}, "prefix"),
    ({"allowed_subnets": ["example.org/24"]}, "address"),
    ({"allowed_subnets": "192.0.2.0/24"}, "array"),
    ({"allowed_subnets": ["10.0.0.0/8"] * 17}, "16"),
    ({"expires": 1}, "future"),
    ({"expires": "2100-01-01"}, "unix time"),
    ({"expire": 4102444800}, "unknown field"),
])
def test_bad_bodies_400(reg, body, needle):
    r = reg
    name = "tk-bad.alice.uw"
    device(r, name)
    res = create(r, name, body)
    assert res.status == 400 and needle in res.json()["error"], res
    assert listed(r, name) == []


def test_unknown_device_404_and_others_403(reg):
    r = reg
    assert create(r, "tk-nodev.alice.uw").status == 404
    name = "tk-mine.alice.uw"
    device(r, name)
    t = made(r, name)
    # bob can neither make, see nor revoke alice's tokens
    assert create(r, name, user="bob").status == 403
    assert r.request("GET", tokens_path(name), auth=r.creds("bob")).status == 403
    res = r.request("DELETE", tokens_path(name, t["id"]), auth=r.creds("bob"))
    assert res.status == 403, res
    # nor revoke it through one of his own devices
    device(r, "tk-his.bob.uw")
    res = r.request("DELETE", tokens_path("tk-his.bob.uw", t["id"]), auth=r.creds("bob"))
    assert res.status == 404, res
    assert len(listed(r, name)) == 1
    # and alice revokes through the right device only
    device(r, "tk-other.alice.uw")
    res = r.request("DELETE", tokens_path("tk-other.alice.uw", t["id"]), auth=r.creds("alice"))
    assert res.status == 404, res
    assert len(listed(r, name)) == 1


def test_token_is_not_the_owners_password(reg):
    r = reg
    name = "tk-notpw.alice.uw"
    device(r, name)
    t = made(r, name)
    # neither as alice's password, nor as the device name's, for the JSON API
    res = r.request("GET", tokens_path(name), auth=("alice", t["token"]), source="127.0.2.1")
    assert res.status == 401, res
    res = r.request("GET", tokens_path(name), auth=(name, t["token"]), source="127.0.2.1")
    assert res.status == 401, res
    assert create(r, name, user="alice", password=t["token"], source="127.0.2.1").status == 401
    assert r.get_device("alice", name, password=t["token"], source="127.0.2.1").status == 401
    # nor as alice's DynDNS2 password
    res = r.nic("alice", {"hostname": name, "myip": "198.51.100.9"}, password=t["token"],
                source="127.0.2.1")
    assert res.lines == ["badauth"], res


def test_removing_the_device_removes_its_tokens(reg):
    r = reg
    name = "tk-gone.alice.uw"
    device(r, name)
    t = made(r, name)
    assert r.delete_device("alice", name).status == 204
    res = nic_token(r, name, t["token"], source="127.0.3.1")
    assert res.lines == ["badauth"], res
    device(r, name)  # registered again: the old token stays dead
    assert listed(r, name) == []
    assert nic_token(r, name, t["token"], source="127.0.3.1").lines == ["badauth"]


# ---------------------------------------------------------------------------
# DynDNS2 with a token
# ---------------------------------------------------------------------------

def test_dyndns_token_updates_its_device_only(reg):
    r = reg
    laptop, phone = "tk-dd1.alice.uw", "tk-dd2.alice.uw"
    device(r, laptop, "192.0.2.21")
    device(r, phone, "192.0.2.22")
    t = made(r, laptop)["token"]
    assert nic_token(r, laptop, t, myip="198.51.100.21").lines == ["good 198.51.100.21"]
    r.assert_dns(laptop, v4="198.51.100.21")
    assert nic_token(r, laptop, t, myip="198.51.100.21").lines == ["nochg 198.51.100.21"]
    # Another device of the same user, or of another user: nohost, nothing changed.
    res = nic_token(r, laptop, t, hostname=f"{laptop},{phone},x.bob.uw", myip="198.51.100.22")
    assert res.lines == ["good 198.51.100.22", "nohost", "nohost"], res
    r.assert_dns(phone, v4="192.0.2.22")
    # The user name is the device name; any other device name with this token is badauth.
    res = nic_token(r, phone, t, hostname=phone, source="127.0.4.1")
    assert res.lines == ["badauth"], res
    r.assert_dns(phone, v4="192.0.2.22")
    # Case of the user name does not matter (device names are case-insensitive).
    res = r.nic(laptop.upper(), {"hostname": laptop, "myip": "198.51.100.23"}, password=t)
    assert res.lines == ["good 198.51.100.23"], res


def test_dyndns_other_users_device(reg):
    r = reg
    bobs, mine = "tk-bob.bob.uw", "tk-alice.alice.uw"
    device(r, bobs)
    device(r, mine)
    t = made(r, mine)["token"]
    # alice's token, presented as bob's device: badauth; naming bob's device: nohost
    assert nic_token(r, bobs, t, source="127.0.5.1").lines == ["badauth"]
    res = nic_token(r, mine, t, hostname=bobs)
    assert res.lines == ["nohost"], res
    r.assert_dns(bobs, v4="192.0.2.1")


def test_dyndns_scope(reg):
    r = reg
    name = "tk-scope.alice.uw"
    device(r, name, "192.0.2.30")
    acme = made(r, name, {"scope": "acme"})["token"]
    records = made(r, name, {"scope": "records"})["token"]
    res = nic_token(r, name, acme, myip="198.51.100.30", source="127.0.6.1")
    assert res.lines == ["badauth"], res
    r.assert_dns(name, v4="192.0.2.30")
    assert nic_token(r, name, records, myip="198.51.100.31").lines == ["good 198.51.100.31"]


def test_dyndns_subnets(reg):
    r = reg
    name = "tk-net.alice.uw"
    device(r, name, "192.0.2.40")
    only2 = made(r, name, {"allowed_subnets": ["127.0.7.2/32"]})["token"]
    wide = made(r, name, {"allowed_subnets": ["2001:db8::/32", "127.0.7.0/24"]})["token"]
    res = nic_token(r, name, only2, myip="198.51.100.40", source="127.0.7.1")
    assert res.lines == ["badauth"], res
    r.assert_dns(name, v4="192.0.2.40")
    res = nic_token(r, name, only2, myip="198.51.100.41", source="127.0.7.2")
    assert res.lines == ["good 198.51.100.41"], res
    res = nic_token(r, name, wide, myip="198.51.100.42", source="127.0.7.200")
    assert res.lines == ["good 198.51.100.42"], res
    res = nic_token(r, name, wide, myip="198.51.100.43", source="127.0.8.1")
    assert res.lines == ["badauth"], res
    r.assert_dns(name, v4="198.51.100.42")


def test_dyndns_expiry(reg):
    r = reg
    name = "tk-exp.alice.uw"
    device(r, name, "192.0.2.50")
    t = made(r, name, {"expires": int(time.time()) + 2})
    assert nic_token(r, name, t["token"], myip="198.51.100.50").lines == ["good 198.51.100.50"]
    for _ in range(40):  # bounded: until the wall clock passes the expiry
        if time.time() > t["expires"] + 0.1:
            break
        time.sleep(0.1)
    res = nic_token(r, name, t["token"], myip="198.51.100.51", source="127.0.9.1")
    assert res.lines == ["badauth"], res
    r.assert_dns(name, v4="198.51.100.50")


def test_dyndns_wrong_tokens_badauth(reg):
    r = reg
    name = "tk-wrong.alice.uw"
    device(r, name, "192.0.2.60")
    good = made(r, name)["token"]
    flipped = ("B" if good[0] == "A" else "A") + good[1:]
    for i, bad in enumerate([flipped, good[:-1], good + "A", "", "x" * 44, "not base64 at all"]):
        res = nic_token(r, name, bad, source=f"127.0.10.{i + 1}")
        assert (res.status, res.lines) == (200, ["badauth"]), (bad, res)
    for i, user in enumerate(["tk-wrong.alice", "tk-wrong..uw", ".alice.uw", "a.b.c.d"]):
        res = r.nic(user, {"hostname": name, "myip": "198.51.100.61"}, password=good,
                    source=f"127.0.11.{i + 1}")
        assert res.lines == ["badauth"], (user, res)
    r.assert_dns(name, v4="192.0.2.60")


def test_dyndns_token_failures_throttled(registrar_factory):  # noqa: F811
    r = registrar_factory.start("tokens-throttle")
    try:
        name = "tk-thr.alice.uw"
        device(r, name, "192.0.2.70")
        good = made(r, name)["token"]
        seen = []
        for i in range(15):  # the server blocks a (source, user) after 10 failures
            res = nic_token(r, name, f"wrong-{i}", source="127.0.12.1")
            seen.append(res.status)
            if res.status == 429:
                break
        assert seen[-1] == 429, seen
        # blocked there, even with the right token now; another network is not
        res = nic_token(r, name, good, source="127.0.12.1")
        assert (res.status, res.lines) == (429, ["abuse"]), res
        assert nic_token(r, name, good, myip="198.51.100.70",
                         source="127.0.13.1").lines == ["good 198.51.100.70"]
        metrics = r.get("/metrics").text
        assert re.search(r'^pweb_registrar_token_auth_total\{result="bad"\} 1[0-9]$', metrics,
                         re.M), metrics
        assert re.search(r'^pweb_registrar_token_auth_total\{result="throttled"\} [1-9]', metrics,
                         re.M), metrics
    finally:
        r.stop()


def test_tokens_survive_restart_and_stay_out_of_the_store(reg):
    r = reg
    name = "tk-restart.alice.uw"
    device(r, name, "192.0.2.80")
    t = made(r, name, {"scope": "records"})
    r.restart()
    assert [x["id"] for x in listed(r, name)] == [t["id"]]
    assert nic_token(r, name, t["token"], myip="198.51.100.80").lines == ["good 198.51.100.80"]
    key = r.data_dir / "token.key"
    assert key.stat().st_size == 32 and (key.stat().st_mode & 0o777) == 0o600
    raw = b"".join(p.read_bytes() for p in r.data_dir.glob("pweb.db*"))
    secret = base64.b64decode(t["token"])
    assert t["token"].encode() not in raw and secret not in raw and secret[:16] not in raw


# ---------------------------------------------------------------------------
# ddclient with a device token
# ---------------------------------------------------------------------------

def test_ddclient_with_device_token(reg, tmp_path):
    r = reg
    name = "tk-ddc.alice.uw"
    device(r, name, "192.0.2.90")
    t = made(r, name)["token"]
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = "\n".join([
        "daemon=0", "syslog=no", "ssl=no", "timeout=10", "protocol=dyndns2",
        f"server=127.0.0.1:{r.http_port}", f"login={name}", f"password={t}",
        "use=ip, ip=192.0.2.91", name]) + "\n"
    conf.write_text(text)
    os.chmod(conf, 0o600)
    exe = require_tool("ddclient", "ddclient")
    cmd = [exe, "-daemon=0", "-foreground", "-file", str(conf), "-cache", str(cache),
           "-verbose", "-noquiet", "-debug"]
    rc, out = run_client(cmd, 60.0, cwd=tmp_path)
    info = f"\n--- config ---\n{text}--- ddclient (exit {rc}) ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "FAILED" not in out and "SUCCESS" in out, info
    r.assert_dns(name, v4="192.0.2.91")
