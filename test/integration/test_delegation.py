"""Agents behind one delegation, with real processes and the real `dig`.

- An agent labelled `ns1` is not shadowed by the other agents' own `ns1.dht`
  name server name: its devices resolve from every agent; only the exact
  name `ns1.dht` is each node's name server.
- Two agents given the same --ns list and --soa-contact answer the same NS
  RRset and the same SOA MNAME/RNAME, so resolvers behind the delegation see
  one consistent NS set whichever agent they ask; Unbound with the zone
  stubbed to both sees that one set and resolves both agents' devices.
"""
import os
import shutil
import subprocess
import time

from cluster import DIG_TIMEOUT, free_port


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


UNBOUND_READY = 10.0


def test_unbound_behind_both_agents_sees_one_ns_set(make_cluster, tmp_path):
    """Unbound (iterator only, no DNSSEC here) with dht. stubbed to both
    agents: whichever it asks, the NS set is the one configured, and devices of
    both agents resolve through it."""
    unbound = shutil.which("unbound") or "/usr/sbin/unbound"
    assert os.access(unbound, os.X_OK), "unbound is not installed (apt-get install unbound)"
    c = make_cluster()
    same = ["--ns", "a.ns.dht=127.0.0.1", "--ns", "ns.provider.example.net"]
    uw = c.add("uw", {"laptop.alice.uw": "192.0.2.10"}, extra=same)
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"}, extra=same)
    c.wait_converged()
    port = free_port()
    conf = tmp_path / "unbound.conf"
    conf.write_text(f"""server:
  interface: 127.0.0.1
  port: {port}
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "{tmp_path}"
  pidfile: ""
  use-syslog: no
  logfile: ""
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "iterator"
  qname-minimisation: no
  msg-cache-size: 1m
  rrset-cache-size: 1m
remote-control:
  control-enable: no
stub-zone:
  name: "dht."
  stub-addr: 127.0.0.1@{uw.dns}
  stub-addr: 127.0.0.1@{mit.dns}
""")
    proc = subprocess.Popen([unbound, "-d", "-c", str(conf)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + UNBOUND_READY
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            status, _ = dig_records_rd(port, "dht.", "SOA")
            if status == "NOERROR":
                break
            time.sleep(0.1)
        assert status == "NOERROR", f"unbound not answering: {proc.poll()}"
        for _ in range(4):  # several asks: Unbound spreads them over both agents
            assert dig_records_rd(port, "dht.", "NS") == (
                "NOERROR", ["a.ns.dht.", "ns.provider.example.net."])
        assert dig_records_rd(port, "laptop.alice.uw.dht.", "A") == ("NOERROR", ["192.0.2.10"])
        assert dig_records_rd(port, "desk.bob.mit.dht.", "A") == ("NOERROR", ["198.51.100.7"])
    finally:
        proc.kill()  # by pid: only the process started here
        out, _ = proc.communicate(timeout=10)
        if out:
            (tmp_path / "unbound.log").write_bytes(out)


def dig_records_rd(port: int, name: str, rdtype: str):
    """As dig_records, with recursion desired (a question to a resolver)."""
    cmd = ["dig", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(port), name, rdtype, "+noall",
           "+comments", "+answer"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    status = None
    records = []
    for line in out.stdout.splitlines():
        if "->>HEADER<<-" in line:
            status = line.split("status:")[1].split(",")[0].strip()
        f = line.split(None, 4)
        if len(f) == 5 and not line.startswith(";") and f[3] == rdtype:
            records.append(f[4].strip())
    return status, sorted(records)
