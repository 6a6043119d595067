"""ACME DNS-01 with real clients against a DNS server that takes RFC 2136
UPDATE signed with TSIG (hmac-sha256): Pebble as the CA, stock lego
(`--dns rfc2136`) and stock certbot (`python3-certbot-dns-rfc2136`) as
clients, nsupdate/knsupdate/dig for single records.

No pytest here: the module only needs the DNS server's address, its zone, the
device name and a TSIG key, so the same code runs against BIND
(test_acme_bind_probe.py) and against pweb-node (test_acme.py). Everything runs
on 127.0.0.1, in a temporary directory of the caller, every subprocess with a
timeout (its child killed by pid when it overruns); a failure raises
AcmeError carrying the command, its exit status, its whole output and the tail
of Pebble's log.

What each client needs so that nothing leaves loopback, and why (proved
against BIND 9.18, Debian 12: pebble 2.4.0, lego 4.9.1, certbot 2.1.0):

Pebble
  * Debian's `pebble` ships no test certificates (`dpkg -L pebble` lists only
    the binaries, man pages and an example config naming
    test/certs/localhost/*.pem, which is not installed). make_test_ca() makes a
    throwaway CA and a cert for 127.0.0.1/localhost with `openssl`; clients
    trust that CA through REQUESTS_CA_BUNDLE (certbot) / LEGO_CA_CERTIFICATES
    (lego).
  * `-dnsserver 127.0.0.1:PORT`: the VA resolves `_acme-challenge.NAME TXT`
    there (Go resolver, RD set; an authoritative answer with AA is enough).
  * PEBBLE_VA_NOSLEEP=1: no random 0-15 s sleep before each validation.
  * PEBBLE_WFE_NONCEREJECT=0: Pebble otherwise rejects 5% of good nonces on
    purpose; the clients retry, but a deterministic test is easier to read.
  * PEBBLE_AUTHZREUSE=0: never reuse a valid authorization, so every issuance
    really goes through the DNS-01 challenge.
  * httpPort/tlsPort in the config are only where Pebble would connect for
    http-01/tls-alpn-01; nothing listens there and no client is offered those
    (both clients pick dns-01 because that is the only solver they run).
Lego (4.9.1)
  * `--dns rfc2136` with RFC2136_NAMESERVER=HOST:PORT, RFC2136_TSIG_KEY,
    RFC2136_TSIG_SECRET, RFC2136_TSIG_ALGORITHM=hmac-sha256. (the miekg/dns
    constant, with the trailing dot).
  * `--dns.resolvers HOST:PORT`: lego finds the zone to put in the UPDATE by
    SOA queries (walking up from _acme-challenge.NAME, taking the first SOA in
    an ANSWER section) and checks propagation, both through "recursive"
    resolvers: without this flag it asks the system's resolvers (public
    internet). An authoritative server without recursion works.
  * `--dns.disable-cp`: without it lego also looks up the zone's NS names and
    asks each of them on port 53 (ns1.ZONE:53 is not our server), which fails.
    With it lego asks only the resolver above once for the TXT record.
  * RFC2136_PROPAGATION_TIMEOUT/RFC2136_POLLING_INTERVAL small, so a server
    that never serves the TXT fails in seconds instead of 60 s.
  * `--email` is required by lego 4.9 ("You have to pass an account (email
    address)"): it names the account directory; Pebble sends no mail, so a
    placeholder under example.org is used.
Certbot (2.1.0 + dns-rfc2136 2.1.0)
  * credentials INI (mode 0600 or certbot warns): dns_rfc2136_server must be
    an IP address, dns_rfc2136_port, dns_rfc2136_name, dns_rfc2136_secret,
    dns_rfc2136_algorithm = HMAC-SHA256 (the plugin's default is HMAC-MD5).
  * The plugin finds the zone by TSIG-SIGNED SOA queries over TCP (UDP only as
    a fallback when TCP fails), directly to the server, walking up from
    _acme-challenge.NAME: the first name answering NOERROR with the SOA in the
    ANSWER section and AA set is the zone. So the server must answer SOA
    queries that carry the TSIG key (signed answers: BIND signs them; dnspython
    2.3 tolerates an unsigned one but not a bad signature or BADKEY).
  * Its UPDATEs (add, later delete of the one TXT value) go over TCP.
  * --dns-rfc2136-propagation-seconds 1 (default 60: certbot just sleeps).
  * --config-dir/--work-dir/--logs-dir in the temp dir (defaults are /etc and
    /var, root only), --non-interactive --agree-tos
    --register-unsafely-without-email, --server = Pebble's directory URL.
  * XDG_CONFIG_HOME points into the temp dir so no user cli.ini is read.
"""
from __future__ import annotations

