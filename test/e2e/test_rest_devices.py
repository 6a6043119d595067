"""JSON device API (`/api/v1/devices...`), black-box. Contract:
/tmp/contract3.md ("JSON API").

CRUD and error tests share the `registrar` node (own device names); the
crawler-listing tests get fresh nodes so that the set of devices is known.
"""
import base64
import time

import pytest

from registrar_fixtures import (HTTP_TIMEOUT, parse_raw_status, raw_http_exchange,  # noqa: F401
                                registrar, registrar_factory)

BODY_LIMIT = 64 * 1024
N_LISTED = 25
DEVICE_KEYS = {"name", "ipv4", "ipv6", "updated", "services"}


def assert_json_error(res, status):
    assert res.status == status, f"expected {status}: {res!r}"
    assert res.content_type.startswith("application/json"), f"error is not JSON: {res!r}"
    doc = res.json()
    assert isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"].strip(), (
        f'expected {{"error": "..."}}: {res!r}')
    return doc["error"]


def assert_device(doc, name, ipv4, ipv6, services=None):
    assert isinstance(doc, dict), doc
    missing = DEVICE_KEYS - set(doc)
    assert not missing, f"device JSON lacks {missing}: {doc}"
    assert doc["name"] == name, doc
    assert doc["ipv4"] == ipv4, doc
    assert doc["ipv6"] == ipv6, doc
    assert isinstance(doc["updated"], int) and doc["updated"] > 1_000_000_000, doc
    assert isinstance(doc["services"], list), doc
    if services is not None:
        assert doc["services"] == services, doc


# ---------------------------------------------------------------------------
# CRUD
# ---------------------------------------------------------------------------

def test_put_creates_then_updates(registrar):
    r = registrar
    name = "rest1.alice.uw"
    res = r.put_device("alice", name, {"ipv4": "192.0.2.30", "ipv6": None, "services": ["http:8080"]})
    assert res.status == 201, res
    assert res.content_type.startswith("application/json"), res
    assert_device(res.json(), name, "192.0.2.30", None, ["http:8080"])
    r.assert_dns(name, v4="192.0.2.30", v6=None)

    # missing fields keep their value
    res = r.put_device("alice", name, {"ipv4": "192.0.2.31"})
    assert res.status == 200, res
    assert_device(res.json(), name, "192.0.2.31", None, ["http:8080"])
    r.assert_dns(name, v4="192.0.2.31", v6=None)

    res = r.put_device("alice", name, {"ipv6": "2001:db8::31"})
    assert res.status == 200, res
    assert_device(res.json(), name, "192.0.2.31", "2001:db8::31", ["http:8080"])
    r.assert_dns(name, v4="192.0.2.31", v6="2001:db8::31")

    g = r.get_device("alice", name)
    assert g.status == 200 and g.content_type.startswith("application/json"), g
    assert_device(g.json(), name, "192.0.2.31", "2001:db8::31", ["http:8080"])

    # null clears
    res = r.put_device("alice", name, {"ipv6": None, "services": ["http:80", "ssh:22"]})
    assert res.status == 200, res
    assert_device(res.json(), name, "192.0.2.31", None, None)
    assert sorted(res.json()["services"]) == ["http:80", "ssh:22"], res
    r.assert_dns(name, v4="192.0.2.31", v6=None)

    res = r.put_device("alice", name, {"ipv4": None})
    assert res.status == 200, res
    assert_device(res.json(), name, None, None, None)
    r.assert_dns(name, v4=None, v6=None)  # NODATA: the device still exists


def test_put_empty_object_creates(registrar):
    r = registrar
    name = "empty.alice.uw"
    res = r.put_device("alice", name, {})
    assert res.status == 201, res
    assert_device(res.json(), name, None, None, [])
    r.assert_dns(name, v4=None, v6=None)


def test_rest_and_dyndns_see_the_same_device(registrar):
    r = registrar
    name = "both.alice.uw"
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.32,2001:db8::32"})[0].startswith("good")
    g = r.get_device("alice", name)
    assert g.status == 200, g
    assert_device(g.json(), name, "192.0.2.32", "2001:db8::32")
    res = r.put_device("alice", name, {"ipv4": "192.0.2.33"})
    assert res.status == 200, res
    assert r.nic_ok("alice", {"hostname": name, "myip": "192.0.2.33"}) == ["nochg 192.0.2.33"]


