"""Two agents behind one delegation of dht., sharing one DNSSEC key
(--dnssec-key), and a real Unbound stubbed to both with the DS from `pweb-node
dnssec ds` as its trust anchor: every answer validates (AD) whichever agent
Unbound asks, for each agent's own devices (the other signs them as remote
answers), for names that do not exist and for missing types."""
import subprocess
import sys
from pathlib import Path

import dns.flags
import dns.rcode
import dns.rdatatype

from cluster import binary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from unbound_resolver import Unbound, describe  # noqa: E402

DEVICES = {
    "uw": {"laptop.alice.uw": "192.0.2.10 2001:db8::10", "phone.alice.uw": "192.0.2.11"},
    "mit": {"desk.bob.mit": "198.51.100.7", "pi.carol.mit": "198.51.100.8 2001:db8::8"},
}
ROUNDS = 3  # each Unbound asks every name this often, from empty caches


def test_two_agents_one_key_validate_whichever_answers(make_cluster, tmp_path):
    key = tmp_path / "zone.key"
    r = subprocess.run([binary(), "dnssec", "keygen", "--out", str(key)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    ds = subprocess.run([binary(), "dnssec", "ds", "--dnssec-key", str(key), "--suffix", "dht."],
                        capture_output=True, text=True, timeout=20)
    assert ds.returncode == 0, ds.stderr
    c = make_cluster()
    nodes = [c.add(label, devs, extra=["--dnssec", "--dnssec-key", str(key)])
             for label, devs in DEVICES.items()]
    c.wait_converged()
    # One Unbound per agent alone (so each agent is certainly the one asked),
    # and one stubbed to both (either answers, the DNSKEY from one and the
    # answer from the other).
    setups = [[n] for n in nodes] + [nodes]
    wrong = []
    for i, servers in enumerate(setups):
        for rnd in range(ROUNDS):
            ub = Unbound(tmp_path / f"unbound-{i}-{rnd}", "dht.",
                         [("127.0.0.1", n.dns) for n in servers], [ds.stdout.strip()]).start()
            try:
                for devs in DEVICES.values():
                    for name, addrs in devs.items():
                        rep = ub.ask(f"{name}.dht.", "A")
                        if rep.rcode() != dns.rcode.NOERROR or not rep.flags & dns.flags.AD \
                                or not any(rrs.rdtype == dns.rdatatype.A for rrs in rep.answer):
                            wrong.append((servers, name, describe(rep), ub.log()))
                for name, rdtype in (("nobody.alice.uw.dht.", "A"),
                                     ("phone.alice.uw.dht.", "AAAA"),
                                     ("nobody.bob.mit.dht.", "A"),
                                     ("desk.bob.mit.dht.", "AAAA")):
                    rep = ub.ask(name, rdtype)
                    if rep.rcode() == dns.rcode.SERVFAIL or not rep.flags & dns.flags.AD:
                        wrong.append((servers, name, describe(rep), ub.log()))
            finally:
                ub.stop()
    assert not wrong, "\n".join(map(str, wrong[:4])) + c.logs()
