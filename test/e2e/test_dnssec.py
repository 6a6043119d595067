"""DNSSEC online signing (--dnssec), checked by real validators: Unbound with the
DS printed by `pweb-node dnssec ds` as its only trust anchor, BIND's delv, and
DNSViz. A node signing with another key than the anchored one is a real broken
chain: Unbound must answer SERVFAIL."""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import dns.dnssec
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from conftest import node_binary
from unbound_resolver import Unbound, describe, validated

ZONE = "dht."
DEVICE = "laptop.alice.uw.dht."


def ds_of(data_dir: Path, key_file: str = "") -> str:
    cmd = [node_binary(), "dnssec", "ds", "--data-dir", str(data_dir), "--suffix", ZONE]
    if key_file:
        cmd += ["--dnssec-key", key_file]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    assert len(lines) == 1 and " IN DS " in lines[0] and " 13 2 " in lines[0], res.stdout
    return lines[0]


@pytest.fixture(scope="module")
def signer(node_factory):
    return node_factory.start("dnssec", extra_args=["--dnssec"])


@pytest.fixture(scope="module")
def anchored(signer, tmp_path_factory):
    """Unbound stubbed to the signing node, anchored by its DS."""
    ub = Unbound(tmp_path_factory.mktemp("unbound"), ZONE, [(signer.host, signer.port)],
                 [ds_of(signer.data_dir)]).start()
    yield ub
    ub.stop()


def test_key_made_once_in_the_data_dir_with_mode_0600(signer):
    key = signer.data_dir / "dnssec.key"
    assert key.exists()
    assert key.stat().st_mode & 0o777 == 0o600
    # Printing the DS twice gives one DS: the key is never remade.
    assert ds_of(signer.data_dir) == ds_of(signer.data_dir)


def test_unbound_validates_a_device_answer(anchored):
    rep = anchored.ask(DEVICE, "A")
    assert validated(rep), describe(rep) + anchored.log()
    assert rep.rcode() == dns.rcode.NOERROR
    assert [r.address for rrs in rep.answer for r in rrs if rrs.rdtype == dns.rdatatype.A] == \
        ["192.0.2.10"]


def test_unbound_validates_nxdomain(anchored):
    rep = anchored.ask("nobody.alice.uw.dht.", "A")
    assert validated(rep), describe(rep) + anchored.log()
    assert not any(rrs.rdtype == dns.rdatatype.A for rrs in rep.answer)


def test_unbound_validates_nodata(anchored):
    rep = anchored.ask("phone.alice.uw.dht.", "AAAA")  # phone has only an IPv4 address
    assert validated(rep), describe(rep) + anchored.log()
    assert rep.rcode() == dns.rcode.NOERROR and not rep.answer


def test_unbound_validates_apex_records(anchored):
    for rdtype in ("SOA", "NS", "DNSKEY"):
        rep = anchored.ask(ZONE, rdtype)
        assert validated(rep) and rep.answer, rdtype + ": " + describe(rep) + anchored.log()


def test_another_key_than_the_anchored_one_is_servfail(node_factory, signer, tmp_path_factory):
    """A node signing with key B behind a resolver that trusts key A: bogus."""
    tmp = tmp_path_factory.mktemp("other-key")
    other = tmp / "other.pem"
    res = subprocess.run([node_binary(), "dnssec", "keygen", "--out", str(other)],
                         capture_output=True, text=True, timeout=20)
    assert res.returncode == 0, res.stderr
    assert other.stat().st_mode & 0o777 == 0o600
    # keygen never overwrites.
    again = subprocess.run([node_binary(), "dnssec", "keygen", "--out", str(other)],
                           capture_output=True, text=True, timeout=20)
    assert again.returncode != 0
    wrong = node_factory.start("dnssec-wrong", extra_args=["--dnssec", "--dnssec-key", str(other)])
    ub = Unbound(tmp / "unbound", ZONE, [(wrong.host, wrong.port)],
                 [ds_of(signer.data_dir)]).start()
    try:
        rep = ub.ask(DEVICE, "A")
        assert rep.rcode() == dns.rcode.SERVFAIL, describe(rep)
        assert not rep.answer
        # The same node, anchored by its own key's DS, validates.
        good = Unbound(tmp / "unbound-good", ZONE, [(wrong.host, wrong.port)],
                       [ds_of(signer.data_dir, str(other))]).start()
        try:
            rep = good.ask(DEVICE, "A")
            assert validated(rep), describe(rep) + good.log()
        finally:
            good.stop()
    finally:
        ub.stop()
        wrong.stop()


