"""A cluster of real pweb-node processes on loopback for the integration tests.

Every node gets free ports (DNS UDP+TCP, HTTP, gateway TCP, DHT UDP), its own
data dir and log; node 0 starts first and the others bootstrap from it, all in
a private random --network-id. A node can be killed (SIGKILL), frozen
(SIGSTOP), stopped (SIGTERM) and restarted on the same ports and data dir.
Every wait is bounded; every process dies with the test (and, through
PR_SET_PDEATHSIG, with pytest itself if that is killed).

Devices are given as {"dev.user.label": "IPV4 [IPV6]"}, with "-" for a
missing IPv4 (the `pweb-node device import` format).
"""
from __future__ import annotations

import base64
import concurrent.futures
import ctypes
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import dns.exception
import dns.message
import dns.query
import dns.rcode

DEFAULT_BIN = "/tmp/pweb-bin/pweb-node"
READY_TIMEOUT = 15.0     # start to `event=ready`
STOP_TIMEOUT = 10.0      # SIGTERM to exit, then SIGKILL
ADMIN_TIMEOUT = 30.0     # `pweb-node device import` / `user add`
DIG_TIMEOUT = 3          # dig +time (one try)
HTTP_TIMEOUT = 10.0

# Every process any cluster started, for the end-of-session leak check.
STARTED: List[subprocess.Popen] = []


def binary() -> str:
    path = os.environ.get("PWEB_NODE", DEFAULT_BIN)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"pweb-node not found or not executable at {path!r}: build it or "
                             f"set PWEB_NODE")
    return path


_taken: set = set()


def free_port() -> int:
    """Free for TCP and UDP on 127.0.0.1, below the ephemeral range (so our own
    client sockets cannot take it before the node binds it)."""
    rng = random.Random()
    for _ in range(500):
        port = rng.randint(20000, 32000)
        if port in _taken:
            continue
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        _taken.add(port)
        return port
    raise RuntimeError("no free port")


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL when pytest dies (PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)
    except OSError:
        pass


def v4_of(addrs: str) -> Optional[str]:
    a = addrs.split()[0]
    return None if a == "-" else a


def v6_of(addrs: str) -> Optional[str]:
    parts = addrs.split()
    return parts[1] if len(parts) > 1 and parts[1] != "-" else None


# ---------------------------------------------------------------------------
# dig
# ---------------------------------------------------------------------------

_STATUS = re.compile(r"->>HEADER<<-.*status:\s*(\w+)")
_FLAGS = re.compile(r"^;; flags:([a-z ]*);")


class Dig:
    """One real `dig` run: status, flags, answer records of the asked type."""

    def __init__(self, cmd: List[str], rc: int, text: str, rdtype: str):
        self.cmd, self.rc, self.text = cmd, rc, text
        m = _STATUS.search(text)
        self.status = m.group(1) if m else None
        self.flags = set()
        for line in text.splitlines():
            fm = _FLAGS.match(line)
            if fm:
                self.flags = set(fm.group(1).split())
        self.answers: List[Tuple[int, str]] = []  # (ttl, address)
        for line in text.splitlines():
            f = line.split()
            if len(f) == 5 and not line.startswith(";") and f[3] == rdtype:
                self.answers.append((int(f[1]), f[4]))

    @property
    def addresses(self) -> List[str]:
        return sorted(a for _, a in self.answers)

    @property
    def result(self) -> Tuple[Optional[str], List[str]]:
        return self.status, self.addresses

    def __repr__(self) -> str:
        return f"<{' '.join(self.cmd)} -> rc={self.rc}\n{self.text}>"


def dig(port: int, name: str, rdtype: str = "A", tcp: bool = False) -> Dig:
    cmd = ["dig", f"+time={DIG_TIMEOUT}", "+tries=1", "+norecurse", "@127.0.0.1", "-p", str(port),
           name, rdtype, "+noall", "+comments", "+answer"]
    if tcp:
        cmd.append("+tcp")
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=DIG_TIMEOUT + 10)
    d = Dig(cmd, out.returncode, out.stdout + out.stderr, rdtype)
    assert out.returncode == 0 and d.status, f"dig got no answer: {d!r}"
    return d


# ---------------------------------------------------------------------------
# One node
# ---------------------------------------------------------------------------

