"""A node flooded with bogus DHT values keeps answering: a foreign OpenDHT node
(Debian's python3-opendht, in the cluster's network) puts thousands of junk
values under the agents' own keys and random ones, as fast as it can, while
the agents are asked for their own devices and each other's. Every own device
keeps being answered right and quickly, and the agent records stay those of
their pinned owners."""
import os
import threading
import time

import pytest

from cluster import poll

DEVICES = {"uw": {"laptop.alice.uw": "192.0.2.10"}, "mit": {"desk.bob.mit": "198.51.100.7"}}
FLOOD_SECONDS = 8.0


def test_bogus_value_flood_changes_nothing(make_cluster):
    dht = pytest.importorskip("opendht", reason="python3-opendht is needed for the flooder "
                                                "(CI installs it)")
    c = make_cluster(ttl=1, timeout=1.0)
    uw = c.add("uw", DEVICES["uw"])
    mit = c.add("mit", DEVICES["mit"])
    c.wait_converged()
    # mit's record is known (and pinned) at uw before the flood.
    assert uw.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])

    flooder = dht.DhtRunner()
    cfg = dht.DhtConfig()
    cfg.setNetwork(c.network_id)
    flooder.run(port=0, config=cfg)
    flooder.bootstrap("127.0.0.1", str(uw.dht))
    stop = threading.Event()
    put = [0]

    def flood():
        keys = [dht.InfoHash.get("pweb:agent:uw"), dht.InfoHash.get("pweb:agent:mit")]
        end = time.monotonic() + FLOOD_SECONDS
        i = 0
        while not stop.is_set() and time.monotonic() < end:
            key = keys[i % 2] if i % 3 else dht.InfoHash.get(f"junk-{i}")
            flooder.put(key, dht.Value(os.urandom(64 + i % 900)))
            i += 1
            put[0] = i
            if i % 200 == 0:
                time.sleep(0.01)  # let the runner drain its queue, stay bounded

    t = threading.Thread(target=flood, daemon=True)
    t.start()
    slow, wrong, asked = [], [], 0
    try:
        while t.is_alive():
            for node in (uw, mit):
                for name, addr in DEVICES[node.label].items():
                    got, took = node.timed_address(name + ".dht", "A", timeout=2.0)
                    asked += 1
                    if got != ("NOERROR", [addr]):
                        wrong.append((node.name, name, got))
                    if took > 0.5:
                        slow.append((node.name, name, round(took, 3)))
            time.sleep(0.01)
    finally:
        stop.set()
        t.join(timeout=30)
        flooder.shutdown()
        flooder.join()
    print(f"flood: {put[0]} bogus puts, {asked} own-device queries")
    assert put[0] > 1000, f"the flood was too small to mean anything: {put[0]} puts"
    assert asked > 50
    assert not wrong, wrong[:10]
    assert not slow, f"own devices answered slowly under the flood: {slow[:10]}"
    # The agents still find each other, at their own records (ttl 1: asked afresh).
    time.sleep(1.2)
    assert poll(lambda: uw.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"]), 10)
    assert poll(lambda: mit.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"]), 10)
    for asker, label, other in ((uw, "mit", mit), (mit, "uw", uw)):
        status, body = asker.get(f"/api/v1/agents/{label}")
        assert status == 200 and body.get("gateway_port") == other.gateway, (status, body)
    for n in (uw, mit):
        assert n.alive(), f"{n.name} died under the flood:\n{n.tail()}"