def test_dnssec_key_without_dnssec_is_a_startup_error(tmp_path):
    key = tmp_path / "k.pem"
    subprocess.run([node_binary(), "dnssec", "keygen", "--out", str(key)], check=True,
                   capture_output=True, timeout=20)
    res = subprocess.run([node_binary(), "--data-dir", str(tmp_path / "d"), "--dnssec-key",
                          str(key)], capture_output=True, text=True, timeout=20)
    assert res.returncode != 0
    assert "--dnssec-key needs --dnssec" in res.stderr + res.stdout


def test_unsigned_without_do_and_signed_with_do(signer):
    q = dns.message.make_query(DEVICE, "A", use_edns=0)
    rep = dns.query.udp(q, signer.host, port=signer.port, timeout=5)
    assert not any(rrs.rdtype == dns.rdatatype.RRSIG for rrs in rep.answer)
    q = dns.message.make_query(DEVICE, "A", want_dnssec=True)
    rep = dns.query.udp(q, signer.host, port=signer.port, timeout=5)
    assert any(rrs.rdtype == dns.rdatatype.RRSIG for rrs in rep.answer), rep


def test_signed_answer_too_big_for_udp_is_truncated_and_whole_over_tcp(node_factory):
    """30 listen addresses: 30 NS (ns1..ns30) with their RRSIG exceed 512 bytes;
    the answer is TC with nothing partial, and whole (NS, RRSIG) over TCP."""
    hosts = [f"127.0.0.{i}" for i in range(1, 31)]
    big = node_factory.start("dnssec-ns30", listen_hosts=hosts, extra_args=["--dnssec"])
    try:
        q = dns.message.make_query(ZONE, "NS", want_dnssec=True, payload=512)
        rep = dns.query.udp(q, big.host, port=big.port, timeout=5)
        assert rep.flags & dns.flags.TC, rep
        assert not rep.answer, rep
        rep = dns.query.tcp(q, big.host, port=big.port, timeout=5)
        assert not rep.flags & dns.flags.TC
        ns = [r for rrs in rep.answer if rrs.rdtype == dns.rdatatype.NS for r in rrs]
        assert len(ns) == 30, rep
        assert any(rrs.rdtype == dns.rdatatype.RRSIG for rrs in rep.answer), rep
        # At the default 1232 bytes it fits over UDP; glue that does not is left out.
        q = dns.message.make_query(ZONE, "NS", want_dnssec=True, payload=1232)
        rep = dns.query.udp(q, big.host, port=big.port, timeout=5)
        assert not rep.flags & dns.flags.TC and len(rep.to_wire()) <= 1232, rep
    finally:
        big.stop()


def _tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    if not Path(path).exists():
        pytest.fail(f"{name} is missing (installed by scripts/install-deps.sh)", pytrace=False)
    return path


def test_delv_fully_validates(signer, tmp_path):
    ds = ds_of(signer.data_dir).split()
    # "dht. 3600 IN DS TAG 13 2 HEX" -> a BIND trust-anchors clause
    anchors = tmp_path / "anchors.conf"
    anchors.write_text(f'trust-anchors {{ "{ds[0]}" static-ds {ds[4]} {ds[5]} {ds[6]} '
                       f'"{ds[7]}"; }};\n')
    res = subprocess.run([_tool("delv"), f"@{signer.host}", "-p", str(signer.port), "-a",
                          str(anchors), f"+root={ZONE}", DEVICE, "A"],
                         capture_output=True, text=True, timeout=30)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "; fully validated" in out, out
    assert "192.0.2.10" in out, out
    # NXDOMAIN by compact denial: delv proves the name's absence too.
    res = subprocess.run([_tool("delv"), f"@{signer.host}", "-p", str(signer.port), "-a",
                          str(anchors), f"+root={ZONE}", "nobody.alice.uw.dht.", "A"],
                         capture_output=True, text=True, timeout=30)
    out = res.stdout + res.stderr
    # delv reports a proven negative answer this way (and then "ncache nxrrset").
    assert "; negative response, fully validated" in out, out


