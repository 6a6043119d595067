"""A real Unbound validating resolver on a loopback port, stubbed to pweb-node(s),
with the zone's DS as its only trust anchor. Used by the DNSSEC tests (e2e and
integration). Missing unbound is a failure, not a skip: CI installs it."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Sequence, Tuple

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

START_TIMEOUT = 10.0


def unbound_binary() -> str:
    path = shutil.which("unbound") or "/usr/sbin/unbound"
    if not Path(path).exists():
        pytest.fail("unbound is missing (Debian package unbound, in scripts/install-deps.sh)",
                    pytrace=False)
    return path


def _free_udp_tcp_port() -> int:
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port for unbound")


class Unbound:
    """`zone` stubbed to `servers` ((host, port) pairs), anchored by `ds_lines`.
    `upstream`: how Unbound asks them: "udp" (falling back to TCP as resolvers
    do), "tcp" (TCP only), or "tls" (DNS over TLS, RFC 7858, checking the
    servers' certificate against `tls_bundle` for the name `tls_name`)."""

    def __init__(self, workdir: Path, zone: str, servers: Sequence[Tuple[str, int]],
                 ds_lines: Sequence[str], upstream: str = "udp", tls_bundle: Path = None,
                 tls_name: str = ""):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.zone = zone
        self.port = _free_udp_tcp_port()
        anchors = "".join(f'  trust-anchor: "{d.strip()}"\n' for d in ds_lines)
        auth = f"#{tls_name}" if upstream == "tls" else ""
        stubs = "".join(f"  stub-addr: {h}@{p}{auth}\n" for h, p in servers)
        if upstream == "tls":
            stubs += "  stub-tls-upstream: yes\n"
        transport = {"udp": "", "tcp": "  tcp-upstream: yes\n",
                     "tls": f'  tls-cert-bundle: "{tls_bundle}"\n'}[upstream]
        self.conf = self.dir / "unbound.conf"
        self.conf.write_text(f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "{self.dir}"
  pidfile: "{self.dir}/unbound.pid"
  logfile: "{self.dir}/unbound.log"
  use-syslog: no
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  qname-minimisation: no
  prefetch: no
  target-fetch-policy: "0 0 0 0 0"
  ede: yes
{transport}{anchors}
remote-control:
  control-enable: no

stub-zone:
  name: "{zone}"
{stubs}""")
        self.proc = None

    def start(self) -> "Unbound":
        binary = unbound_binary()
        check = subprocess.run([binary + "-checkconf", str(self.conf)], capture_output=True,
                               text=True, timeout=10)
        if check.returncode != 0:
            pytest.fail(f"unbound-checkconf refused the config: {check.stdout}{check.stderr}",
                        pytrace=False)
        self.proc = subprocess.Popen([binary, "-d", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"unbound exited ({self.proc.returncode}):\n{self.log()}",
                            pytrace=False)
            try:
                # Any answer at all (a name outside the stub) says it listens.
                q = dns.message.make_query("version.bind.", "TXT", "CH")
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.5)
                return self
            except Exception:
                time.sleep(0.1)
        pytest.fail(f"unbound did not answer within {START_TIMEOUT}s:\n{self.log()}",
                    pytrace=False)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        p = self.dir / "unbound.log"
        return p.read_text(errors="replace")[-6000:] if p.exists() else "(no unbound log)"

    def ask(self, name: str, rdtype: str, timeout: float = 8.0) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype, want_dnssec=True)
        return dns.query.udp(q, "127.0.0.1", port=self.port, timeout=timeout)


def validated(rep: dns.message.Message) -> bool:
    return bool(rep.flags & dns.flags.AD) and rep.rcode() in (dns.rcode.NOERROR,
                                                               dns.rcode.NXDOMAIN)


def describe(rep: dns.message.Message) -> str:
    return f"rcode={dns.rcode.to_text(rep.rcode())} flags={dns.flags.to_text(rep.flags)}\n{rep}"
