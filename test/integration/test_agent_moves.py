"""An agent whose own address changes while it runs (DHCP, a new uplink) is
followed by the others without a restart: it notices within 10 s, publishes
its new record in the DHT, and an agent that cached the old address finds the
new one after one failed query.

The moving agent runs in a network namespace of the test's own, joined to the
host by a veth pair; its address is changed with `ip addr`. Needs root and
iproute2 (CI has both); without them the test is SKIPPED, loudly.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from typing import List, Optional

import pytest

from cluster import Node, binary, poll

OLD, NEW, HOST = "10.231.0.2", "10.231.0.3", "10.231.0.1"
TTL = 2  # uw's cached answers expire quickly: later answers come from the agent
DEVICES = {"laptop.alice.uw": "192.0.2.10"}
MOVER_DEVICES = {"pc.bob.mv": "198.51.100.7"}


def sh(*cmd: str) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout}{r.stderr}"


@pytest.fixture
def netns():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("SKIPPED: needs root and iproute2 to make a network namespace "
                    "(CI runs as root)")
    tag = f"{os.getpid() % 100000}"
    ns, host_if, ns_if = f"pweb-mv{tag}", f"pmv{tag}h", f"pmv{tag}n"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        sh("ip", "link", "set", ns_if, "netns", ns)
        sh("ip", "addr", "add", f"{HOST}/24", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        # The new address must survive the removal of the old one (its subnet's primary).
        sh("ip", "netns", "exec", ns, "sysctl", "-q", "-w",
           f"net.ipv4.conf.{ns_if}.promote_secondaries=1")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{OLD}/24", "dev", ns_if)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        yield ns, ns_if
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


class NamespacedNode(Node):
    """An agent inside `ns`, listening on the wildcard so that it publishes the
    namespace's interface addresses."""

    def __init__(self, cluster, index, ns: str, bootstrap: str, **kw):
        self.ns = ns
        self.bootstrap = bootstrap
        super().__init__(cluster, index, **kw)

    def command(self, bootstrap: Optional[int]) -> List[str]:
        c = self.cluster
        return ["ip", "netns", "exec", self.ns, binary(), "--data-dir", str(self.data),
                "--dns-listen", f"127.0.0.1:{self.dns}", "--http-listen", f"127.0.0.1:{self.http}",
                "--threads", "1", "--ttl", str(c.ttl), "--timeout", str(c.timeout),
                "--log-level", "info", "--label", self.label,
                "--gateway-listen", f"0.0.0.0:{self.gateway}", "--dht-port", str(self.dht),
                "--network-id", str(c.network_id), "--identity-bits", "2048",
                "--bootstrap", self.bootstrap]


def test_a_moving_agent_is_followed_without_a_restart(make_cluster, netns):
    ns, ns_if = netns
    c = make_cluster(ttl=TTL, timeout=1.0)
    uw = c.add("uw", DEVICES)
    mover = NamespacedNode(c, len(c.nodes), ns, f"{HOST}:{uw.dht}", label="mv",
                           devices=MOVER_DEVICES, users={})
    c.nodes.append(mover)
    mover.start()

    def answer():
        return uw.address("pc.bob.mv.dht.", timeout=3.0)

    got = poll(lambda: answer() == ("NOERROR", ["198.51.100.7"]), 30.0)
    assert got, f"uw never resolved the mover's device at {OLD}: {answer()}\n{mover.tail()}"
    status, agent = uw.get("/api/v1/agents/mv")
    assert status == 200 and agent["ipv4"] == [OLD], agent

    # The move: the new address first, then the old one goes.
    sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{NEW}/24", "dev", ns_if)
    sh("ip", "netns", "exec", ns, "ip", "addr", "del", f"{OLD}/24", "dev", ns_if)
    moved_at = time.monotonic()
    time.sleep(TTL + 1)  # what uw cached from the old address is gone

    # Bounded: the agent checks every 10 s; uw drops the old address after one
    # failed query (1 s timeout) and looks the agent up again.
    answers = []

    def followed():
        a = answer()
        answers.append(a)
        return a == ("NOERROR", ["198.51.100.7"]) and "event=agent_republished" in mover.log_text()

    assert poll(followed, 40.0, interval=0.5), (
        f"uw did not follow the agent to {NEW}: last answers {answers[-5:]}\n"
        f"mover log:\n{mover.tail()}\nuw log:\n{uw.tail()}")
    took = time.monotonic() - moved_at
    status, agent = uw.get("/api/v1/agents/mv")
    assert status == 200 and agent["ipv4"] == [NEW], agent
    assert f"addresses={NEW} was={OLD}" in mover.log_text(), mover.tail()
    print(f"[timing] moved agent answered again via uw {took:.1f} s after its address changed")
