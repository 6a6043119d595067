"""DNS for a real delegation, with the real `dig`: the operator's name servers
(--ns NAME[=ADDR]) and SOA contact (--soa-contact), glue that is dropped
rather than truncated (RFC 2181 §9), the default ns1's address behind a
wildcard listener, and an SOA serial that rises on every change and across
restarts (the store's change number)."""
import subprocess

import pytest

import dnstools
from conftest import node_binary
from registrar_fixtures import registrar_factory  # noqa: F401

ZONE = "dyn.example.org."
START_TIMEOUT = 10.0


def dig(node, *args):
    res = dnstools.run("dig", node.host, node.port, ["+norec", *args])
    assert res.responses >= 1, res
    return res


def rdata(res, section, rtype):
    return [r[4].strip() for r in res.records(section, rtype)]


def soa_fields(res):
    soa = rdata(res, "ANSWER", "SOA")
    assert len(soa) == 1, res
    mname, rname, serial, *_ = soa[0].split()
    return mname, rname, int(serial)


def test_ns_soa_and_glue_are_the_operators(node_factory):
    n = node_factory.start(
        "deleg-ns", devices="laptop.alice.uw 192.0.2.10 -\n", suffixes=(ZONE,),
        extra_args=["--ns", "ns1.dyn.example.org=127.0.0.1", "--ns", "NS1.dyn.example.org=::1",
                    "--ns", "ns.provider.example.net", "--soa-contact", "first.last@example.org"])
    res = dig(n, ZONE, "NS")
    assert res.status == "NOERROR" and "aa" in res.flags, res
    assert sorted(rdata(res, "ANSWER", "NS")) == ["ns.provider.example.net.",
                                                  "ns1.dyn.example.org."], res
    # Glue only for the in-zone name, both families; none for the provider's.
    glue = sorted((r[0], r[3], r[4].strip()) for r in res.records("ADDITIONAL")
                  if r[3] in ("A", "AAAA"))
    assert glue == [("ns1.dyn.example.org.", "A", "127.0.0.1"),
                    ("ns1.dyn.example.org.", "AAAA", "::1")], res

    mname, rname, _ = soa_fields(dig(n, ZONE, "SOA"))
    assert (mname, rname) == ("ns1.dyn.example.org.", "first\\.last.example.org."), res

    # The in-zone name server answers its addresses, authoritatively.
    res = dig(n, "ns1.dyn.example.org", "A")
    assert res.status == "NOERROR" and "aa" in res.flags, res
    assert rdata(res, "ANSWER", "A") == ["127.0.0.1"], res
    # ns2 is no name server now that the operator named the servers: just an
    # agent's label (NODATA), no address.
    res = dig(n, "ns2.dyn.example.org", "A")
    assert res.status == "NOERROR" and rdata(res, "ANSWER", "A") == [], res
    # Devices answer as before.
    assert rdata(dig(n, "laptop.alice.uw." + ZONE, "A"), "ANSWER", "A") == ["192.0.2.10"]


@pytest.mark.parametrize("args,says", [
    (["--ns", "ns1.dyn.example.org"], "needs an address"),
    (["--ns", "ns.provider.example.net=192.0.2.1"], "glue"),
    (["--ns", "ns_1.dyn.example.org=192.0.2.1"], "not a valid host name"),
    (["--ns", "ns1.dyn.example.org=not-an-address"], "not a numeric"),
    (["--ns", "ns1.dyn.example.org=192.0.2.1", "--ns", "ns1.dyn.example.org=192.0.2.2"],
     "already has an address"),
    (["--soa-contact", "nobody"], "--soa-contact"),
])
def test_bad_name_server_options_stop_start_up(tmp_path, args, says):
    cmd = [node_binary(), "--data-dir", str(tmp_path), "--suffix", ZONE,
           "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", *args]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=START_TIMEOUT)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out
    assert "event=config_error" in out and says in out, out
    assert ("--ns" in out) or ("--soa-contact" in out), out


def test_glue_that_does_not_fit_is_dropped_not_truncated(node_factory):
    ns = []
    for i in range(1, 46):
        ns += ["--ns", f"ns{i}.dht=127.0.0.{i}"]
    n = node_factory.start("deleg-45ns", extra_args=ns)
    res = dig(n, "+bufsize=1232", "+ignore", "dht.", "NS")
    assert res.responses == 1 and "tc" not in res.flags, res
    assert len(rdata(res, "ANSWER", "NS")) == 45, res
    glue = res.records("ADDITIONAL", "A")
    assert 0 < len(glue) < 45, res
    # The NS RRset itself does not fit 512 bytes: TC, then dig's TCP retry gets it all.
    res = dig(n, "+noedns", "dht.", "NS")
    assert "tc" not in res.flags, res
    assert len(rdata(res, "ANSWER", "NS")) == 45 and len(res.records("ADDITIONAL", "A")) == 45


def test_wildcard_listener_gives_ns1_an_address(node_factory):
    n = node_factory.start("deleg-wild", listen_hosts=("0.0.0.0",))
    res = dnstools.run("dig", "127.0.0.1", n.port, ["+norec", "dht.", "NS"])
    assert rdata(res, "ANSWER", "NS") == ["ns1.dht."], res
    glue = rdata(res, "ADDITIONAL", "A")
    # The advertised address (the gateway listener's, 127.0.0.1 here), never 0.0.0.0.
    assert glue == ["127.0.0.1"], res
    res = dnstools.run("dig", "127.0.0.1", n.port, ["+norec", "ns1.dht.", "A"])
    assert res.status == "NOERROR" and rdata(res, "ANSWER", "A") == ["127.0.0.1"], res


def serial_of(reg):
    return soa_fields(dig(reg.node, "dht.", "SOA"))[2]


def test_serial_rises_on_every_change_and_across_restarts(registrar_factory):  # noqa: F811
    reg = registrar_factory.start("deleg-serial")
    s0 = serial_of(reg)
    serials = [s0]
    for i in range(2):  # two changes well within one second
        assert reg.nic_ok("alice", {"hostname": "s.alice.uw", "myip": f"192.0.2.{30 + i}"})[0] \
            .startswith("good"), reg
        serials.append(serial_of(reg))
    assert serials[0] < serials[1] < serials[2], serials

    reg.stop()
    reg.restart()
    after = serial_of(reg)
    assert after >= serials[2], (serials, after)
    assert reg.nic_ok("alice", {"hostname": "s.alice.uw", "myip": "192.0.2.40"})[0] \
        .startswith("good")
    assert serial_of(reg) > after
    reg.stop()


def test_class_any_question_gets_no_aa(node):
    res = dig(node, "laptop.alice.uw.dht.", "A", "CLASS255")  # QCLASS ANY
    assert res.status == "NOERROR" and rdata(res, "ANSWER", "A") == ["192.0.2.10"], res
    assert "aa" not in res.flags, res
    res = dig(node, "laptop.alice.uw.dht.", "A")
    assert "aa" in res.flags, res