import base64
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

PEBBLE_START_TIMEOUT = 20.0
ISSUE_TIMEOUT = 120.0      # one lego or certbot run, issuance included
TOOL_TIMEOUT = 30.0        # nsupdate, knsupdate, dig, openssl
STOP_TIMEOUT = 5.0
TSIG_ALGORITHM = "hmac-sha256"


class AcmeError(AssertionError):
    """A failed step; the message carries everything needed to see why.
    (An AssertionError so pytest shows it as a plain test failure.)"""


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

@dataclass
class Proc:
    cmd: List[str]
    returncode: int          # -9 when killed after the timeout
    output: str              # stdout + stderr, interleaved
    seconds: float
    env_shown: Dict[str, str] = field(default_factory=dict)
    stdin: Optional[str] = None

    def describe(self) -> str:
        env = "".join(f"{k}={v} " for k, v in self.env_shown.items())
        text = f"$ {env}{' '.join(self.cmd)}\n"
        if self.stdin:
            text += "--- stdin ---\n" + self.stdin + ("" if self.stdin.endswith("\n") else "\n")
        status = "killed after timeout" if self.returncode == -9 else f"exit {self.returncode}"
        return text + f"--- output ({status}, {self.seconds:.1f} s) ---\n{self.output}"

    def check(self, what: str, extra: str = "") -> "Proc":
        if self.returncode != 0:
            raise AcmeError(f"{what} failed\n{self.describe()}{extra}")
        return self


def run(cmd: Sequence[str], timeout: float = TOOL_TIMEOUT, env: Optional[Mapping[str, str]] = None,
        env_shown: Optional[Mapping[str, str]] = None, stdin: Optional[str] = None,
        cwd: Optional[Path] = None) -> Proc:
    """Runs cmd in its own session with a timeout; never raises for a
    non-zero exit (see Proc.check)."""
    t0 = time.monotonic()
    p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(env) if env else None,
                         cwd=str(cwd) if cwd else None, start_new_session=True)
    try:
        out, _ = p.communicate(input=stdin.encode() if stdin is not None else None, timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()  # by pid: only the process we started
        out, _ = p.communicate(timeout=STOP_TIMEOUT)
        out += f"\n*** killed after {timeout:.0f} s timeout ***\n".encode()
        rc = -9
    return Proc([str(c) for c in cmd], rc, out.decode("utf-8", "replace"), time.monotonic() - t0,
                dict(env_shown or {}), stdin)


def tool(name: str) -> str:
    """Path of an installed tool (sbin included), or AcmeError naming the package."""
    packages = {"pebble": "pebble", "lego": "lego", "certbot": "certbot python3-certbot-dns-rfc2136",
                "nsupdate": "bind9-dnsutils", "dig": "bind9-dnsutils", "knsupdate": "knot-dnsutils",
                "kdig": "knot-dnsutils", "named": "bind9", "named-checkconf": "bind9", "openssl": "openssl", "knotd": "knot"}
    path = shutil.which(name)
    for d in ("/usr/sbin", "/usr/bin", "/sbin"):
        if path:
            break
        if os.access(os.path.join(d, name), os.X_OK):
            path = os.path.join(d, name)
    if not path:
        raise AcmeError(f"`{name}` is not installed: apt-get install -y {packages.get(name, name)} "
                        f"(scripts/install-deps.sh). Not skipped on purpose.")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for TCP and UDP on host, below the ephemeral range (as
    conftest.free_port does, so client sockets cannot take it meanwhile)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32000)
        socks = []
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AcmeError("no free port in 20000-32000")


