"""DNS over HTTPS for another agent's device: agent mit answers a DoH query
(curl, POST, HTTP/1.1) about a device of agent uw by asking uw, as it does
over UDP; a name uw does not have is NXDOMAIN, cached for the negative TTL.
Over HTTP/2, a name whose agent hangs does not hold up the other streams of
its connection."""
import base64
import shutil
import subprocess

import dns.message
import dns.rcode
import pytest

from test_dot_cluster import self_signed


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


def test_http2_streams_are_not_held_up_by_a_hung_agent(make_cluster, tmp_path):
    """Browsers and stub resolvers send every DoH query over one HTTP/2
    connection. A name whose agent hangs waits for --timeout; the connection's
    other streams (mit's own device, a remote answer mit holds in its cache)
    are answered meanwhile, not after it. curl --parallel multiplexes the
    transfers on one connection and writes each -w line as its transfer ends,
    so the lines come in the order the answers did."""
    curl_tool = shutil.which("curl")
    if curl_tool is None:
        pytest.fail("curl is not installed (CI installs it)")
    cert, key = self_signed(tmp_path)
    c = make_cluster(ttl=60, timeout=2.0)
    uw = c.add("uw", {"laptop.alice.uw": "192.0.2.10"})
    mit = c.add("mit", {"desk.bob.mit": "198.51.100.7"},
                extra=["--tls-cert", str(cert), "--tls-key", str(key)])
    c.wait_converged()
    # mit learns uw's record, opens its link and caches laptop (TTL 60).
    assert mit.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"])
    queries = [("hung", "never.alice.uw.dht."), ("own", "desk.bob.mit.dht."),
               ("cached", "laptop.alice.uw.dht.")]
    cmd = [curl_tool, "-sS", "--http2", "--parallel", "--parallel-max", "10", "--max-time", "15",
           "-k", "-H", "Accept: application/dns-message",
           "-w", "%{url_effective} %{http_code} %{http_version} %{num_connects} %{time_total}\n"]
    for tag, name in queries:
        q = dns.message.make_query(name, "A")
        q.id = 0
        wire = base64.urlsafe_b64encode(q.to_wire()).rstrip(b"=").decode()
        cmd += ["-o", str(tmp_path / f"{tag}.bin"),
                f"https://127.0.0.1:{mit.http}/dns-query?dns={wire}&tag={tag}"]
    uw.freeze()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    finally:
        uw.thaw()
    assert p.returncode == 0, p
    lines = [line.split() for line in p.stdout.splitlines() if line.strip()]
    print("\n".join(" ".join(line[1:]) + " " + line[0].rsplit("=", 1)[1] for line in lines))
    order = [line[0].rsplit("tag=", 1)[1] for line in lines]
    assert all(line[1:3] == ["200", "2"] for line in lines), lines
    assert sum(int(line[3]) for line in lines) == 1, f"not one connection: {lines}"
    assert order[-1] == "hung" and sorted(order[:-1]) == ["cached", "own"], \
        f"answers came in the order {order}: the hung agent's name held up the others"
    took = {tag: float(line[4]) for tag, line in zip(order, lines)}
    assert took["hung"] >= 1.0, took  # it really waited for uw (--timeout 2)
    msgs = {tag: dns.message.from_wire((tmp_path / f"{tag}.bin").read_bytes())
            for tag, _ in queries}
    assert msgs["hung"].rcode() == dns.rcode.SERVFAIL, msgs["hung"]
    for tag, addr in (("own", "198.51.100.7"), ("cached", "192.0.2.10")):
        assert [rd.to_text() for rrset in msgs[tag].answer for rd in rrset] == [addr], msgs[tag]
