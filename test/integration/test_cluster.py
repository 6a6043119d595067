"""Several real pweb-node processes on loopback: any node answers for any
device, wherever it is registered; an address change reaches the other nodes
after the TTL; a dead or hung agent is SERVFAIL within --timeout, never a hang,
and is found again once it is back; a label cannot be taken over; the DHT
routes around dead nodes; gateway mode forwards round-robin and skips dead
(killed or hung) agents."""
import time

from cluster import parallel, poll, v4_of, v6_of

DEVICES = {
    "uw": {"laptop.alice.uw": "192.0.2.10 2001:db8::10", "phone.alice.uw": "192.0.2.11",
           "cam.alice.uw": "- 2001:db8::77"},
    "mit": {"desk.bob.mit": "198.51.100.7", "pi.carol.mit": "198.51.100.8 2001:db8::8",
            "printer.bob.mit": "198.51.100.9"},
    "eth": {"tv.dave.eth": "203.0.113.5", "nas.dave.eth": "203.0.113.6",
            "v6.erin.eth": "- 2001:db8:e::6"},
}
BOB = {"bob": "bob-Secret-2"}


def three(make_cluster, devices=DEVICES, users=None, **kw):
    """uw (node 0), mit, eth; converged."""
    c = make_cluster(**kw)
    users = users or {}
    nodes = {label: c.add(label, devs, users=users.get(label)) for label, devs in devices.items()}
    c.wait_converged()
    return c, nodes


def resolves_all(asker, devices) -> bool:
    """Every device's A (or AAAA for IPv6-only ones) right at `asker`."""
    for name, addrs in devices.items():
        v4, v6 = v4_of(addrs), v6_of(addrs)
        want = ("NOERROR", [v4]) if v4 else ("NOERROR", [v6])
        if asker.address(f"{name}.dht", "A" if v4 else "AAAA") != want:
            return False
    return True


def test_every_node_answers_for_every_device_udp_and_tcp(make_cluster):
    c, nodes = three(make_cluster)
    wrong = []
    for asker in nodes.values():
        for owner, devs in DEVICES.items():
            local = asker.label == owner
            for name, addrs in devs.items():
                v4, v6 = v4_of(addrs), v6_of(addrs)
                for tcp in (False, True):
                    d = asker.dig(f"{name}.dht", "A", tcp)
                    if d.result != ("NOERROR", [v4] if v4 else []) or "aa" not in d.flags \
                            or any(ttl > c.ttl for ttl, _ in d.answers):
                        wrong.append(d)
                    d = asker.dig(f"{name}.dht", "AAAA", tcp)
                    # Gateway protocol v2 carries both addresses: a remote dual-stack
                    # device's AAAA is there too (v1 had only its IPv4).
                    if d.result != ("NOERROR", [v6] if v6 else []) or \
                            any(ttl > c.ttl for ttl, _ in d.answers):
                        wrong.append((local, d))
    assert not wrong, "\n".join(map(repr, wrong[:6]))
    # A device that does not exist on a live agent: NXDOMAIN, from the owner and elsewhere.
    for asker in nodes.values():
        for name in ("nosuch.bob.mit.dht", "desk.nosuchuser.mit.dht"):
            for tcp in (False, True):
                d = asker.dig(name, "A", tcp)
                assert d.result == ("NXDOMAIN", []), d


def test_resolve_endpoint_says_where_the_answer_came_from(make_cluster):
    c, nodes = three(make_cluster)
    mit = nodes["mit"]
    for name, addrs in DEVICES["mit"].items():
        status, body = mit.get(f"/api/v1/resolve/{name}")
        assert (status, body["status"], body["source"], body["ipv4"]) == \
            (200, "found", "local", v4_of(addrs)), body
        for asker in (nodes["uw"], nodes["eth"]):
            status, body = asker.get(f"/api/v1/resolve/{name}.dht")
            assert (status, body["status"], body["source"], body["ipv4"]) == \
                (200, "found", "remote", v4_of(addrs)), (asker.name, body)
            assert body["agent"] == f"mit@127.0.0.1:{mit.gateway}", body
            assert 0 < body["ttl"] <= c.ttl, body
            status, body = asker.get(f"/api/v1/resolve/{name}")
            assert (status, body["source"], body["ipv4"]) == (200, "cache", v4_of(addrs)), body
    status, body = nodes["uw"].get("/api/v1/resolve/v6.erin.eth")
    assert (status, body["source"], body["ipv4"], body["ipv6"]) == \
        (200, "remote", None, "2001:db8:e::6"), body
    status, body = nodes["uw"].get("/api/v1/resolve/nosuch.bob.mit")
    assert (status, body["status"]) == (404, "nxdomain"), body
    status, body = nodes["uw"].get("/api/v1/resolve/bad_name.bob.mit")
    assert status == 400 and "bad_name" in body["error"], body
    status, body = nodes["eth"].get("/api/v1/agents/mit")
    assert status == 200 and (body["label"], body["gateway_port"]) == ("mit", mit.gateway), body
    assert "127.0.0.1" in body["ipv4"], body
    assert nodes["eth"].get("/api/v1/agents/nosuchagent")[0] == 404
    status, body = nodes["eth"].get("/api/v1/neighbors")
    assert status == 200 and body["count"] >= 1 and len(body["neighbors"]) == body["count"], body


