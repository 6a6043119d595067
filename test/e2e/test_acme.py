"""ACME DNS-01 end to end through pweb-node (issue 13): a user gets a
certificate for laptop.alice.uw.dyn.example.org with stock lego and stock
certbot, holding only a device token of scope `acme`, with Pebble (the ACME
test server) as CA validating through the node's DNS listener.

The node runs with `--label uw --suffix dyn.example.org.` (registrar fixtures);
alice creates the device laptop.alice.uw and a token:

    POST /api/v1/devices/laptop.alice.uw/tokens {"scope": "acme"}
      -> {"id": ID, "token": SECRET}

which is an hmac-sha256 TSIG key (name ID, base64 secret SECRET) for RFC 2136
UPDATE on the node's DNS port, allowed only TXT at
_acme-challenge.laptop.alice.uw.dyn.example.org. The harness (acme.py) was
proved against BIND with the same checks (test_acme_bind_probe.py), so a
failure here is the node's. What the clients send, seen in BIND's query log:

  lego 4.9:    SOA queries (UDP, RD, unsigned) walking up from
               _acme-challenge.NAME until one has the SOA in ANSWER; one UPDATE
               over UDP with "delete RRset TXT" + "add TXT" at
               _acme-challenge.NAME; TXT/CNAME queries; later "delete RR".
  certbot 2.1: TSIG-signed SOA queries over TCP walking up (needs NOERROR, the
               SOA in ANSWER and AA); UPDATE "add RR" then "delete RR", TCP.
  Pebble:      TXT queries (UDP, RD) for _acme-challenge.NAME.
"""
from __future__ import annotations

import base64
import binascii

import pytest

import acme
from registrar_fixtures import registrar_factory  # noqa: F401

ZONE = "dyn.example.org."
DEVICE = "laptop.alice.uw"
NAME = f"{DEVICE}.{ZONE}"
CHALLENGE = f"_acme-challenge.{NAME}"
DEVICE_V4 = "192.0.2.10"
OTHER_DEVICES = ["desktop.alice.uw", "phone.bob.uw"]


def create_token(reg, user: str, device: str, scope: str) -> dict:
    r = reg.request("POST", reg.device_path(device) + "/tokens", auth=reg.creds(user),
                    body=f'{{"scope": "{scope}"}}', headers={"Content-Type": "application/json"})
    assert r.status in (200, 201), f"POST {reg.device_path(device)}/tokens {{scope: {scope}}}: {r!r}"
    doc = r.json()
    assert isinstance(doc, dict) and isinstance(doc.get("id"), str) and isinstance(doc.get("token"), str), (
        f'expected {{"id": "...", "token": "..."}}: {r!r}')
    try:
        base64.b64decode(doc["token"], validate=True)
    except (binascii.Error, ValueError):
        pytest.fail(f"token is not base64, so it cannot be a TSIG secret: {r!r}", pytrace=False)
    return doc


@pytest.fixture(scope="module")
def acme_node(registrar_factory):  # noqa: F811
    reg = registrar_factory.start("acme", suffixes=(ZONE,))
    for user, dev, v4 in [("alice", DEVICE, DEVICE_V4), ("alice", OTHER_DEVICES[0], "192.0.2.11"),
                          ("bob", OTHER_DEVICES[1], "192.0.2.12")]:
        r = reg.put_device(user, dev, {"ipv4": v4})
        assert r.status in (200, 201), r
    yield reg
    reg.stop()


@pytest.fixture(scope="module")
def token(acme_node):
    return create_token(acme_node, "alice", DEVICE, "acme")


@pytest.fixture(scope="module")
def target(acme_node, token):
    return acme.DnsTarget(acme_node.node.host, acme_node.node.port, ZONE, token["id"], token["token"])


@pytest.fixture(scope="module")
def pebble(acme_node, tmp_path_factory):
    with acme.Pebble(tmp_path_factory.mktemp("pebble"), acme_node.node.host, acme_node.node.port) as p:
        yield p


def assert_device_address_kept(target):
    status, got = acme.dig(target.host, target.port, NAME, "A")
    assert status == "NOERROR" and got == [DEVICE_V4], f"{NAME} A: {status} {got}, want [{DEVICE_V4}]"