class Node:
    def __init__(self, cluster: "Cluster", index: int, label: Optional[str],
                 devices: Dict[str, str], users: Dict[str, str], extra: Sequence[str] = (),
                 data: Optional[Path] = None):
        self.cluster = cluster
        self.index = index
        self.label = label
        self.name = f"n{index}-{label or 'gateway'}"
        self.devices = dict(devices)
        self.users = dict(users)
        self.extra = list(extra)
        self.dir = cluster.root / self.name
        self.data = data or self.dir / "data"
        self.log = self.dir / "node.log"
        self.dns = free_port()
        self.http = free_port()
        self.gateway = free_port()
        self.dht = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.cmd: List[str] = []
        self.dir.mkdir(parents=True)
        if devices:
            self.import_devices(devices, "devices.txt")
        for user, password in users.items():
            self.admin(["user", "add", user, "--password-stdin"], password + "\n")

    # -- admin commands (only while the node is stopped) ------------------------
    def admin(self, args: List[str], stdin: str = "") -> None:
        cmd = [binary(), *args, "--data-dir", str(self.data)]
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=ADMIN_TIMEOUT)
        assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}"

    def import_devices(self, devices: Dict[str, str], file_name: str) -> None:
        f = self.dir / file_name
        f.write_text("".join(f"{n} {a}\n" for n, a in devices.items()))
        self.admin(["device", "import", str(f)])

    # -- process -------------------------------------------------------------------
    @property
    def gateway_addr(self) -> str:
        return f"127.0.0.1:{self.gateway}"

    def command(self, bootstrap: Optional[int]) -> List[str]:
        c = self.cluster
        cmd = [binary(), "--data-dir", str(self.data),
               "--dns-listen", f"127.0.0.1:{self.dns}", "--http-listen", f"127.0.0.1:{self.http}",
               "--threads", "1", "--ttl", str(c.ttl), "--timeout", str(c.timeout),
               "--log-level", "info"]
        if self.label:
            cmd += ["--label", self.label, "--gateway-listen", self.gateway_addr,
                    "--dht-port", str(self.dht), "--network-id", str(c.network_id),
                    "--identity-bits", "2048"]
            if bootstrap:
                cmd += ["--bootstrap", f"127.0.0.1:{bootstrap}"]
        return cmd + self.extra

    def start(self, wait: bool = True) -> "Node":
        """Starts (or restarts) on the same ports and data dir, bootstrapping
        from the first other live agent (node 0 while it lives)."""
        assert not self.alive(), f"{self.name} is running already"
        self.cmd = self.command(self.cluster.bootstrap_for(self))
        with open(self.log, "ab") as log:
            log.write(f"=== {time.strftime('%H:%M:%S')} {' '.join(self.cmd)}\n".encode())
            log.flush()
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         preexec_fn=_die_with_parent)
        STARTED.append(self.proc)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        """Until this run's log says `event=ready` (bounded)."""
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode} during "
                                     f"start-up:\n{self.tail()}")
            if b"event=ready" in self.log.read_bytes()[self._log_offset:]:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready within {READY_TIMEOUT} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL (also a frozen process), by pid."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP, and wait until every thread of it is stopped (bounded)."""
        self.proc.send_signal(signal.SIGSTOP)
        deadline = time.monotonic() + 5
        states: List[str] = []
        while time.monotonic() < deadline:
            states = []
            for stat in Path(f"/proc/{self.proc.pid}/task").glob("*/stat"):
                try:
                    states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
                except (OSError, IndexError):
                    pass
            if states and all(s in ("T", "t") for s in states):
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.name} not stopped 5 s after SIGSTOP: thread states {states}")

    def thaw(self) -> None:
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> Optional[int]:
        """SIGTERM; SIGKILL if it has not exited within STOP_TIMEOUT. Returns
        the exit code, None if it had to be killed."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log.read_bytes().decode(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, n: int = 4000) -> str:
        t = self.log_text()
        return t if len(t) <= n else "...(cut)...\n" + t[-n:]

    # -- clients ----------------------------------------------------------
    def dig(self, name: str, rdtype: str = "A", tcp: bool = False) -> Dig:
        return dig(self.dns, name, rdtype, tcp)

    def ask(self, name: str, rdtype="A", tcp: bool = False, timeout: float = 5.0) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(q, "127.0.0.1", port=self.dns, timeout=timeout)

    def address(self, name: str, rdtype="A", tcp: bool = False, timeout: float = 5.0):
        """(rcode text, sorted addresses); ("TIMEOUT", []) if no reply in `timeout`."""
        try:
            r = self.ask(name, rdtype, tcp, timeout)
        except dns.exception.Timeout:
            return "TIMEOUT", []
        addrs = sorted(rd.address for rrset in r.answer for rd in rrset)
        return dns.rcode.to_text(r.rcode()), addrs

    def timed_address(self, name: str, rdtype="A", timeout: float = 5.0):
        """((rcode text, addresses), seconds it took)."""
        t0 = time.monotonic()
        got = self.address(name, rdtype, timeout=timeout)
        return got, time.monotonic() - t0

    def get(self, path: str, auth: Optional[Tuple[str, str]] = None, json_body: bool = True):
        """(status, parsed JSON body or text)"""
        # --tls-cert makes the API HTTPS; the tests' own certificates are not checked here.
        https = "--tls-cert" in self.extra
        req = urllib.request.Request(f"{'https' if https else 'http'}://127.0.0.1:{self.http}{path}")
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        try:
            ctx = ssl._create_unverified_context() if https else None
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT, context=ctx) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if not json_body:
            return status, body.decode(errors="replace")
        try:
            return status, json.loads(body or b"{}")
        except ValueError:
            raise AssertionError(f"GET {path} -> {status}: not JSON: {body[:500]!r}") from None

    def metric(self, name: str, labels: str = "") -> Optional[float]:
        """The value of `name{labels}` (`name` alone if no labels) on /metrics;
        None if it is not there."""
        status, text = self.get("/metrics", json_body=False)
        assert status == 200, status
        sample = f"{name}{{{labels}}}" if labels else name
        m = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def nic_update(self, user: str, hostname: str, myip: str) -> Tuple[int, str]:
        q = urllib.parse.urlencode({"hostname": hostname, "myip": myip})
        return self.get(f"/nic/update?{q}", auth=(user, self.users[user]), json_body=False)

    def __repr__(self) -> str:
        return f"<{self.name} dns={self.dns} alive={self.alive()}>"


# ---------------------------------------------------------------------------
# The cluster
# ---------------------------------------------------------------------------

class Cluster:
    def __init__(self, root: Path, ttl: int = 60, timeout: float = 2.0):
        self.root = root
        self.ttl = ttl
        self.timeout = timeout
        self.network_id = random.randint(1000, 2**31 - 1)
        self.nodes: List[Node] = []

    def add(self, label: Optional[str], devices: Dict[str, str], users: Optional[Dict[str, str]] = None,
            extra: Sequence[str] = (), start: bool = True, data: Optional[Path] = None) -> Node:
        n = Node(self, len(self.nodes), label, devices, users or {}, extra, data)
        self.nodes.append(n)
        if start:
            n.start()
        return n

    def bootstrap_for(self, node: Node) -> Optional[int]:
        for n in self.agents():
            if n is not node and n.alive():
                return n.dht
        return None

    def agents(self) -> List[Node]:
        return [n for n in self.nodes if n.label]

    def live_agents(self) -> List[Node]:
        return [n for n in self.agents() if n.alive()]

    def wait_converged(self, seconds: float = 30.0) -> float:
        """Until every live agent's record is visible (/api/v1/agents/LABEL,
        with its own gateway port) from every live agent. Returns the seconds
        it took."""
        t0 = time.monotonic()
        deadline = t0 + seconds
        live = self.live_agents()
        missing: List[Tuple[str, str, object]] = []
        while time.monotonic() < deadline:
            missing = []
            for a in live:
                for b in live:
                    try:
                        status, body = a.get(f"/api/v1/agents/{b.label}")
                    except OSError as e:  # a node just (re)started: asked again below
                        missing.append((a.name, b.label, repr(e)))
                        continue
                    ports = [n.get("gateway_port") for n in body.get("nodes", [])] \
                        if status == 200 else []
                    if status != 200 or b.gateway not in ports:
                        missing.append((a.name, b.label, status))
            if not missing:
                return time.monotonic() - t0
            time.sleep(0.3)
        raise AssertionError(f"DHT did not converge within {seconds} s; (asker, label, status) "
                             f"missing: {missing[:10]}")

    def close(self) -> None:
        for n in self.nodes:
            n.kill()

    def logs(self, per_node: int = 6000) -> str:
        out = []
        for n in self.nodes:
            state = "running" if n.alive() else f"exit {n.proc.returncode if n.proc else None}"
            out.append(f"--- {n.name} [{state}] {' '.join(n.cmd)}\n{n.tail(per_node)}")
        return "\n".join(out)


def poll(fn: Callable, seconds: float, interval: float = 0.2):
    """Calls fn until it returns a truthy value or the time is up; returns the last value."""
    deadline = time.monotonic() + seconds
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


def parallel(fn: Callable, items: Sequence, workers: int = 16) -> List:
    """fn(item) for every item, concurrently; results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(fn, items))
