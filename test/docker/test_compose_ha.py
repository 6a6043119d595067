"""Label uw on two nodes (docker-compose.ha.yml on top of the main file): uw and
uw2 share one PostgreSQL and one DHT identity (imported from the uw-identity
one-shot's bundle). A device registered at uw answers everywhere; ut and mit
list both uw nodes; after `docker kill` of uw every other node still answers
uw's devices within one --timeout, and an update through uw2 is answered at ut
and mit.
"""
from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.request
from typing import List, Tuple

import pytest

from conftest import Compose, run
from test_compose import DATA_DIR, expect_address, expect_everywhere, register

NODE_TIMEOUT = 2.0  # pweb-node --timeout (default), the bound of one failover
SLACK = 2.0  # dig, docker's port forwarding, a busy machine
ALL = ("uw", "uw2", "ut", "mit", "gateway")
STORE = "postgresql://pweb@postgres:5432/pweb"  # as docker-compose.ha.yml gives it
RECORD_TIMEOUT = 60  # both uw nodes' DHT records, just after start-up


@pytest.fixture(scope="module")
def update(prerequisites) -> str:
    return prerequisites["update"]


def dig_once(port: int, name: str, wait: float) -> Tuple[str, List[str], float, str]:
    """One UDP query, no retry: (rcode, A addresses, seconds taken, dig's output)."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), name + ".dht", "A", f"+time={int(wait) + 1}",
           "+tries=1", "+noall", "+comments", "+answer"]
    started = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=wait + 10)
    except subprocess.TimeoutExpired:
        return "dig hung", [], time.monotonic() - started, ""
    took = time.monotonic() - started
    m = re.search(r"status: (\w+)", p.stdout)
    addrs = [f[4] for f in (line.split() for line in p.stdout.splitlines()
                            if line and not line.startswith(";")) if len(f) >= 5 and f[3] == "A"]
    return (m.group(1) if m else "no answer"), addrs, took, p.stdout.strip()


def test_postgres_takes_the_nodes_role(ha_cluster):
    # As the nodes connect: role pweb over TCP on the compose network.
    p = ha_cluster("exec", "-T", "postgres", "psql", "-h", "postgres", "-U", "pweb", "-d", "pweb",
                   "-tAc", "select current_user", timeout=60)
    assert p.stdout.strip() == "pweb", p.stdout


def test_both_uw_nodes_hold_one_identity(ha_cluster):
    bundles = [ha_cluster("exec", "-T", s, "pweb-node", "identity", "export", "--data-dir",
                          "/var/lib/pweb", timeout=60).stdout for s in ("uw", "uw2")]
    assert bundles[0] == bundles[1] and "PWEB TOKEN KEY" in bundles[0]


def users(cluster: Compose, service: str) -> List[str]:
    out = cluster("exec", "-T", service, "pweb-node", "user", "list", "--data-dir", DATA_DIR,
                  "--store", STORE, timeout=60).stdout
    return sorted(out.split())


def test_users_shared_through_postgres(ha_cluster, update):
    # Both nodes added the env file's users to the one store at start.
    for service in ("uw", "uw2"):
        assert users(ha_cluster, service) == ["alice", "carol"], f"users seen at {service}"
    # The README's way to add a user to the running pair: at one node, with --store.
    p = ha_cluster("exec", "-T", "uw2", "pweb-node", "user", "add", "bob", "--password-stdin",
                   "--data-dir", DATA_DIR, "--store", STORE, input="b0b-pw\n", timeout=60)
    assert "added user bob" in p.stdout
    ha_cluster.passwords["bob"] = "b0b-pw"  # type: ignore[attr-defined]
    register(ha_cluster, update, "uw", "bob", "nas.bob.uw", "192.0.2.40")
    expect_everywhere(ha_cluster, ("uw", "uw2"), "nas.bob.uw", "192.0.2.40")


def test_registered_at_uw_resolves_everywhere(ha_cluster, update):
    register(ha_cluster, update, "uw", "alice", "laptop.alice.uw", "192.0.2.10")
    expect_everywhere(ha_cluster, ALL, "laptop.alice.uw", "192.0.2.10")


def agent_nodes(cluster: Compose, service: str, label: str) -> List[str]:
    """The addresses of `label`'s nodes in `service`'s GET /api/v1/agents/<label>."""
    url = f"http://127.0.0.1:{cluster.http_port(service)}/api/v1/agents/{label}"
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
    except OSError as e:
        return [f"({e})"]
    return sorted(a for n in body.get("nodes", []) for a in n.get("ipv4", []))


def test_ut_and_mit_see_both_uw_nodes(ha_cluster):
    # So that the kill below is a failover: the askers know uw2 as well as uw.
    subnet = ha_cluster.env["PWEB_SUBNET"]
    want = sorted([f"{subnet}.11", f"{subnet}.14"])
    for service in ("ut", "mit"):
        started = time.monotonic()
        while (nodes := agent_nodes(ha_cluster, service, "uw")) != want:
            assert time.monotonic() - started < RECORD_TIMEOUT, \
                f"{service} lists uw's nodes {nodes}, not {want}"
            time.sleep(1)


def test_uw_killed_the_others_still_answer(ha_cluster: Compose, update):
    # Registered at uw, asked nowhere but at uw2 before the kill: nothing cached
    # at ut, mit or the gateway.
    register(ha_cluster, update, "uw", "alice", "tablet.alice.uw", "192.0.2.11")
    expect_address(ha_cluster, "uw2", "tablet.alice.uw", "192.0.2.11")
    # Asked nowhere before the kill: the gateway's forward is cached at no agent.
    register(ha_cluster, update, "uw", "alice", "phone.alice.uw", "192.0.2.13")

    run(["docker", "kill", ha_cluster.container("uw")], 60)
    st = ha_cluster.state("uw")
    assert not st.get("Running"), f"uw still running after `docker kill`: {st}"

    # Each remaining node within one --timeout, with no retry: uw2 from its own
    # snapshot, mit and ut by failing over from uw to uw2 (tablet is cached at
    # neither), the gateway by skipping uw.
    for name, address, services in (
            ("phone.alice.uw", "192.0.2.13", ("gateway",)),
            ("tablet.alice.uw", "192.0.2.11", ("uw2", "mit", "ut", "gateway")),
            ("laptop.alice.uw", "192.0.2.10", ("uw2", "mit", "ut", "gateway"))):
        for service in services:
            rcode, addrs, took, out = dig_once(ha_cluster.dns_port(service), name,
                                               NODE_TIMEOUT + SLACK)
            assert rcode == "NOERROR" and addrs == [address], \
                f"{service} after the kill of uw: {rcode} {addrs} in {took:.1f} s\n{out}"
            assert took <= NODE_TIMEOUT + SLACK, f"{service} took {took:.1f} s for {name}"
            print(f"{service} answered {name} {took:.1f} s after uw was killed")
    live = ("uw2", "ut", "mit", "gateway")
    expect_everywhere(ha_cluster, live, "tablet.alice.uw", "192.0.2.11")
    expect_everywhere(ha_cluster, live, "laptop.alice.uw", "192.0.2.10")


def test_update_through_uw2_answered_at_ut_and_mit(ha_cluster, update):
    assert not ha_cluster.state("uw").get("Running"), "uw is expected down (previous test)"
    register(ha_cluster, update, "uw2", "alice", "desktop.alice.uw", "192.0.2.12")
    # A new name, cached nowhere: ut and mit ask the label's live node, uw2.
    for service in ("ut", "mit"):
        rcode, addrs, took, out = dig_once(ha_cluster.dns_port(service), "desktop.alice.uw",
                                           NODE_TIMEOUT + SLACK)
        assert rcode == "NOERROR" and addrs == ["192.0.2.12"], \
            f"{service}: {rcode} {addrs} in {took:.1f} s\n{out}"
        assert took <= NODE_TIMEOUT + SLACK, f"{service} took {took:.1f} s"
    expect_everywhere(ha_cluster, ("uw2", "ut", "mit", "gateway"), "desktop.alice.uw",
                      "192.0.2.12")
