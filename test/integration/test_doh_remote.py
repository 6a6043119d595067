"""DNS over HTTPS for another agent's device: agent mit answers a DoH query
(curl, POST, HTTP/1.1) about a device of agent uw by asking uw, as it does
over UDP; a name uw does not have is NXDOMAIN, cached for the negative TTL."""
import shutil
import subprocess

import dns.message
import dns.rcode
import pytest


def doh_post(node, tmp_path, name: str) -> tuple:
    tool = shutil.which("curl")
    if tool is None:
        pytest.fail("curl is not installed (CI installs it)")
    q = dns.message.make_query(name, "A")
    q.id = 0
    (tmp_path / "q.bin").write_bytes(q.to_wire())
    out = tmp_path / "a.bin"
    p = subprocess.run([tool, "-sS", "--max-time", "10", "--http1.1", "-o", str(out),
                        "-w", "%{http_code} %header{cache-control}",
                        "-H", "Content-Type: application/dns-message",
                        "--data-binary", f"@{tmp_path / 'q.bin'}",
                        f"http://127.0.0.1:{node.http}/dns-query"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    status, _, cache = p.stdout.partition(" ")
    return int(status), cache, dns.message.from_wire(out.read_bytes())


def test_doh_answers_another_agents_device(make_cluster, tmp_path):
    c = make_cluster(ttl=60)
    c.add("uw", {"laptop.alice.uw": "192.0.2.10"})
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"})
    c.wait_converged()
    status, cache, msg = doh_post(mit, tmp_path, "laptop.alice.uw.dht.")
    assert status == 200 and msg.rcode() == dns.rcode.NOERROR, msg
    assert [rd.to_text() for rrset in msg.answer for rd in rrset] == ["192.0.2.10"], msg
    assert cache == f"max-age={msg.answer[0].ttl}", cache
    status, cache, msg = doh_post(mit, tmp_path, "nosuch.alice.uw.dht.")
    assert status == 200 and msg.rcode() == dns.rcode.NXDOMAIN, msg
