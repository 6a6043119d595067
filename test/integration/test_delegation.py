"""Agents behind one delegation, with real processes and the real `dig`.

- An agent labelled `ns1` is not shadowed by the other agents' own `ns1.dht`
  name server name: its devices resolve from every agent; only the exact
  name `ns1.dht` is each node's name server.
- Two agents given the same --ns list and --soa-contact answer the same NS
  RRset and the same SOA MNAME/RNAME, so resolvers behind the delegation see
  one consistent NS set whichever agent they ask.
"""
import subprocess

from cluster import DIG_TIMEOUT


def dig_records(port: int, name: str, rdtype: str):
    """The answer section's RDATA of type `rdtype`, sorted, and the status."""
    cmd = ["dig", f"+time={DIG_TIMEOUT}", "+tries=1", "+norecurse", "@127.0.0.1", "-p", str(port),
           name, rdtype, "+noall", "+comments", "+answer"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=DIG_TIMEOUT + 10)
    status = None
    records = []
    for line in out.stdout.splitlines():
        if "->>HEADER<<-" in line:
            status = line.split("status:")[1].split(",")[0].strip()
        f = line.split(None, 4)
        if len(f) == 5 and not line.startswith(";") and f[3] == rdtype:
            records.append(f[4].strip())
    assert out.returncode == 0 and status, f"{' '.join(cmd)}:\n{out.stdout}{out.stderr}"
    return status, sorted(records)


def test_an_agent_labelled_ns1_is_reached_from_other_agents(make_cluster):
    c = make_cluster()
    uw = c.add("uw", {"laptop.alice.uw": "192.0.2.10"})
    ns1 = c.add("ns1", {"laptop.alice.ns1": "192.0.2.77"})
    c.wait_converged()
    for asker in (uw, ns1):
        assert asker.dig("laptop.alice.ns1.dht").result == ("NOERROR", ["192.0.2.77"])
        assert asker.dig("laptop.alice.uw.dht").result == ("NOERROR", ["192.0.2.10"])
        # The exact name is still the node's own name server (its DNS listener).
        assert asker.dig("ns1.dht").result == ("NOERROR", ["127.0.0.1"])
    # Below the agent ns1: a user name, a missing device.
    assert uw.dig("alice.ns1.dht").result == ("NOERROR", [])
    assert uw.dig("nosuch.alice.ns1.dht").status == "NXDOMAIN"


def test_agents_with_the_same_ns_list_answer_the_same_ns_set(make_cluster):
    c = make_cluster()
    same = ["--ns", "a.ns.dht=127.0.0.1", "--ns", "a.ns.dht=::1", "--ns", "ns.provider.example.net",
            "--soa-contact", "hostmaster@example.org"]
    uw = c.add("uw", {"laptop.alice.uw": "192.0.2.10"}, extra=same)
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"}, extra=same)
    c.wait_converged()
    answers = []
    for n in (uw, mit):
        status, ns = dig_records(n.dns, "dht.", "NS")
        assert status == "NOERROR"
        status, soa = dig_records(n.dns, "dht.", "SOA")
        assert status == "NOERROR" and len(soa) == 1
        mname, rname = soa[0].split()[:2]
        answers.append((ns, mname, rname))
    assert answers[0] == answers[1], answers
    assert answers[0] == (["a.ns.dht.", "ns.provider.example.net."], "a.ns.dht.",
                          "hostmaster.example.org."), answers
    # Either agent answers the other's devices, as before.
    assert uw.dig("desk.bob.mit.dht").result == ("NOERROR", ["198.51.100.7"])
    assert mit.dig("laptop.alice.uw.dht").result == ("NOERROR", ["192.0.2.10"])