def test_name_case_insensitive(registrar):
    r = registrar
    res = r.put_device("alice", "MixedCase.Alice.UW", {"ipv4": "192.0.2.34"})
    assert res.status == 201, res
    assert_device(res.json(), "mixedcase.alice.uw", "192.0.2.34", None)
    g = r.get_device("alice", "mixedcase.alice.uw")
    assert g.status == 200, g
    r.assert_dns("mixedcase.alice.uw", v4="192.0.2.34")


def test_delete(registrar):
    r = registrar
    name = "del.alice.uw"
    assert r.put_device("alice", name, {"ipv4": "192.0.2.35"}).status == 201
    r.assert_dns(name, v4="192.0.2.35")
    res = r.delete_device("alice", name)
    assert res.status == 204, res
    assert res.body == b"", f"204 with a body: {res!r}"
    assert_json_error(r.get_device("alice", name), 404)
    r.assert_nxdomain(name)
    assert_json_error(r.delete_device("alice", name), 404)
    # a new PUT creates it again
    assert r.put_device("alice", name, {"ipv4": "192.0.2.36"}).status == 201
    r.assert_dns(name, v4="192.0.2.36")


def test_unknown_device_404(registrar):
    assert_json_error(registrar.get_device("alice", "nosuch.alice.uw"), 404)
    assert_json_error(registrar.delete_device("alice", "nosuch.alice.uw"), 404)


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/api/v1/devices/laptop.alice.uw", "GET, HEAD, PUT, DELETE"),
    ("PATCH", "/api/v1/devices/laptop.alice.uw", "GET, HEAD, PUT, DELETE"),
    ("DELETE", "/api/v1/devices", "GET, HEAD"),
    ("PUT", "/api/v1/status", "GET, HEAD"),
    ("POST", "/nic/update", "GET, HEAD"),
    ("DELETE", "/checkip", "GET, HEAD"),
    ("POST", "/metrics", "GET, HEAD"),
])
def test_known_path_with_another_method_405(registrar, method, path, allow):
    """A path that exists answers another method 405 with Allow (RFC 9110),
    not 404: the client's method is wrong, not its URL. Nothing is changed."""
    res = registrar.request(method, path, auth=registrar.creds("alice"), body="{}")
    assert_json_error(res, 405)
    assert res.headers.get("allow") == allow, res.headers
    assert method in res.json()["error"]


def test_unknown_path_is_still_404(registrar):
    assert_json_error(registrar.request("POST", "/api/v1/nothing-here"), 404)
    assert_json_error(registrar.get("/api/v1/devices/a/b"), 404)


# ---------------------------------------------------------------------------
# authorization
# ---------------------------------------------------------------------------

def test_other_user_403(registrar):
    r = registrar
    name = "mine.alice.uw"
    assert r.put_device("alice", name, {"ipv4": "192.0.2.37", "services": ["http:8080"]}).status == 201
    assert_json_error(r.get_device("bob", name), 403)
    assert_json_error(r.put_device("bob", name, {"ipv4": "192.0.2.38"}), 403)
    assert_json_error(r.delete_device("bob", name), 403)
    g = r.get_device("alice", name)
    assert g.status == 200, g
    assert_device(g.json(), name, "192.0.2.37", None, ["http:8080"])
    r.assert_dns(name, v4="192.0.2.37")
    # bob cannot create a name in alice's space either
    assert_json_error(r.put_device("bob", "notyet.alice.uw", {"ipv4": "192.0.2.38"}), 403)
    assert_json_error(r.get_device("alice", "notyet.alice.uw"), 404)
    r.assert_nxdomain("notyet.alice.uw")


def test_no_auth_401(registrar):
    r = registrar
    name = "auth401.alice.uw"
    assert r.put_device("alice", name, {"ipv4": "192.0.2.39"}).status == 201
    assert_json_error(r.get_device(None, name), 401)
    assert_json_error(r.put_device(None, name, {"ipv4": "192.0.2.40"}), 401)
    assert_json_error(r.delete_device(None, name), 401)
    assert_json_error(r.put_device(None, "new401.alice.uw", {"ipv4": "192.0.2.40"}), 401)
    # a wrong password (from 127.0.0.3: failed logins are throttled per address)
    assert_json_error(r.put_device("alice", name, {"ipv4": "192.0.2.40"}, password="wrong",
                                   source="127.0.0.3"), 401)
    r.assert_dns(name, v4="192.0.2.39")
    r.assert_nxdomain("new401.alice.uw")