def test_address_change_is_seen_elsewhere_after_the_ttl(make_cluster):
    c, nodes = three(make_cluster, users={"mit": BOB}, ttl=2)
    a, b, other = nodes["mit"], nodes["uw"], nodes["eth"]
    assert b.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])  # now cached at b
    status, text = a.nic_update("bob", "desk.bob.mit", "198.51.100.99")
    changed = time.monotonic()
    assert (status, text.strip()) == (200, "good 198.51.100.99")
    assert a.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.99"])
    assert other.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.99"])  # never cached there
    got = poll(lambda: b.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.99"]), c.ttl + 8, 0.1)
    took = time.monotonic() - changed
    assert got, f"b still answers {b.address('desk.bob.mit.dht')} {took:.1f} s after the change"
    assert took <= c.ttl + 3, f"the new address reached b only after {took:.1f} s (ttl {c.ttl} s)"
    print(f"new address seen elsewhere {took:.2f} s after the change (ttl {c.ttl} s)")


def test_dead_agent_is_servfail_within_the_timeout_then_back(make_cluster):
    c, nodes = three(make_cluster, timeout=1.0)
    a, b, fresh = nodes["mit"], nodes["uw"], nodes["eth"]
    assert b.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])
    a.kill()
    # b knows a's record and asks its gateway port; `fresh` has to look it up in the DHT first.
    for asker in (b, fresh):
        for name in ("pi.carol.mit.dht", "printer.bob.mit.dht"):  # never asked: not cached
            got, took = asker.timed_address(name)
            print(f"dead agent: {asker.name} {name} -> {got[0]} in {took:.3f} s")
            assert got == ("SERVFAIL", []), (asker.name, name, got)
            assert took <= c.timeout + 0.5, f"{asker.name} {name}: SERVFAIL after {took:.2f} s"
        # Over HTTP: the agent could not be reached, which is not a timeout.
        status, doc = asker.get("/api/v1/resolve/gone.carol.mit")
        assert (status, doc.get("failure")) == (502, "agent"), (asker.name, status, doc)
    # An answer cached before the death is still served for its TTL.
    assert b.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])
    a.start()  # same ports, data dir and identity
    restarted = time.monotonic()
    for asker in (b, fresh):  # (a SERVFAIL is cached for about a second)
        back = poll(lambda: resolves_all(asker, DEVICES["mit"]), 20, 0.3)
        assert back, (asker.name, [asker.address(f"{n}.dht") for n in DEVICES["mit"]],
                      f"{time.monotonic() - restarted:.1f} s after the restart")
        print(f"{asker.name} resolves the restarted agent "
              f"{time.monotonic() - restarted:.2f} s after its start")


def test_hung_agent_is_servfail_within_the_timeout_then_back(make_cluster):
    """SIGSTOP: the agent's sockets accept but nothing answers, so only the timeout ends the wait."""
    c, nodes = three(make_cluster, timeout=1.0)
    a, b, fresh = nodes["mit"], nodes["uw"], nodes["eth"]
    assert b.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])
    a.freeze()
    try:
        for asker in (b, fresh):
            got, took = asker.timed_address("pi.carol.mit.dht")
            print(f"hung agent: {asker.name} -> {got[0]} in {took:.3f} s")
            assert got == ("SERVFAIL", []), (asker.name, got)
            assert took <= c.timeout + 0.5, f"{asker.name}: SERVFAIL after {took:.2f} s"
            # Over HTTP: nothing answered in time.
            status, doc = asker.get(f"/api/v1/resolve/hung{asker.index}.carol.mit")
            assert (status, doc.get("failure")) == (504, "timeout"), (asker.name, status, doc)
    finally:
        a.thaw()
    for asker in (b, fresh):
        back = poll(lambda: resolves_all(asker, DEVICES["mit"]), 20, 0.3)
        assert back, (asker.name, [asker.address(f"{n}.dht") for n in DEVICES["mit"]])