def test_zone_answers_soa_at_apex_only(acme_node):
    """Both clients locate the zone by SOA queries walking up from
    _acme-challenge.NAME: only the apex may have the SOA in its ANSWER (a
    device name answering SOA would become the UPDATE's zone)."""
    n = acme_node.node
    status, soa = acme.dig(n.host, n.port, ZONE, "SOA")
    assert status == "NOERROR" and len(soa) == 1, f"{ZONE} SOA: {status} {soa}"
    for name in (CHALLENGE, NAME, f"alice.uw.{ZONE}", f"uw.{ZONE}"):
        status, soa = acme.dig(n.host, n.port, name, "SOA")
        assert status in ("NOERROR", "NXDOMAIN") and not soa, f"{name} SOA: {status} {soa}"


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_nsupdate_txt_add_delete(target, tcp):
    value = "nsupdate-" + ("tcp" if tcp else "udp")
    p = acme.nsupdate(target, [f"update add {CHALLENGE} 60 TXT {acme.txt_quote(value)}"], tcp=tcp)
    acme.expect_update(p, ["NOERROR"], "nsupdate add TXT")
    status, values = acme.dig_txt(target.host, target.port, CHALLENGE)
    assert status == "NOERROR" and value in values, f"dig {CHALLENGE} TXT: {status} {values}\n{p.describe()}"
    p = acme.nsupdate(target, [f"update delete {CHALLENGE} TXT {acme.txt_quote(value)}"], tcp=tcp)
    acme.expect_update(p, ["NOERROR"], "nsupdate delete TXT")
    status, values = acme.dig_txt(target.host, target.port, CHALLENGE)
    assert value not in values, f"dig {CHALLENGE} TXT after delete: {status} {values}"
    assert_device_address_kept(target)


@pytest.mark.parametrize("client", ["nsupdate", "knsupdate"])
def test_txt_roundtrip(target, client):
    acme.txt_roundtrip(target, CHALLENGE, client)


def test_lego_issues_with_acme_token(acme_node, target, pebble, tmp_path):
    issued = acme.lego_obtain(pebble, target, NAME, tmp_path)
    acme.assert_cert_for(issued, NAME, pebble)
    assert_device_address_kept(target)
    status, values = acme.dig_txt(target.host, target.port, CHALLENGE)
    assert not values, f"lego's challenge TXT not cleaned up: {status} {values}"


def test_certbot_issues_with_acme_token(acme_node, target, pebble, tmp_path):
    issued = acme.certbot_obtain(pebble, target, NAME, tmp_path)
    acme.assert_cert_for(issued, NAME, pebble)
    assert_device_address_kept(target)
    status, values = acme.dig_txt(target.host, target.port, CHALLENGE)
    assert not values, f"certbot's challenge TXT not cleaned up: {status} {values}"


@pytest.mark.parametrize("other", OTHER_DEVICES)
def test_acme_token_scope_negatives(target, other):
    """A, TXT at the device itself, TXT at another device (same user, other
    user), wrong secret, unknown key: REFUSED/NOTAUTH(BADSIG/BADKEY), and
    nothing changed."""
    acme.scope_negatives(target, NAME, f"{other}.{ZONE}")
    assert_device_address_kept(target)


def test_acme_token_of_other_device_cannot_take_challenge(acme_node, target):
    """bob's acme token for his own device cannot answer laptop's challenge."""
    t = create_token(acme_node, "bob", OTHER_DEVICES[1], "acme")
    bob = target.with_key(t["id"], t["token"])
    for send in (acme.nsupdate, acme.knsupdate):
        p = send(bob, [f'update add {CHALLENGE} 60 TXT "bob-was-here"'])
        acme.expect_update(p, ["REFUSED", "NOTAUTH"], f"{send.__name__}: bob's token at {CHALLENGE}")
    acme.assert_unchanged(target, CHALLENGE, "bob-was-here")
    # and it does work for bob's own challenge name
    acme.txt_roundtrip(bob, f"_acme-challenge.{OTHER_DEVICES[1]}.{ZONE}", "nsupdate")
