"""One label served by two nodes (DESIGN.md, "A label on several machines"):
both share the label's identity, each publishes its own record under the
label's DHT key, and an asker spreads its queries over both. When one is
SIGKILLed (its connections refused at once) or frozen with SIGSTOP (it hangs:
a query to it costs its share of --timeout), the asker moves off it after at
most one --timeout and no query fails after that.

Failover alone, without PostgreSQL: the two `uw` nodes each have their own
SQLite data dir holding the same device (imported into each; the shared
store is test_label_ha.py's). Their identity is copied file by file
(identity.pem and identity.crt, not identity.node-id, as `pweb-node identity
export/import` moves it), so the second node gets its own node id and its
own record.
"""
from __future__ import annotations

import shutil
import time

import pytest

from cluster import poll

TIMEOUT = 1.0  # --timeout of every node, seconds
DEVICES = {"laptop.alice.uw": "192.0.2.10"}
MIT_DEVICES = {"desk.bob.mit": "198.51.100.7"}


def counter(node, name: str) -> float:
    value = node.metric(name)
    assert value is not None, f"{name} not in /metrics of {node.name}"
    return value


@pytest.mark.parametrize("how", ["kill", "freeze"])
def test_an_asker_fails_over_between_the_nodes_of_a_label(make_cluster, how):
    c = make_cluster(ttl=60, timeout=TIMEOUT)
    uw1 = c.add("uw", DEVICES)
    uw2 = c.add("uw", DEVICES, start=False)
    for name in ("identity.pem", "identity.crt"):
        shutil.copy2(uw1.data / name, uw2.data / name)
    uw2.start()
    assert (uw1.data / "identity.node-id").read_bytes() != (uw2.data / "identity.node-id").read_bytes()
    mit = c.add("mit", MIT_DEVICES)

    # Made-up names of the user are asked remotely each time (a cached
    # answer would not tell which node answered): NXDOMAIN from either node.
    counter_at = iter(range(1_000_000))

    def ask_once():
        i = next(counter_at)
        name = "laptop.alice.uw.dht." if i % 2 == 0 else f"n{i}.alice.uw.dht."
        want = ("NOERROR", ["192.0.2.10"]) if i % 2 == 0 else ("NXDOMAIN", [])
        got = mit.address(name, timeout=3 * TIMEOUT)
        return got == want, got

    assert poll(lambda: ask_once()[0], 30.0), f"mit never resolved uw:\n{c.logs()}"

    # Both nodes are in mit's view of the label: its queries reach both.
    def both_asked():
        ask_once()
        return all(counter(n, "pweb_gateway_server_queries_total") > 0 for n in (uw1, uw2))

    assert poll(both_asked, 30.0, interval=0.05), (
        "mit did not spread queries over both uw nodes: "
        f"{[counter(n, 'pweb_gateway_server_queries_total') for n in (uw1, uw2)]}\n{c.logs()}")

    # No goodbye either way: its DHT record stays until it expires.
    if how == "kill":
        uw1.kill()
    else:
        uw1.freeze()
    killed = time.monotonic()
    early_failures, late_failures, late_total, failed = 0, 0, 0, []
    while time.monotonic() - killed < 8.0:  # bounded: ~8 s of queries
        ok, got = ask_once()
        late = time.monotonic() - killed > TIMEOUT
        if late:
            late_total += 1
        if not ok:
            failed.append((round(time.monotonic() - killed, 2), got))
            if late:
                late_failures += 1
            else:
                early_failures += 1
        time.sleep(0.02)
    failovers = counter(mit, "pweb_resolver_agent_failovers_total")
    print(f"[timing] after the {how}: {early_failures} failed within the first --timeout, "
          f"{late_failures} of {late_total} after it; failovers {failovers:.0f}")
    assert late_total >= 50, f"too few queries to tell: {late_total}"
    assert late_failures == 0, f"failed after the first --timeout: {failed[:10]}\n{c.logs()}"
    assert failovers >= 1, f"mit never moved off the dead node:\n{mit.tail()}"
    assert uw2.alive()
