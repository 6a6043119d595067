"""Agents believe only the key that signed an agent's DHT record: a stranger
that takes a dead agent's gateway port (plain, or TLS with its own key) is
never asked or never believed, for registered names and made-up ones alike;
a standalone gateway told its agents' keys holds them to those keys; and one
client address flooding an agent's gateway port does not keep other agents
(or DNS clients) from being served."""
import re
import socket
import time

from cluster import poll
from impostor import Impostor, key_id, self_signed

DEVICES = {
    "uw": {"laptop.alice.uw": "192.0.2.10"},
    "mit": {"desk.bob.mit": "198.51.100.7", "pi.carol.mit": "198.51.100.8",
            "printer.bob.mit": "198.51.100.9"},
    "eth": {"tv.dave.eth": "203.0.113.5"},
}


def three(make_cluster, **kw):
    c = make_cluster(**kw)
    nodes = {label: c.add(label, devs) for label, devs in DEVICES.items()}
    c.wait_converged()
    return c, nodes


def metric(node, name: str, labels: str) -> float:
    status, text = node.get("/metrics", json_body=False)
    assert status == 200
    m = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def test_agent_links_are_tls(make_cluster):
    c, nodes = three(make_cluster)
    assert nodes["uw"].address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])
    status, text = nodes["mit"].get("/metrics", json_body=False)
    tls = re.search(r"^pweb_gateway_server_tls_connections_total (\S+)$", text, re.M)
    assert tls and float(tls.group(1)) >= 1, "uw asked mit without TLS"


def test_a_stranger_on_a_dead_agents_port_is_never_believed(make_cluster, tmp_path):
    c, nodes = three(make_cluster, timeout=1.0)
    mit, uw, eth = nodes["mit"], nodes["uw"], nodes["eth"]
    assert uw.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])  # uw knows mit's link
    mit.kill()
    cert, key = self_signed(tmp_path, "impostor")
    stranger_key = key_id(cert)
    # Plain first (what the 2013 protocol would believe), then TLS with its own key.
    for kind, impostor in (("plain", lambda: Impostor(mit.gateway)),
                           ("tls", lambda: Impostor(mit.gateway, cert, key))):
        imp = impostor()
        try:
            for n, asker in enumerate((uw, eth)):  # eth has no link to mit yet
                for name in (f"pi.carol.mit.dht", f"never{n}{kind}.carol.mit.dht"):
                    got = asker.address(name)
                    assert got[1] != ["6.6.6.6"], f"{asker.name} believed the {kind} stranger: {name}"
                    assert got == ("SERVFAIL", []), (kind, asker.name, name, got)
                status, doc = asker.get(f"/api/v1/resolve/x{n}{kind}.bob.mit")
                # A plain stranger stalls the TLS handshake (504) or fails it (502).
                assert status in (502, 504) and doc.get("status") == "servfail", (kind, status, doc)
                if kind == "tls":
                    assert doc.get("failure") == "untrusted", doc
            if kind == "tls":
                assert imp.connections >= 1, "nobody even tried the stranger's port"
        finally:
            imp.close()
        assert imp.queries == 0, f"the {kind} stranger was asked {imp.queries} names"
    for asker in (uw, eth):
        assert metric(asker, "pweb_gateway_client_queries_total", 'result="untrusted"') >= 1
        log = asker.log_text()
        assert f"event=agent_untrusted" in log and f"key_seen={stranger_key}" in log, asker.name
        # Logged once per peer and key, not per query.
        assert log.count(f"key_seen={stranger_key}") == 1, asker.name
    # The real agent comes back with its key: believed again.
    mit.start()
    for asker in (uw, eth):
        assert poll(lambda: asker.address("printer.bob.mit.dht") == ("NOERROR", ["198.51.100.9"]),
                    20, 0.3), asker.name


def test_a_gateway_told_the_keys_holds_its_agents_to_them(make_cluster, tmp_path):
    c, nodes = three(make_cluster, timeout=1.0)
    uw, mit = nodes["uw"], nodes["mit"]
    keys = {n.label: re.search(r"event=dht_started .*key_id=([0-9a-f]+)", n.log_text()).group(1)
            for n in (uw, mit)}
    assert all(re.fullmatch(r"[0-9a-f]{40}", k) for k in keys.values()), keys
    gw = c.add(None, {}, extra=["--home-agent",
                                f"{uw.gateway_addr}@{keys['uw']},{mit.gateway_addr}@{keys['mit']}"])
    # Round-robin over both agents, each over TLS with its key checked.
    for name in ["laptop.alice.uw", "desk.bob.mit", "pi.carol.mit", "tv.dave.eth"]:
        assert gw.address(f"{name}.dht")[0] == "NOERROR", name
    assert metric(gw, "pweb_gateway_client_queries_total", 'result="untrusted"') == 0
    # A gateway told a key that is not the agent's believes nothing from it.
    wrong = "0" * 40
    bad = c.add(None, {}, extra=["--home-agent", f"{uw.gateway_addr}@{wrong}"])
    assert bad.address("laptop.alice.uw.dht") == ("SERVFAIL", [])
    assert metric(bad, "pweb_gateway_client_queries_total", 'result="untrusted"') >= 1
    assert "event=agent_untrusted" in bad.log_text()
    # Without a key (the 2013 gateway's way): plain v2, as before.
    plain = c.add(None, {}, extra=["--home-agent", uw.gateway_addr])
    assert plain.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"])


def test_one_address_flooding_the_gateway_port_leaves_others_served(make_cluster):
    c, nodes = three(make_cluster, timeout=2.0)
    uw, mit = nodes["uw"], nodes["mit"]
    held, closed = [], 0
    flood = 1100  # more than the whole connection table (1,024)
    t0 = time.monotonic()
    try:
        for _ in range(flood):
            s = socket.socket()
            s.bind(("127.0.0.2", 0))
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", uw.gateway))
                s.sendall(b"\x00\x02")  # handshaken, then silent
            except OSError:
                closed += 1
                s.close()
                continue
            held.append(s)
            if time.monotonic() - t0 > 30:
                break
        time.sleep(0.5)
        open_ = 0
        for s in held:
            s.settimeout(0.01)
            try:
                echo = s.recv(2)
                if echo == b"\x00\x02":
                    open_ += 1
            except OSError:
                pass
        print(f"flood: {len(held)} connected, {open_} handshaken and held")
        assert open_ <= 32, f"one address holds {open_} gateway connections"
        # Another agent, asking for the first time (a new connection), is served.
        for name, want in (("laptop.alice.uw.dht", "192.0.2.10"),):
            got = mit.address(name)
            assert got == ("NOERROR", [want]), got
        assert nodes["eth"].address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"])
        # DNS at the flooded agent keeps answering.
        assert uw.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"])
        refused = metric(uw, "pweb_gateway_server_refused_total", 'reason="client_connections"')
        assert refused >= len(held) - 32, refused
    finally:
        for s in held:
            s.close()


def test_a_silent_gateway_connection_is_closed(make_cluster):
    c = make_cluster()
    uw = c.add("uw", DEVICES["uw"], extra=["--gateway-idle-timeout", "1"])
    s = socket.create_connection(("127.0.0.1", uw.gateway), timeout=5)
    s.sendall(b"\x00\x02")
    assert s.recv(2) == b"\x00\x02"
    t0 = time.monotonic()
    assert s.recv(1) == b"", "the connection was not closed"
    took = time.monotonic() - t0
    assert 0.5 < took < 4, took
    assert metric(uw, "pweb_gateway_server_refused_total", 'reason="idle"') == 1