def tail(path: Path, limit: int = 6000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return text if len(text) <= limit else "...(cut)...\n" + text[-limit:]


# ---------------------------------------------------------------------------
# The DNS server under test
# ---------------------------------------------------------------------------

@dataclass
class DnsTarget:
    """Where and how to send UPDATEs: the server, its zone (the UPDATE's
    zone section), and one hmac-sha256 TSIG key (name, base64 secret)."""
    host: str
    port: int
    zone: str
    key_name: str
    secret: str
    algorithm: str = TSIG_ALGORITHM

    def __post_init__(self) -> None:
        if not self.zone.endswith("."):
            self.zone += "."

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def with_key(self, key_name: str, secret: str) -> "DnsTarget":
        return DnsTarget(self.host, self.port, self.zone, key_name, secret, self.algorithm)


def new_tsig_secret() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


# ---------------------------------------------------------------------------
# A throwaway CA for Pebble's HTTPS listener
# ---------------------------------------------------------------------------

def make_test_ca(d: Path) -> Tuple[Path, Path, Path]:
    """(ca.pem, cert.pem, key.pem): a P-256 CA valid 2 days and a leaf for
    127.0.0.1 and localhost signed by it. Debian's pebble has no test certs."""
    d.mkdir(parents=True, exist_ok=True)
    ossl = tool("openssl")
    ca_key, ca_pem = d / "ca.key", d / "ca.pem"
    key, csr, cert, ext = d / "key.pem", d / "leaf.csr", d / "cert.pem", d / "leaf.ext"
    run([ossl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", "/CN=pweb e2e Pebble listener CA", "-keyout", ca_key, "-out", ca_pem]
        ).check("openssl: making the test CA")
    run([ossl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=localhost", "-keyout", key, "-out", csr]).check("openssl: making the listener key")
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run([ossl, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial",
         "-days", "2", "-extfile", ext, "-out", cert]).check("openssl: signing the listener cert")
    return ca_pem, cert, key


# ---------------------------------------------------------------------------
# Pebble
# ---------------------------------------------------------------------------

class Pebble:
    """`pebble -config CONF -dnsserver HOST:PORT` on free loopback ports.
    Use as a context manager, or start()/stop()."""

    def __init__(self, work: Path, dns_host: str, dns_port: int):
        self.work = Path(work) / "pebble"
        self.dns = f"{dns_host}:{dns_port}"
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.work / "pebble.log"
        self.ca_bundle = self.work / "certs" / "ca.pem"
        self.port = 0
        self.mgmt_port = 0
        self.cmd: List[str] = []
        self.env: Dict[str, str] = {}

    @property
    def directory_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/dir"

    def log_tail(self, limit: int = 6000) -> str:
        return tail(self.log_path, limit)

    def __enter__(self) -> "Pebble":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "Pebble":
        exe = tool("pebble")
        self.work.mkdir(parents=True, exist_ok=True)
        ca, cert, key = make_test_ca(self.work / "certs")
        last = ""
        for attempt in range(3):  # retried only when it exits (a port taken meanwhile)
            self.port, self.mgmt_port = free_port(), free_port()
            conf = self.work / "pebble-config.json"
            conf.write_text(json.dumps({"pebble": {
                "listenAddress": f"127.0.0.1:{self.port}",
                "managementListenAddress": f"127.0.0.1:{self.mgmt_port}",
                "certificate": str(cert),
                "privateKey": str(key),
                # where Pebble would connect for http-01 / tls-alpn-01; unused
                "httpPort": free_port(),
                "tlsPort": free_port(),
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False,
            }}, indent=2))
            self.cmd = [exe, "-config", str(conf), "-dnsserver", self.dns]
            self.env = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
            env = {k: v for k, v in os.environ.items() if not k.startswith("PEBBLE_")}
            env.update(self.env)
            with open(self.log_path, "ab") as logf:
                logf.write(f"=== attempt {attempt + 1}: {' '.join(self.cmd)}\n".encode())
                logf.flush()
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                             stderr=subprocess.STDOUT, env=env, cwd=str(self.work),
                                             start_new_session=True)
            try:
                self._wait_ready()
                return self
            except AcmeError as e:
                last = str(e)
                exited = self.proc.poll() is not None
                self.stop()
                if not exited:
                    break
        raise AcmeError(f"Pebble did not start: {last}\n$ {' '.join(self.cmd)}\n--- pebble log ---\n"
                        f"{self.log_tail()}")

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def get_json(self, url: str, timeout: float = 5.0):
        with urllib.request.urlopen(url, context=self._ssl_context(), timeout=timeout) as r:
            return json.loads(r.read())

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + PEBBLE_START_TIMEOUT
        last = ""
        for _ in range(1000):  # bounded by the deadline too
            if self.proc.poll() is not None:
                raise AcmeError(f"pebble exited with status {self.proc.returncode} during start-up")
            if time.monotonic() > deadline:
                raise AcmeError(f"no ACME directory at {self.directory_url} within "
                                f"{PEBBLE_START_TIMEOUT:.0f} s ({last})")
            try:
                d = self.get_json(self.directory_url, timeout=1.0)
                if "newOrder" in d:
                    return
                last = f"directory without newOrder: {d}"
            except (OSError, ValueError) as e:
                last = str(e)
            time.sleep(0.1)
        raise AcmeError("readiness loop exhausted")

    def root_pem(self) -> str:
        """The root that issued the leaf certs (fresh per Pebble run)."""
        url = f"https://127.0.0.1:{self.mgmt_port}/roots/0"
        with urllib.request.urlopen(url, context=self._ssl_context(), timeout=5.0) as r:
            return r.read().decode()

    def stop(self) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
            except ProcessLookupError:
                pass
        return self.proc.returncode


# ---------------------------------------------------------------------------
# Issuance
# ---------------------------------------------------------------------------

@dataclass
class Issued:
    client: str
    cert_path: Path           # leaf first, then the chain (PEM)
    seconds: float
    proc: Proc


def _base_env(home: Path) -> Dict[str, str]:
    """A minimal environment: PATH and a private HOME/XDG dirs, no proxies
    (nothing may leave loopback), no inherited client settings."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"), "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"), "LANG": "C.UTF-8", "TZ": "UTC"}


def lego_command(pebble: Pebble, target: DnsTarget, name: str, path: Path) -> Tuple[List[str], Dict[str, str]]:
    """The lego command line and the environment it needs (see the module
    docstring for why each flag is there)."""
    env = {
        "LEGO_CA_CERTIFICATES": str(pebble.ca_bundle),
        "RFC2136_NAMESERVER": target.hostport,
        "RFC2136_TSIG_KEY": target.key_name,
        "RFC2136_TSIG_SECRET": target.secret,
        "RFC2136_TSIG_ALGORITHM": target.algorithm + ".",
        "RFC2136_PROPAGATION_TIMEOUT": "20",
        "RFC2136_POLLING_INTERVAL": "1",
        "RFC2136_TTL": "60",
        "RFC2136_DNS_TIMEOUT": "10",
    }
    cmd = [tool("lego"), "--server", pebble.directory_url, "--accept-tos", "--email", "acme-e2e@example.org",
           "--path", str(path),
           "--domains", name.rstrip("."), "--dns", "rfc2136",
           "--dns.resolvers", target.hostport, "--dns.disable-cp", "--dns-timeout", "5",
           "--cert.timeout", "30", "--key-type", "ec256", "run"]
    return cmd, env


def lego_obtain(pebble: Pebble, target: DnsTarget, name: str, work: Path,
                timeout: float = ISSUE_TIMEOUT) -> Issued:
    """Stock lego, `--dns rfc2136`; returns the issued certificate."""
    work = Path(work) / "lego"
    cmd, env_shown = lego_command(pebble, target, name, work / "data")
    env = _base_env(work / "home")
    env.update(env_shown)
    p = run(cmd, timeout=timeout, env=env, env_shown=env_shown, cwd=work)
    cert = work / "data" / "certificates" / f"{name.rstrip('.')}.crt"
    extra = f"\n--- pebble log ---\n{pebble.log_tail()}"
    p.check("lego run", extra)
    if not cert.is_file():
        raise AcmeError(f"lego exited 0 but {cert} is missing\n{p.describe()}{extra}")
    return Issued("lego", cert, p.seconds, p)


def certbot_credentials(target: DnsTarget, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"dns_rfc2136_server = {target.host}\n"
                f"dns_rfc2136_port = {target.port}\n"
                f"dns_rfc2136_name = {fqdn(target.key_name)}\n"
                f"dns_rfc2136_secret = {target.secret}\n"
                f"dns_rfc2136_algorithm = {target.algorithm.upper()}\n")
    os.chmod(path, 0o600)  # certbot warns about a credentials file others can read
    return path


def certbot_command(pebble: Pebble, name: str, work: Path, creds: Path) -> Tuple[List[str], Dict[str, str]]:
    cmd = [tool("certbot"), "certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email",
           "--server", pebble.directory_url,
           "--config-dir", str(work / "config"), "--work-dir", str(work / "work"), "--logs-dir", str(work / "logs"),
           "--authenticator", "dns-rfc2136", "--dns-rfc2136-credentials", str(creds),
           "--dns-rfc2136-propagation-seconds", "1",
           "--key-type", "ecdsa", "--no-autorenew", "--domain", name.rstrip(".")]
    return cmd, {"REQUESTS_CA_BUNDLE": str(pebble.ca_bundle)}


def certbot_obtain(pebble: Pebble, target: DnsTarget, name: str, work: Path,
                   timeout: float = ISSUE_TIMEOUT) -> Issued:
    """Stock certbot with the dns-rfc2136 plugin; returns the issued cert."""
    work = Path(work) / "certbot"
    creds = certbot_credentials(target, work / "rfc2136.ini")
    cmd, env_shown = certbot_command(pebble, name, work, creds)
    env = _base_env(work / "home")
    env.update(env_shown)
    p = run(cmd, timeout=timeout, env=env, env_shown=env_shown, cwd=work)
    logs = tail(work / "logs" / "letsencrypt.log", 12000)
    extra = (f"\n--- credentials ({creds}) ---\n{creds.read_text()}--- certbot letsencrypt.log ---\n{logs}"
             f"\n--- pebble log ---\n{pebble.log_tail()}")
    p.check("certbot certonly", extra)
    cert = work / "config" / "live" / name.rstrip(".") / "fullchain.pem"
    if not cert.is_file():
        raise AcmeError(f"certbot exited 0 but {cert} is missing\n{p.describe()}{extra}")
    return Issued("certbot", cert, p.seconds, p)


# ---------------------------------------------------------------------------
# Checking a certificate
# ---------------------------------------------------------------------------

def cert_sans(cert: Path) -> List[str]:
    """DNS names in the first certificate's subjectAltName (openssl x509)."""
    p = run([tool("openssl"), "x509", "-in", cert, "-noout", "-ext", "subjectAltName"]).check(
        f"openssl x509 -ext subjectAltName {cert}")
    return sorted(m.group(1) for m in re.finditer(r"DNS:([^,\s]+)", p.output))


def assert_cert_for(issued: Issued, name: str, pebble: Optional[Pebble] = None) -> None:
    """The leaf's SAN is exactly the device name; with `pebble`, the chain
    verifies up to this Pebble's root (so it was issued here, just now)."""
    want = [name.rstrip(".")]
    got = cert_sans(issued.cert_path)
    if got != want:
        text = run([tool("openssl"), "x509", "-in", issued.cert_path, "-noout", "-text"]).output
        raise AcmeError(f"{issued.client}: certificate SAN {got}, want {want}\n{text}")
    if pebble is not None:
        root = issued.cert_path.parent / "pebble-root.pem"
        root.write_text(pebble.root_pem())
        # lego's .crt and certbot's fullchain.pem both hold leaf + intermediate
        p = run([tool("openssl"), "verify", "-CAfile", root, "-untrusted", issued.cert_path,
                 issued.cert_path])
        p.check(f"{issued.client}: openssl verify against Pebble's root")


# ---------------------------------------------------------------------------
# Single records: nsupdate, knsupdate, dig
# ---------------------------------------------------------------------------

def txt_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def nsupdate(target: DnsTarget, updates: Sequence[str], tcp: bool = False, timeout: float = TOOL_TIMEOUT) -> Proc:
    """`nsupdate -y hmac-sha256:NAME:SECRET` with `server`, `zone`, the
    update lines (e.g. 'update add N 60 TXT "x"') and one `send`. Exit 0 =
    NOERROR; otherwise the output says e.g. 'update failed: REFUSED'."""
    script = [f"server {target.host} {target.port}", f"zone {target.zone}", *updates, "send", ""]
    cmd = [tool("nsupdate"), "-y", f"{target.algorithm}:{target.key_name}:{target.secret}", "-t", "10"]
    if tcp:
        cmd.append("-v")
    return run(cmd, timeout=timeout, stdin="\n".join(script))


def knsupdate(target: DnsTarget, updates: Sequence[str], timeout: float = TOOL_TIMEOUT) -> Proc:
    """The same with Knot's `knsupdate -y ALG:NAME:SECRET`."""
    script = [f"server {target.host} {target.port}", f"zone {target.zone}", *updates, "send", "quit", ""]
    cmd = [tool("knsupdate"), "-y", f"{target.algorithm}:{target.key_name}:{target.secret}", "-t", "10"]
    return run(cmd, timeout=timeout, stdin="\n".join(script))


def update_rcode(p: Proc) -> str:
    """NOERROR for exit 0, else the rcode word the tool printed (REFUSED,
    NOTAUTH, ...), else 'FAILED'. nsupdate: 'update failed: REFUSED';
    knsupdate: 'update failed with error 'REFUSED''; TSIG errors as
    'NOTAUTH(BADSIG)' or 'BADSIG'."""
    if p.returncode == 0:
        return "NOERROR"
    for word in ("BADSIG", "BADKEY", "BADTIME", "NOTAUTH", "REFUSED", "NOTZONE", "FORMERR", "SERVFAIL",
                 "YXDOMAIN", "YXRRSET", "NXRRSET", "NXDOMAIN"):
        if re.search(r"\b" + word + r"\b", p.output, re.IGNORECASE):
            return word
    return "FAILED"


def dig(host: str, port: int, name: str, rdtype: str, tcp: bool = False) -> Tuple[str, List[str]]:
    """(status, rdata texts of type rdtype in the ANSWER) from `dig +norec`;
    TXT rdata is given as its strings joined, unquoted."""
    cmd = [tool("dig"), f"@{host}", "-p", str(port), "+norec", "+time=2", "+tries=1", fqdn(name), rdtype]
    if tcp:
        cmd.append("+tcp")
    p = run(cmd)
    m = re.search(r"status:\s*(\w+)", p.output)
    if p.returncode != 0 or not m:
        raise AcmeError(f"dig failed\n{p.describe()}")
    values = []
    in_answer = False
    for line in p.output.splitlines():
        if line.startswith(";; ANSWER SECTION"):
            in_answer = True
            continue
        if in_answer and not line.strip():
            break
        if in_answer and not line.startswith(";"):
            parts = line.split(None, 4)
            if len(parts) == 5 and parts[3] == rdtype:
                if rdtype == "TXT":
                    values.append("".join(re.findall(r'"((?:[^"\\]|\\.)*)"', parts[4])))
                else:
                    values.append(parts[4].strip())
    return m.group(1), values


def dig_txt(host: str, port: int, name: str, tcp: bool = False) -> Tuple[str, List[str]]:
    return dig(host, port, name, "TXT", tcp)


def dig_soa_status(port: int, zone: str, host: str = "127.0.0.1") -> Tuple[Optional[str], List[str]]:
    """(status or None when dig got no answer, SOA rdata) - a readiness probe."""
    try:
        return dig(host, port, zone, "SOA")
    except AcmeError:
        return None, []


def expect_update(p: Proc, want: Sequence[str], what: str) -> None:
    """`want` lists the acceptable rcodes (e.g. ['REFUSED', 'NOTAUTH'])."""
    got = update_rcode(p)
    if got not in want:
        raise AcmeError(f"{what}: expected {' or '.join(want)}, got {got}\n{p.describe()}")


def txt_roundtrip(target: DnsTarget, name: str, client: str = "nsupdate") -> None:
    """Adds a TXT at `name` with nsupdate or knsupdate, checks it with dig,
    deletes it, checks it is gone (NXDOMAIN or NODATA)."""
    send = nsupdate if client == "nsupdate" else knsupdate
    value = f"{client}-{secrets.token_hex(6)}"
    p = send(target, [f"update add {fqdn(name)} 60 TXT {txt_quote(value)}"])
    expect_update(p, ["NOERROR"], f"{client}: add TXT at {name}")
    status, values = dig_txt(target.host, target.port, name)
    if status != "NOERROR" or value not in values:
        raise AcmeError(f"after {client} add: dig {name} TXT -> {status} {values}, want {value!r}\n{p.describe()}")
    p = send(target, [f"update delete {fqdn(name)} TXT {txt_quote(value)}"])
    expect_update(p, ["NOERROR"], f"{client}: delete TXT at {name}")
    status, values = dig_txt(target.host, target.port, name)
    if value in values:
        raise AcmeError(f"after {client} delete: dig {name} TXT still has {value!r} ({status} {values})")


def assert_unchanged(target: DnsTarget, name: str, value: str) -> None:
    status, values = dig_txt(target.host, target.port, name)
    if value in values:
        raise AcmeError(f"a refused update changed the zone: {name} TXT has {value!r} ({status})")


def scope_negatives(target: DnsTarget, device: str, other_device: str) -> None:
    """What an `acme` key may NOT do, each answered with an error and nothing
    changed: an A at the device, a TXT at the device itself, a TXT at another
    device's _acme-challenge; and the right name with a wrong secret or an
    unknown key name. The accepted rcodes: REFUSED (RFC 2136 3.3: not
    permitted) or NOTAUTH; for TSIG failures NOTAUTH with BADSIG/BADKEY
    (RFC 8945 5.2)."""
    tag = secrets.token_hex(4)
    challenge = "_acme-challenge." + fqdn(device)
    cases = [
        ("A at the device", target, [f"update add {fqdn(device)} 60 A 198.51.100.{int(tag[:2], 16) % 250 + 1}"],
         ["REFUSED", "NOTAUTH"], (device, "A", None)),
        ("TXT at the device itself", target, [f"update add {fqdn(device)} 60 TXT \"neg-{tag}\""],
         ["REFUSED", "NOTAUTH"], (device, "TXT", f"neg-{tag}")),
        ("TXT at another device", target,
         [f"update add _acme-challenge.{fqdn(other_device)} 60 TXT \"neg-{tag}\""],
         ["REFUSED", "NOTAUTH"], ("_acme-challenge." + fqdn(other_device), "TXT", f"neg-{tag}")),
        ("wrong secret", target.with_key(target.key_name, new_tsig_secret()),
         [f"update add {challenge} 60 TXT \"bad-{tag}\""], ["BADSIG", "NOTAUTH"], (challenge, "TXT", f"bad-{tag}")),
        ("unknown key name", target.with_key("no-such-key-" + tag, target.secret),
         [f"update add {challenge} 60 TXT \"unk-{tag}\""], ["BADKEY", "NOTAUTH"], (challenge, "TXT", f"unk-{tag}")),
    ]
    for what, tgt, updates, want, (name, rdtype, value) in cases:
        before = dig(target.host, target.port, name, rdtype)
        for send in (nsupdate, knsupdate):
            p = send(tgt, updates)
            expect_update(p, want, f"{send.__name__}: {what}")
        after = dig(target.host, target.port, name, rdtype)
        if after != before or (value is not None and value in after[1]):
            raise AcmeError(f"{what}: refused update changed {name} {rdtype}: before {before}, after {after}")
