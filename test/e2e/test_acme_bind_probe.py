"""THROWAWAY PROBE (may be deleted once test_acme.py passes against pweb-node):
proves the ACME DNS-01 harness in acme.py against a reference RFC 2136 server,
BIND 9 (`named` from Debian's bind9), before pweb-node speaks RFC 2136.

named runs as whoever runs pytest (no -u, every file in tmp_path) on a free
loopback port with zone dyn.example.org. and one hmac-sha256 TSIG key whose
update-policy allows exactly TXT at _acme-challenge.laptop.alice.uw.dyn.example.org.
(what an `acme` device token allows on pweb-node). Pebble uses named for
DNS-01; lego and certbot each get a certificate for
laptop.alice.uw.dyn.example.org. The negative checks that test_acme.py makes
against the node run here too, so their expected rcodes come from BIND.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import acme

ZONE = "dyn.example.org."
DEVICE = "laptop.alice.uw"
NAME = f"{DEVICE}.{ZONE}"
CHALLENGE = f"_acme-challenge.{NAME}"
KEY = "acme-laptop"          # on pweb-node: the token id


class Named:
    def __init__(self, work: Path, secret: str):
        self.dir = work / "bind"
        self.dir.mkdir(parents=True)
        self.secret = secret
        self.port = 0
        self.proc = None
        self.cmd = []
        self.log_path = self.dir / "named.log"

    def _write(self) -> Path:
        (self.dir / "zone.db").write_text(f"""$ORIGIN {ZONE}
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 127.0.0.1
{DEVICE} IN A 192.0.2.10
desktop.alice.uw IN A 192.0.2.11
""")
        d = self.dir
        conf = d / "named.conf"
        conf.write_text(f"""
options {{
    directory "{d}";
    listen-on port {self.port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    recursion no;
    dnssec-validation no;
    notify no;
    querylog yes;
}};
controls {{ }};
logging {{
    channel f {{ file "{d}/named-internal.log"; severity info; print-time yes; }};
    category default {{ f; }};
    category update {{ f; }};
    category update-security {{ f; }};
    category security {{ f; }};
    category queries {{ f; }};
}};
key "{KEY}" {{ algorithm hmac-sha256; secret "{self.secret}"; }};
zone "{ZONE.rstrip('.')}" {{
    type primary;
    file "{d}/zone.db";
    journal "{d}/zone.db.jnl";
    update-policy {{ grant {KEY} name {CHALLENGE} TXT; }};
}};
""")
        chk = acme.run([acme.tool("named-checkconf"), conf])
        chk.check("named-checkconf")
        return conf

    def start(self) -> "Named":
        exe = acme.tool("named")
        for attempt in range(3):
            self.port = acme.free_port()
            conf = self._write()
            self.cmd = [exe, "-f", "-c", str(conf), "-n", "1", "-4"]
            with open(self.log_path, "ab") as logf:
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                status, _ = acme.dig_soa_status(self.port, ZONE)
                if status == "NOERROR":
                    return self
                time.sleep(0.1)
            self.stop()
        raise acme.AcmeError(f"named did not start\n$ {' '.join(self.cmd)}\n{acme.tail(self.log_path)}\n"
                             f"{acme.tail(self.dir / 'named-internal.log')}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)

    def logs(self) -> str:
        return acme.tail(self.dir / "named-internal.log", 6000)


@pytest.fixture(scope="module")
def bind(tmp_path_factory):
    work = tmp_path_factory.mktemp("acme-bind")
    n = Named(work, acme.new_tsig_secret()).start()
    yield n
    n.stop()


@pytest.fixture(scope="module")
def target(bind):
    return acme.DnsTarget("127.0.0.1", bind.port, ZONE, KEY, bind.secret)


@pytest.fixture(scope="module")
def pebble(bind, tmp_path_factory):
    with acme.Pebble(tmp_path_factory.mktemp("pebble"), "127.0.0.1", bind.port) as p:
        yield p


def _with_logs(bind, pebble, fn):
    try:
        return fn()
    except acme.AcmeError as e:
        raise acme.AcmeError(f"{e}\n--- named log ---\n{bind.logs()}") from None


def test_lego_issues_against_bind(bind, target, pebble, tmp_path):
    issued = _with_logs(bind, pebble, lambda: acme.lego_obtain(pebble, target, NAME, tmp_path))
    acme.assert_cert_for(issued, NAME, pebble)
    print(f"\nlego issued {issued.cert_path} in {issued.seconds:.1f} s\n{issued.proc.describe()}")


def test_certbot_issues_against_bind(bind, target, pebble, tmp_path):
    issued = _with_logs(bind, pebble, lambda: acme.certbot_obtain(pebble, target, NAME, tmp_path))
    acme.assert_cert_for(issued, NAME, pebble)
    print(f"\ncertbot issued {issued.cert_path} in {issued.seconds:.1f} s\n{issued.proc.describe()}")


@pytest.mark.parametrize("client", ["nsupdate", "knsupdate"])
def test_txt_roundtrip_bind(target, client):
    acme.txt_roundtrip(target, CHALLENGE, client)


def test_scope_negatives_bind(target):
    acme.scope_negatives(target, NAME, f"desktop.alice.uw.{ZONE}")
