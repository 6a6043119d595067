"""Serve-stale (RFC 8767) with real processes: mit has resolved uw's device;
uw dies (all of its nodes: here its one node); once the answer has expired,
mit still answers with it, TTL 30 and Extended DNS Error 3 "Stale Answer"
(RFC 8914) for EDNS clients, `"stale": true` in the resolve API, counted in
/metrics. eth, started with --stale-max 0, says SERVFAIL instead. A stranger
with its own TLS key on the dead agent's port is never hidden by a stale
answer."""
import time

import dns.edns
import dns.message
import dns.query
import dns.rcode

from cluster import poll
from impostor import Impostor, self_signed

TTL = 2  # answers of other agents expire quickly
NAME = "laptop.alice.uw.dht"
ADDR = "192.0.2.10"


def ask_edns(node, name: str) -> dns.message.Message:
    q = dns.message.make_query(name, "A", use_edns=0)
    return dns.query.udp(q, "127.0.0.1", port=node.dns, timeout=5)


def ede_of(r: dns.message.Message):
    return [(o.code, o.text) for o in r.options if isinstance(o, dns.edns.EDEOption)]


def test_a_dead_agents_expired_answer_is_served_stale(make_cluster):
    c = make_cluster(ttl=TTL, timeout=1.0)
    uw = c.add("uw", {"laptop.alice.uw": ADDR})
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"})
    eth = c.add("eth", {"tv.dave.eth": "203.0.113.5"}, extra=["--stale-max", "0"])
    c.wait_converged()
    for asker in (mit, eth):
        r = ask_edns(asker, NAME)
        assert dns.rcode.to_text(r.rcode()) == "NOERROR", r
        assert [rd.address for rs in r.answer for rd in rs] == [ADDR]
        assert r.answer[0].ttl <= TTL and not ede_of(r), r
        # The resolve API asks for both addresses: a question of its own.
        status, body = asker.get(f"/api/v1/resolve/{NAME}")
        assert (status, body["source"], "stale" in body) == (200, "remote", False), body
    assert mit.metric("pweb_resolver_stale_answers_total") == 0

    uw.kill()
    time.sleep(TTL + 0.5)  # every cache's copy has expired

    r = ask_edns(mit, NAME)
    assert dns.rcode.to_text(r.rcode()) == "NOERROR", r
    assert [rd.address for rs in r.answer for rd in rs] == [ADDR], r
    assert r.answer[0].ttl == 30, r
    ede = ede_of(r)
    assert len(ede) == 1 and ede[0][0] == 3, r  # RFC 8914 INFO-CODE 3, Stale Answer
    assert "stale answer" in (ede[0][1] or ""), ede
    # The real dig shows it too; a client without EDNS gets the answer, no OPT.
    d = mit.dig(NAME)
    assert d.result == ("NOERROR", [ADDR]) and d.answers[0][0] <= 30, d
    assert "EDE: 3 (Stale Answer)" in d.text, d
    plain = mit.ask(NAME)
    assert [rd.address for rs in plain.answer for rd in rs] == [ADDR] and not plain.options

    # The resolve API goes to the resolver, which asks uw again (not cached as
    # live) and again serves the old answer.
    status, body = mit.get(f"/api/v1/resolve/{NAME}")
    assert (status, body["status"], body["ipv4"], body["ttl"], body.get("stale")) == \
        (200, "found", ADDR, 30, True), body
    assert body["source"] == "cache" and "uw" in body["detail"], body
    assert mit.metric("pweb_resolver_stale_answers_total") >= 2

    # --stale-max 0: no stale answers, SERVFAIL as before.
    r = ask_edns(eth, NAME)
    assert dns.rcode.to_text(r.rcode()) == "SERVFAIL", r
    # Why, for EDNS clients: RFC 8914 INFO-CODE 22, No Reachable Authority.
    assert [code for code, _ in ede_of(r)] == [22], r
    d = eth.dig(NAME)
    assert "EDE: 22 (No Reachable Authority): (agent unreachable)" in d.text or \
        "EDE: 22 (No Reachable Authority): (agent did not answer in time)" in d.text, d
    status, body = eth.get(f"/api/v1/resolve/{NAME}")
    assert status in (502, 503, 504) and "stale" not in body, body
    assert eth.metric("pweb_resolver_stale_answers_total") == 0

    # uw back: fresh answers again, no EDE (the workers' stale copy lasts 30 s,
    # so ask through the API, which goes to the resolver).
    uw.start()
    fresh = poll(lambda: mit.get(f"/api/v1/resolve/{NAME}")[1].get("stale") is None, 20, 0.5)
    assert fresh, mit.get(f"/api/v1/resolve/{NAME}")


def test_a_stranger_on_a_dead_agents_port_is_never_hidden_by_a_stale_answer(make_cluster,
                                                                            tmp_path):
    """An agent with the wrong TLS key is a trust decision: SERVFAIL (untrusted),
    never the old answer, though one is there to serve."""
    c = make_cluster(ttl=TTL, timeout=1.0)
    uw = c.add("uw", {"laptop.alice.uw": ADDR})
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"})
    c.wait_converged()
    assert dns.rcode.to_text(ask_edns(mit, NAME).rcode()) == "NOERROR"
    status, body = mit.get(f"/api/v1/resolve/{NAME}")
    assert status == 200, body
    uw.kill()
    cert, key = self_signed(tmp_path, "impostor")
    imp = Impostor(uw.gateway, cert, key)
    try:
        time.sleep(TTL + 0.5)
        r = ask_edns(mit, NAME)
        assert dns.rcode.to_text(r.rcode()) == "SERVFAIL" and not r.answer, r
        assert ede_of(r) == [(22, "agent's TLS key is not the key of its DHT record")], r
        status, body = mit.get(f"/api/v1/resolve/{NAME}")
        assert (status, body.get("failure"), "stale" in body) == (502, "untrusted", False), body
        assert imp.connections >= 1 and imp.queries == 0
    finally:
        imp.close()
    assert mit.metric("pweb_resolver_stale_answers_total") == 0