def _issues(node, statuses, path=""):
    """(path, issue) for every non-empty "errors" or "warnings" list in DNSViz
    grok output; collects every "status" value into `statuses`."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("errors", "warnings") and v:
                found.append((f"{path}/{k}", v))
            elif k == "status" and isinstance(v, str):
                statuses.add(v)
            else:
                found.extend(_issues(v, statuses, f"{path}/{k}"))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found.extend(_issues(v, statuses, f"{path}[{i}]"))
    return found


def test_dnsviz_finds_no_errors(signer, tmp_path):
    dnsviz = _tool("dnsviz")
    rep = dns.query.udp(dns.message.make_query(ZONE, "DNSKEY"), signer.host, port=signer.port,
                        timeout=5)
    keys = [f"{ZONE} 3600 IN DNSKEY {r.to_text()}" for rrs in rep.answer for r in rrs]
    assert keys, rep
    trusted = tmp_path / "trusted.keys"
    trusted.write_text("\n".join(keys) + "\n")
    probe_out = tmp_path / "probe.json"
    server = f"ns1.{ZONE}={signer.host}:{signer.port}"
    names = [DEVICE, "nobody.alice.uw.dht.", "phone.alice.uw.dht."]
    res = subprocess.run([dnsviz, "probe", "-A", "-x", f"{ZONE}+:{server}", "-4", "-o",
                          str(probe_out), ZONE] + names,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    # Debian's dnsviz 0.9.4 checks for pygraphviz.release when given trusted keys;
    # Debian's pygraphviz 1.7 has no such module (the check fails though pygraphviz
    # is there). A sitecustomize for the grok process supplies it.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(
        "import sys, types\n"
        "try:\n"
        "    import pygraphviz\n"
        "    if not hasattr(pygraphviz, 'release'):\n"
        "        m = types.ModuleType('pygraphviz.release')\n"
        "        m.version = pygraphviz.__version__\n"
        "        sys.modules['pygraphviz.release'] = pygraphviz.release = m\n"
        "except ImportError:\n"
        "    pass\n")
    env = dict(os.environ, PYTHONPATH=str(shim))
    res = subprocess.run([dnsviz, "grok", "-t", str(trusted), "-r", str(probe_out)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    grok = json.loads(res.stdout)
    statuses: set = set()
    issues = _issues(grok, statuses)
    assert not issues, json.dumps(issues, indent=1)[:6000]
    # Every RRSIG VALID, every RRset and proof SECURE: nothing BOGUS, INSECURE or EXPIRED.
    assert "SECURE" in statuses and statuses <= {"NOERROR", "NXDOMAIN", "SECURE", "VALID"}, \
        statuses
    for name in names:
        key = name
        assert key in grok, list(grok)
        assert grok[key].get("status") in ("NOERROR", "NXDOMAIN"), grok[key]


def test_rollover_midway_validates_whichever_node_answers(node_factory, tmp_path_factory):
    """README's rollover, step 3: both DS at the parent (Unbound's two anchors),
    one node already signing with the new key, one still with the old, each
    publishing the other's DNSKEY (--dnssec-publish): answers validate from
    either node alone and from both behind one resolver."""
    tmp = tmp_path_factory.mktemp("rollover")
    old, new = tmp / "old.key", tmp / "new.key"
    for f in (old, new):
        subprocess.run([node_binary(), "dnssec", "keygen", "--out", str(f)], check=True,
                       capture_output=True, timeout=20)
    anchors = [ds_of(tmp, str(old)), ds_of(tmp, str(new))]
    a = node_factory.start("roll-old", extra_args=["--dnssec", "--dnssec-key", str(old),
                                                    "--dnssec-publish", str(new)])
    b = node_factory.start("roll-new", extra_args=["--dnssec", "--dnssec-key", str(new),
                                                    "--dnssec-publish", str(old)])
    names = [(DEVICE, "A"), ("phone.alice.uw.dht.", "A"), ("desk.bob.ut.dht.", "A"),
             ("tablet.carol.uv.dht.", "AAAA")] + \
        [(f"nobody{i}.alice.uw.dht.", "A") for i in range(8)]
    try:
        for n in (a, b):
            rep = dns.query.udp(dns.message.make_query(ZONE, "DNSKEY"), n.host, port=n.port,
                                timeout=5)
            assert sum(len(rrs) for rrs in rep.answer) == 2, rep
        for i, servers in enumerate(([a], [b], [a, b])):
            ub = Unbound(tmp / f"ub{i}", ZONE, [(n.host, n.port) for n in servers],
                         anchors).start()
            try:
                for name, rdtype in names:
                    rep = ub.ask(name, rdtype)
                    assert validated(rep), f"{servers}: {name}: " + describe(rep) + ub.log()
            finally:
                ub.stop()
    finally:
        a.stop()
        b.stop()