def test_a_label_held_by_another_key_is_refused(make_cluster):
    c, nodes = three(make_cluster)
    mit = nodes["mit"]
    thief = c.add("mit", {"evil.bob.mit": "6.6.6.6", "desk.bob.mit": "6.6.6.7"}, start=False)
    t0 = time.monotonic()
    thief.start(wait=False)
    rc = thief.proc.wait(timeout=30)
    took = time.monotonic() - t0
    print(f"thief exited {rc} after {took:.2f} s")
    log = thief.log_text()
    assert rc == 3, f"the thief exited with {rc} after {took:.1f} s, not 3:\n{log}"
    assert "event=label_refused" in log and "already held" in log, log
    assert took < 20, f"the thief took {took:.1f} s to give up"
    for asker in nodes.values():
        assert asker.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"]), asker.name
        assert asker.address("evil.bob.mit.dht") == ("NXDOMAIN", []), asker.name
    status, body = nodes["eth"].get("/api/v1/agents/mit")
    assert (status, body.get("gateway_port")) == (200, mit.gateway), body
    # The rightful owner restarts with its own identity and keeps its label.
    assert mit.stop() == 0
    mit.start()
    for asker in (nodes["uw"], nodes["eth"]):
        back = poll(lambda: resolves_all(asker, DEVICES["mit"]), 20, 0.3)
        assert back, (asker.name, [asker.address(f"{n}.dht") for n in DEVICES["mit"]])


def test_three_of_ten_nodes_die_and_every_live_device_resolves(make_cluster):
    """Ten agents; node 0 (everyone's bootstrap node), node 4 and node 7 are killed.
    Nothing was asked before the kills, so every answer needs a DHT lookup."""
    c = make_cluster(ttl=60, timeout=2.0)
    want = {}
    for i in range(10):
        devs = {f"d{j}.u{i}.a{i}": f"10.0.{i}.{j + 1}" for j in range(3)}
        if i % 2:
            devs[f"d0.u{i}.a{i}"] += f" 2001:db8:{i}::1"
        c.add(f"a{i}", devs)
        want.update({n: v4_of(a) for n, a in devs.items()})
    c.wait_converged(60)
    dead = [c.nodes[0], c.nodes[4], c.nodes[7]]
    for n in dead:
        n.kill()
    killed = time.monotonic()
    live = c.live_agents()
    pairs = [(asker, name) for asker in live for owner in live for name in owner.devices]

    def check(pair):
        asker, name = pair
        got, took = asker.timed_address(f"{name}.dht")
        return None if got == ("NOERROR", [want[name]]) else (asker.name, name, got, round(took, 2))

    bad = [r for r in parallel(check, pairs) if r]
    print(f"churn: first sweep of {len(pairs)} names: {len(bad)} wrong, "
          f"{time.monotonic() - killed:.2f} s after the kills")
    deadline = killed + 40
    while bad and time.monotonic() < deadline:  # the DHT may need a moment to route around
        time.sleep(1)
        bad = [r for r in parallel(check, pairs) if r]
    assert not bad, (f"{len(bad)} of {len(pairs)} wrong {time.monotonic() - killed:.0f} s "
                     f"after the kills: {bad[:8]}")
    print(f"churn: all {len(pairs)} right {time.monotonic() - killed:.2f} s after the kills")
    # The dead agents' devices: SERVFAIL (or NXDOMAIN once their record expired), never a hang.
    for n in dead:
        for asker in live[:3]:
            got, took = asker.timed_address(f"d1.u{n.index}.a{n.index}.dht")
            print(f"churn: dead {n.name} asked at {asker.name}: {got[0]} in {took:.3f} s")
            assert got[0] in ("SERVFAIL", "NXDOMAIN"), (asker.name, n.name, got)
            assert took <= c.timeout + 0.5, (asker.name, n.name, took)