# ---------------------------------------------------------------------------
# bad bodies
# ---------------------------------------------------------------------------

BAD_BODIES = [
    ("truncated", '{"ipv4": "192.0.2.41"'),
    ("not-json", "ipv4=192.0.2.41"),
    ("empty-body", ""),
    ("array", '["192.0.2.41"]'),
    ("trailing-garbage", '{"ipv4": "192.0.2.41"} x'),
    ("ipv4-number", '{"ipv4": 3221225985}'),
    ("ipv4-invalid", '{"ipv4": "192.0.2.300"}'),
    ("ipv4-is-v6", '{"ipv4": "2001:db8::41"}'),
    ("ipv6-is-v4", '{"ipv6": "192.0.2.41"}'),
    ("services-not-list", '{"services": "http:8080"}'),
]


@pytest.mark.parametrize("body", [c[1] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
def test_bad_body_400(registrar, body):
    r = registrar
    name = "badbody.alice.uw"
    r.put_device("alice", name, {"ipv4": "192.0.2.42", "ipv6": None})
    res = r.put_device("alice", name, body)
    assert_json_error(res, 400)
    r.assert_dns(name, v4="192.0.2.42", v6=None)
    # and a bad body never creates a device
    res = r.put_device("alice", "neverbad.alice.uw", body)
    assert_json_error(res, 400)
    assert_json_error(r.get_device("alice", "neverbad.alice.uw"), 404)


@pytest.mark.parametrize("name", ["bad_label.alice.uw", "alice.uw", "a.b.alice.uw"])
def test_bad_device_name_rejected(registrar, name):
    res = registrar.put_device("alice", name, {"ipv4": "192.0.2.43"})
    assert res.status in (400, 404), f"PUT {name!r}: {res!r}"
    assert_json_error(res, res.status)


def test_body_over_64k_413(registrar):
    r = registrar
    name = "big.alice.uw"
    assert r.put_device("alice", name, {"ipv4": "192.0.2.44"}).status == 201
    # valid JSON, just too long: padded with whitespace
    prefix = b'{"ipv4": "192.0.2.45"'
    body = prefix + b" " * (BODY_LIMIT + 1 - len(prefix) - 1) + b"}"
    assert len(body) == BODY_LIMIT + 1
    auth = base64.b64encode(f"alice:{r.users['alice']}".encode()).decode()
    req = (f"PUT /api/v1/devices/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Authorization: Basic {auth}\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body
    data, _ = raw_http_exchange(r.http_port, req, timeout=HTTP_TIMEOUT)
    assert parse_raw_status(data) == 413, f"expected 413 for a {len(body)}-byte body: {data[:500]!r}"
    r.assert_dns(name, v4="192.0.2.44")
    # exactly 64 KiB is accepted
    body = prefix + b" " * (BODY_LIMIT - len(prefix) - 1) + b"}"
    res = r.put_device("alice", name, body)
    assert res.status == 200, res
    r.assert_dns(name, v4="192.0.2.45")


def test_chunked_body_over_64k_413(registrar):
    """The 64 KiB limit holds without a Content-Length too."""
    r = registrar
    name = "bigchunk.alice.uw"
    assert r.put_device("alice", name, {"ipv4": "192.0.2.46"}).status == 201
    prefix = b'{"ipv4": "192.0.2.47"'
    body = prefix + b" " * (BODY_LIMIT + 4096 - len(prefix) - 1) + b"}"
    chunks = b"".join(b"%x\r\n" % len(body[i:i + 8192]) + body[i:i + 8192] + b"\r\n"
                      for i in range(0, len(body), 8192)) + b"0\r\n\r\n"
    auth = base64.b64encode(f"alice:{r.users['alice']}".encode()).decode()
    req = (f"PUT /api/v1/devices/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           f"Authorization: Basic {auth}\r\nContent-Type: application/json\r\n"
           f"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode() + chunks
    data, _ = raw_http_exchange(r.http_port, req, timeout=HTTP_TIMEOUT)
    assert parse_raw_status(data) == 413, (f"expected 413 for a chunked {len(body)}-byte body: "
                                           f"{data[:500]!r}")
    r.assert_dns(name, v4="192.0.2.46")


# ---------------------------------------------------------------------------
# crawler listing (fresh nodes)
# ---------------------------------------------------------------------------

def listed_names(devices):
    return [d["name"] for d in devices]


def assert_page_count(pages, n_items, limit):
    """ceil(n/limit) pages; one extra, empty, last page is tolerated when the
    last full page still carried a cursor."""
    sizes = [len(p.json()["devices"]) for p in pages]
    want = max(1, -(-n_items // limit))
    assert len(pages) == want or (len(pages) == want + 1 and sizes[-1] == 0), (
        f"{n_items} items, limit={limit}: page sizes {sizes}")
    assert all(s <= limit for s in sizes), f"a page exceeds limit={limit}: {sizes}"


@pytest.fixture(scope="module")
def listing(registrar_factory):
    r = registrar_factory.start("listing")
    names = []
    for i in range(N_LISTED):
        user = "alice" if i % 3 else "bob"
        name = f"dev{i:02d}.{user}.uw"
        body = {"ipv4": f"198.51.100.{i + 1}", "ipv6": f"2001:db8::1:{i + 1:x}" if i % 2 else None,
                "services": [f"http:{8000 + i}"] if i % 4 == 0 else []}
        res = r.put_device(user, name, body)
        assert res.status == 201, res
        names.append(name)
    yield r, sorted(names)
    r.stop()


def test_listing_paginates(listing):
    r, names = listing
    devices, pages = r.list_all(limit=10)
    got = listed_names(devices)
    assert [len(p.json()["devices"]) for p in pages] == [10, 10, 5], (
        f"expected pages of 10,10,5: {[len(p.json()['devices']) for p in pages]}")
    assert len(got) == len(set(got)), f"a device was listed twice: {got}"
    assert got == names, f"listing is not every device exactly once in name order:\n{got}\n{names}"
    for d in devices:
        i = int(d["name"][3:5])
        assert d["ipv4"] == f"198.51.100.{i + 1}", d
        assert d["ipv6"] == (f"2001:db8::1:{i + 1:x}" if i % 2 else None), d
        assert d["services"] == ([f"http:{8000 + i}"] if i % 4 == 0 else []), d
        assert isinstance(d["updated"], int), d


def test_listing_is_public_and_default_limit(listing):
    r, names = listing
    res = r.get("/api/v1/devices")
    assert res.status == 200, res
    doc = res.json()
    assert listed_names(doc["devices"]) == names, doc
    assert doc["next_cursor"] is None, doc
    assert r.status().get("devices") == len(names), r.status()


@pytest.mark.parametrize("limit", [1, 7, 25, 1000])
def test_listing_other_limits(listing, limit):
    r, names = listing
    devices, pages = r.list_all(limit=limit)
    assert listed_names(devices) == names
    assert_page_count(pages, len(names), limit)


def wait_next_second(after: int, bound: float = 2.5) -> None:
    deadline = time.monotonic() + bound
    for _ in range(100):
        if int(time.time()) > after or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def test_listing_since(registrar_factory):
    r = registrar_factory.start("since")
    try:
        old = [f"old{i}.alice.uw" for i in range(5)]
        for i, n in enumerate(old):
            assert r.put_device("alice", n, {"ipv4": f"198.51.100.{100 + i}"}).status == 201
        first, _ = r.list_all()
        t_old = max(d["updated"] for d in first)
        wait_next_second(t_old)
        new = [f"new{i}.alice.uw" for i in range(3)]
        for i, n in enumerate(new):
            assert r.put_device("alice", n, {"ipv4": f"198.51.100.{110 + i}"}).status == 201
        # an update of an old device counts as new
        assert r.nic_ok("alice", {"hostname": old[2], "myip": "198.51.100.120"})[0].startswith("good")
        everything, _ = r.list_all()
        by_name = {d["name"]: d for d in everything}
        since = min(by_name[n]["updated"] for n in new + [old[2]])
        assert since > t_old, (f"devices written after a second boundary have `updated` "
                               f"{since} <= {t_old}: {everything}")
        want = sorted(new + [old[2]])
        got, _ = r.list_all(since=since)
        assert listed_names(got) == want, f"since={since}: {listed_names(got)} != {want}"
        got, pages = r.list_all(since=since, limit=2)
        assert listed_names(got) == want, f"since={since}&limit=2: {listed_names(got)}"
        assert_page_count(pages, len(want), 2)
        got, _ = r.list_all(since=since + 3600)
        assert got == [], got
        got, _ = r.list_all(since=0)
        assert listed_names(got) == sorted(old + new), got
    finally:
        r.stop()


def test_listing_omits_deleted(registrar_factory):
    r = registrar_factory.start("listdel")
    try:
        for n in ("a1.alice.uw", "a2.alice.uw", "a3.alice.uw"):
            assert r.put_device("alice", n, {"ipv4": "198.51.100.200"}).status == 201
        assert r.delete_device("alice", "a2.alice.uw").status == 204
        got, _ = r.list_all(limit=1)
        assert listed_names(got) == ["a1.alice.uw", "a3.alice.uw"], got
        assert r.status().get("devices") == 2, r.status()
    finally:
        r.stop()


def removed_of(pages):
    return [x for p in pages for x in p.json().get("removed", [])]


def test_listing_since_reports_removals(registrar_factory):
    """A crawler keeping a mirror with `since=` learns of removed devices too
    (`removed`, in the same name-ordered pages), so its mirror matches the
    agent's listing afterwards. Without `since` there is no `removed`."""
    r = registrar_factory.start("since-removed")
    try:
        for n in ("a1.alice.uw", "a2.alice.uw", "a3.alice.uw", "a4.alice.uw"):
            assert r.put_device("alice", n, {"ipv4": "198.51.100.30"}).status == 201
        full, pages = r.list_all()
        assert all("removed" not in p.json() for p in pages), pages[0].json()
        mirror = {d["name"]: d for d in full}
        t1 = max(d["updated"] for d in full)
        wait_next_second(t1)
        assert r.delete_device("alice", "a2.alice.uw").status == 204
        assert r.delete_device("alice", "a4.alice.uw").status == 204
        assert r.put_device("alice", "b1.alice.uw", {"ipv4": "198.51.100.31"}).status == 201
        since = t1 + 1
        changed, pages = r.list_all(since=since, limit=1)
        removed = removed_of(pages)
        assert listed_names(changed) == ["b1.alice.uw"], changed
        assert [x["name"] for x in removed] == ["a2.alice.uw", "a4.alice.uw"], removed
        assert all(x["removed"] >= since for x in removed), removed
        assert all(len(p.json()["devices"]) + len(p.json()["removed"]) <= 1 for p in pages)
        for d in changed:
            mirror[d["name"]] = d
        for x in removed:
            mirror.pop(x["name"], None)
        now, _ = r.list_all()
        assert mirror == {d["name"]: d for d in now}, (mirror, now)
        # Registered again: a device again, no longer a removal.
        assert r.put_device("alice", "a2.alice.uw", {"ipv4": "198.51.100.32"}).status == 201
        changed, pages = r.list_all(since=since)
        assert listed_names(changed) == ["a2.alice.uw", "b1.alice.uw"], changed
        assert [x["name"] for x in removed_of(pages)] == ["a4.alice.uw"]
    finally:
        r.stop()


def test_listing_etag_revalidates(registrar_factory):
    """Crawlers revalidate with If-None-Match: 304 and no body while nothing
    changed; any change (here one address) gives a new tag and the new page."""
    r = registrar_factory.start("etag")
    try:
        assert r.put_device("alice", "tv.alice.uw", {"ipv4": "198.51.100.7"}).status == 201
        first = r.get("/api/v1/devices")
        assert first.status == 200, first
        tag = first.headers.get("etag")
        assert tag and tag.startswith('"') and tag.endswith('"') and len(tag) > 10, first.headers
        same = r.get("/api/v1/devices", headers={"If-None-Match": tag})
        assert same.status == 304, same
        assert same.body == b"", f"a 304 carries no body: {same.body!r}"
        assert same.headers.get("etag") == tag
        # Lists and weak tags match too (RFC 9110 weak comparison); other tags do not.
        assert r.get("/api/v1/devices",
                     headers={"If-None-Match": f'"x", W/{tag}'}).status == 304
        assert r.get("/api/v1/devices", headers={"If-None-Match": "*"}).status == 304
        assert r.get("/api/v1/devices", headers={"If-None-Match": '"other"'}).status == 200
        assert r.put_device("alice", "tv.alice.uw", {"ipv4": "198.51.100.8"}).status == 200
        changed = r.get("/api/v1/devices", headers={"If-None-Match": tag})
        assert changed.status == 200, changed
        assert changed.headers.get("etag") not in (None, tag)
        assert changed.json()["devices"][0]["ipv4"] == "198.51.100.8"
    finally:
        r.stop()
