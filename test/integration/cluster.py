"""A cluster of real pweb-node processes on loopback for the integration tests.

Every node gets free ports (DNS UDP+TCP, HTTP, gateway TCP, DHT UDP), its own
data dir and log; node 0 starts first and the others bootstrap from it, all in
a private random --network-id. A node can be killed (SIGKILL) and restarted on
the same ports and data dir. Every wait is bounded.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

READY_TIMEOUT = 15.0


def binary() -> str:
    path = os.environ.get("PWEB_NODE", "/work/main/build/node/pweb-node")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise AssertionError(f"pweb-node not found at {path!r}: build it or set PWEB_NODE")
    return path


_taken: set = set()


def free_port() -> int:
    """Free for TCP and UDP on 127.0.0.1, below the ephemeral range."""
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


class Node:
    def __init__(self, cluster: "Cluster", name: str, label: Optional[str],
                 devices: Dict[str, str], extra: Sequence[str] = ()):
        self.cluster = cluster
        self.name = name
        self.label = label
        self.devices = dict(devices)  # "dev.user.label" -> "ipv4[ ipv6]"
        self.extra = list(extra)
        self.dir = cluster.root / name
        self.data = self.dir / "data"
        self.log = self.dir / "node.log"
        self.dns = free_port()
        self.http = free_port()
        self.gateway = free_port()
        self.dht = free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.dir.mkdir(parents=True)
        if devices:
            f = self.dir / "devices.txt"
            f.write_text("".join(f"{n} {a}\n" for n, a in devices.items()))
            subprocess.run([binary(), "device", "import", "--data-dir", str(self.data), str(f)],
                           check=True, capture_output=True, timeout=30)

    @property
    def gateway_addr(self) -> str:
        return f"127.0.0.1:{self.gateway}"

    def command(self, bootstrap: Optional[int]) -> List[str]:
        cmd = [binary(), "--data-dir", str(self.data),
               "--dns-listen", f"127.0.0.1:{self.dns}", "--http-listen", f"127.0.0.1:{self.http}",
               "--threads", "1", "--ttl", str(self.cluster.ttl),
               "--timeout", str(self.cluster.timeout), "--log-level", "info"]
        if self.label:
            cmd += ["--label", self.label, "--gateway-listen", self.gateway_addr,
                    "--dht-port", str(self.dht), "--network-id", str(self.cluster.network_id),
                    "--identity-bits", "1024"]
            if bootstrap:
                cmd += ["--bootstrap", f"127.0.0.1:{bootstrap}"]
        return cmd + self.extra

    def start(self, bootstrap: Optional[int] = None, wait: bool = True) -> "Node":
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(bootstrap), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            if b"event=ready" in self.log.read_bytes():
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready within {READY_TIMEOUT} s:\n{self.tail()}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log.read_bytes()[-n:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    # -- clients ----------------------------------------------------------
    def ask(self, name: str, rdtype="A", tcp: bool = False, timeout: float = 5.0) -> dns.message.Message:
        q = dns.message.make_query(name, rdtype)
        send = dns.query.tcp if tcp else dns.query.udp
        return send(q, "127.0.0.1", port=self.dns, timeout=timeout)

    def address(self, name: str, rdtype="A", tcp: bool = False):
        """(rcode text, [addresses])"""
        r = self.ask(name, rdtype, tcp)
        addrs = sorted(rd.address for rrset in r.answer for rd in rrset)
        return dns.rcode.to_text(r.rcode()), addrs

    def get(self, path: str, timeout: float = 10.0):
        """(status, parsed JSON body)"""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=timeout) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


class Cluster:
    def __init__(self, root: Path, ttl: int = 60, timeout: float = 2.0):
        self.root = root
        self.ttl = ttl
        self.timeout = timeout
        self.network_id = random.randint(1000, 2**31 - 1)
        self.nodes: List[Node] = []
        self.first_dht: Optional[int] = None

    def add(self, label: Optional[str], devices: Dict[str, str], extra: Sequence[str] = (),
            start: bool = True) -> Node:
        n = Node(self, f"n{len(self.nodes)}-{label or 'gateway'}", label, devices, extra)
        self.nodes.append(n)
        if start:
            n.start(self.first_dht)
            if label and self.first_dht is None:
                self.first_dht = n.dht
        return n

    def agents(self) -> List[Node]:
        return [n for n in self.nodes if n.label]

    def wait_converged(self, seconds: float = 40.0) -> None:
        """Until every live agent's record is visible from every live agent."""
        deadline = time.monotonic() + seconds
        live = [n for n in self.agents() if n.alive()]
        missing = []
        while time.monotonic() < deadline:
            missing = [(a.name, b.label) for a in live for b in live
                       if a.get(f"/api/v1/agents/{b.label}")[0] != 200]
            if not missing:
                return
            time.sleep(0.3)
        raise AssertionError(f"DHT did not converge within {seconds} s; missing {missing[:10]}")

    def close(self) -> None:
        for n in self.nodes:
            n.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {n.name} ---\n{n.tail()}" for n in self.nodes)


def poll(fn, seconds: float, interval: float = 0.2):
    """Calls fn until it returns a truthy value or the time is up; returns the last value."""
    deadline = time.monotonic() + seconds
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value