def test_gateway_mode_forwards_round_robin_and_skips_the_dead(make_cluster):
    devices = {k: dict(v) for k, v in DEVICES.items()}
    devices["mit"].update({f"m{i}.bob.mit": f"198.51.100.{100 + i}" for i in range(10)})
    devices["eth"].update({f"e{i}.dave.eth": f"203.0.113.{100 + i}" for i in range(4)})
    c, nodes = three(make_cluster, devices=devices, timeout=1.0)
    a, b = nodes["uw"], nodes["mit"]
    gw = c.add(None, {}, extra=["--home-agent", f"{a.gateway_addr},{b.gateway_addr}"])
    asked = []
    for owner in DEVICES:  # eth is reached through uw or mit
        for name, addrs in DEVICES[owner].items():
            if v4_of(addrs):
                for tcp in (False, True):
                    d = gw.dig(f"{name}.dht", "A", tcp)
                    assert d.result == ("NOERROR", [v4_of(addrs)]), d
                asked.append(name)
    d = gw.dig("v6.erin.eth.dht", "AAAA")
    assert d.result == ("NOERROR", ["2001:db8:e::6"]), d
    # Dual-stack devices, through the gateway's home agent (and for pi, from there
    # through the DHT to mit): both addresses arrive (protocol v2 all the way).
    for name in ("laptop.alice.uw", "pi.carol.mit"):
        for rdtype, pick in (("A", v4_of), ("AAAA", v6_of)):
            d = gw.dig(f"{name}.dht", rdtype)
            assert d.result == ("NOERROR", [pick(DEVICES[name.rsplit('.', 1)[1]][name])]), d
    d = gw.dig("nosuch.alice.uw.dht", "A")
    assert d.result == ("NXDOMAIN", []), d
    # Round-robin: both agents answered some of those (the cached resolution names it).
    used = {gw.get(f"/api/v1/resolve/{name}")[1].get("agent") for name in asked}
    assert used == {a.gateway_addr, b.gateway_addr}, used
    assert gw.get("/api/v1/neighbors")[0] == 503  # not in the DHT

    a.kill()
    fresh = [f"m{i}.bob.mit" for i in range(10)] + [f"e{i}.dave.eth" for i in range(4)]
    results = []
    for name in fresh:  # none asked before: each is forwarded
        got, took = gw.timed_address(f"{name}.dht")
        results.append((name, got, round(took, 3)))
    want = {n: v4_of(x) for n, x in {**devices["mit"], **devices["eth"]}.items()}
    print(f"gateway after the kill: {results}")
    wrong = [r for r in results if r[1] != ("NOERROR", [want[r[0]]])]
    assert not wrong, f"after the kill of uw: {wrong} (all: {results})"
    assert results[0][2] <= c.timeout + 0.5, results
    slow = [r for r in results[1:] if r[2] > 0.5]
    assert not slow, f"the gateway did not skip the dead agent: {slow}"


def test_gateway_mode_skips_a_hung_agent(make_cluster):
    """A home agent that stops answering without closing its connection (SIGSTOP here;
    a host that dropped off the network looks the same) is as dead as a killed one:
    after at most one query that waited for it, the gateway answers from the other agent."""
    devices = {"uw": DEVICES["uw"],
               "mit": {f"m{i}.bob.mit": f"198.51.100.{100 + i}" for i in range(12)}}
    c, nodes = three(make_cluster, devices=devices, timeout=1.0)
    a, b = nodes["uw"], nodes["mit"]
    gw = c.add(None, {}, extra=["--home-agent", f"{a.gateway_addr},{b.gateway_addr}"])
    assert gw.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"])
    assert gw.address("m11.bob.mit.dht") == ("NOERROR", ["198.51.100.111"])
    a.freeze()
    results = []
    try:
        for i in range(10):  # none asked before: each is forwarded
            got, took = gw.timed_address(f"m{i}.bob.mit.dht")
            results.append((f"m{i}", got, round(took, 3)))
    finally:
        a.thaw()
    print(f"gateway with a hung agent: {results}")
    assert all(r[2] <= c.timeout + 0.5 for r in results), results
    wrong = [i for i, r in enumerate(results) if r[1] != ("NOERROR", [f"198.51.100.{100 + i}"])]
    assert wrong in ([], [0], [1]), f"answers {wrong} wrong or slow with uw hung: {results}"
    slow = [r for r in results[2:] if r[2] >= c.timeout]
    assert not slow, f"the gateway still waits for the hung agent: {slow}"
