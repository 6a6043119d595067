"""A node flooded with bogus DHT values keeps answering: a foreign OpenDHT node
(Debian's python3-opendht, in the cluster's network) puts thousands of junk
values under the agents' own keys and random ones, as fast as it can, while
the agents are asked for their own devices and each other's. Every own device
keeps being answered right and quickly, and the agent records stay those of
their pinned owners."""
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cluster import poll

DEVICES = {"uw": {"laptop.alice.uw": "192.0.2.10"}, "mit": {"desk.bob.mit": "198.51.100.7"}}
FLOOD_SECONDS = 8.0


def test_bogus_value_flood_changes_nothing(make_cluster):
    pytest.importorskip("opendht", reason="python3-opendht is needed for the flooder "
                                          "(CI installs it)")
    c = make_cluster(ttl=1, timeout=1.0)
    uw = c.add("uw", DEVICES["uw"])
    mit = c.add("mit", DEVICES["mit"])
    c.wait_converged()
    # mit's record is known (and pinned) at uw before the flood.
    assert uw.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])

    # The flooder is a process of its own (see dht_flooder.py), bounded in time.
    flooder = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "dht_flooder.py"), str(c.network_id),
         str(uw.dht), str(FLOOD_SECONDS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    slow, wrong, asked = [], [], 0
    try:
        while flooder.poll() is None:
            for node in (uw, mit):
                for name, addr in DEVICES[node.label].items():
                    got, took = node.timed_address(name + ".dht", "A", timeout=2.0)
                    asked += 1
                    if got != ("NOERROR", [addr]):
                        wrong.append((node.name, name, got))
                    if took > 0.5:
                        slow.append((node.name, name, round(took, 3)))
            time.sleep(0.01)
            assert asked < 100000  # bounded even if the flooder never ends
    finally:
        try:
            out, _ = flooder.communicate(timeout=FLOOD_SECONDS + 30)
        except subprocess.TimeoutExpired:
            os.killpg(flooder.pid, signal.SIGKILL)
            out, _ = flooder.communicate()
    m = re.search(r"puts (\d+)", out or "")
    put = [int(m.group(1)) if m else 0]
    assert m, f"the flooder did not finish: {out!r}"
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
