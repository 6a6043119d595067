"""Fixtures for the pweb-node black-box tests.

The node binary comes from $PWEB_NODE (default /work/main/build/node/pweb-node).
A missing binary is a test *failure*, never a skip.

Each node runs in its own temporary data directory on free loopback ports; its
stdout+stderr go to a log file, and the part of that log written while a test
ran is attached to the report of a failing test.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import pytest

import pweb_dns
from store import FIXTURE_STORE_TEXT

DEFAULT_BIN = "/work/main/build/node/pweb-node"
READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
IMPORT_TIMEOUT = 30.0
START_ATTEMPTS = 3

_LIVE_NODES: List["Node"] = []


def node_binary() -> str:
    path = os.environ.get("PWEB_NODE", DEFAULT_BIN)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.fail(f"pweb-node binary not found or not executable: {path!r}. Build it "
                    f"(cmake -S . -B build -G Ninja && cmake --build build) or point "
                    f"PWEB_NODE at it.", pytrace=False)
    return path


# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

_handed_out: set = set()


def free_port(hosts: Sequence[str] = ("127.0.0.1",)) -> int:
    """A port that is free for both UDP and TCP on every host in `hosts`.

    Drawn below the Linux ephemeral range (32768+) so that our own client
    sockets cannot take it between the check and the server's bind."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32000)
        if port in _handed_out:
            continue
        if pweb_dns.port_free(port, hosts):
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port found for {hosts}")


# ---------------------------------------------------------------------------
# The node process
# ---------------------------------------------------------------------------

def run_import(binary: str, data_dir: Path, text: str, file_path: Path) -> subprocess.CompletedProcess:
    file_path.write_text(text)
    return subprocess.run([binary, "device", "import", "--data-dir", str(data_dir), str(file_path)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=IMPORT_TIMEOUT)


class NodeStartError(Exception):
    pass


class Node:
    """One pweb-node process. `listen_hosts` all share one DNS port."""

    def __init__(self, binary: str, name: str, data_dir: Path, log_path: Path,
                 listen_hosts: Sequence[str], suffixes: Sequence[str] = ("dht.",),
                 ttl: int = 60, threads: int = 1, extra_args: Sequence[str] = ()):
        self.binary = binary
        self.name = name
        self.data_dir = data_dir
        self.log_path = log_path
        self.listen_hosts = list(listen_hosts)
        self.suffixes = list(suffixes)
        self.ttl = ttl
        self.threads = threads
        self.extra_args = list(extra_args)
        self.port = 0
        self.http_port = 0
        self.proc: Optional[subprocess.Popen] = None
        self.cmd: List[str] = []
        self.returncode: Optional[int] = None

    # -- addresses -----------------------------------------------------------
    @property
    def host(self) -> str:
        return self.listen_hosts[0]

    @property
    def listens(self) -> List[Tuple[str, int]]:
        return [(h, self.port) for h in self.listen_hosts]

    # -- lifecycle -----------------------------------------------------------
    def _build_cmd(self) -> List[str]:
        cmd = [self.binary, "--data-dir", str(self.data_dir)]
        for h in self.listen_hosts:
            cmd += ["--dns-listen", pweb_dns.fmt_hostport(h, self.port)]
        cmd += ["--http-listen", f"127.0.0.1:{self.http_port}", "--threads", str(self.threads)]
        for s in self.suffixes:
            cmd += ["--suffix", s]
        cmd += ["--ttl", str(self.ttl), "--log-level", "warn"]
        # A DHT node and a gateway listener of its own on free ports, so tests
        # running side by side never collide on the defaults (4222, 4450); a
        # small identity key, made fresh for every data dir, keeps start-up fast.
        cmd += ["--dht-port", "0", "--gateway-listen", "127.0.0.1:0", "--identity-bits", "2048"]
        return cmd + self.extra_args

    def start(self) -> "Node":
        last = ""
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port(self.listen_hosts)
            self.http_port = free_port(("127.0.0.1",))
            self.cmd = self._build_cmd()
            with open(self.log_path, "ab") as log:
                log.write(f"=== attempt {attempt}: {' '.join(self.cmd)}\n".encode())
                log.flush()
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            _LIVE_NODES.append(self)
            try:
                self._wait_ready()
                return self
            except NodeStartError as e:
                last = str(e)
                self._kill()
                if "exited" not in last:  # hung, not a port race: do not retry
                    break
        raise NodeStartError(f"{self.name}: could not start pweb-node: {last}\n"
                             f"command: {' '.join(self.cmd)}\n--- log ---\n{self.log_tail()}")

    def _wait_ready(self) -> None:
        """Polls until every listen address answers a UDP SOA query (any
        reply with our ID counts), bounded by READY_TIMEOUT."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = list(self.listen_hosts)
        wire = pweb_dns.make_query(self.suffixes[0], "SOA").to_wire()
        for _ in range(1000):
            rc = self.proc.poll()
            if rc is not None:
                raise NodeStartError(f"exited with code {rc} during startup")
            if not pending:
                return
            if time.monotonic() > deadline:
                raise NodeStartError(f"no DNS answer on {pending[0]}:{self.port} within "
                                     f"{READY_TIMEOUT}s")
            if pweb_dns.udp_exchange(wire, pending[0], self.port, timeout=0.2) is not None:
                pending.pop(0)
            else:
                time.sleep(0.05)
        raise NodeStartError("readiness loop exhausted")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> Tuple[Optional[int], float]:
        """SIGTERM, then wait up to `timeout`. Returns (exit code or None if it
        had to be killed, seconds it took)."""
        if self.proc is None:
            return self.returncode, 0.0
        t0 = time.monotonic()
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._kill()
                self.returncode = None
                self._forget()
                return None, time.monotonic() - t0
        self.returncode = self.proc.returncode
        self._forget()
        return self.returncode, time.monotonic() - t0

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()  # by pid: only the process we started
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._forget()

    def _forget(self) -> None:
        if self in _LIVE_NODES:
            _LIVE_NODES.remove(self)

    # -- logs ----------------------------------------------------------------
    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, offset: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, limit: int = 8000, offset: int = 0) -> str:
        text = self.log_text(offset)
        return text if len(text) <= limit else "...(cut)...\n" + text[-limit:]

    # -- convenience ---------------------------------------------------------
    def ask(self, qname: str, rdtype, transport: str = "udp", host: Optional[str] = None, **kw):
        return pweb_dns.ask(host or self.host, self.port, qname, rdtype, transport, **kw)

    def ask_wire(self, wire: bytes, transport: str = "udp", host: Optional[str] = None, **kw):
        return pweb_dns.ask_wire(host or self.host, self.port, wire, transport, **kw)

    def exchange(self, wire: bytes, transport: str = "udp", timeout: float = pweb_dns.DEFAULT_TIMEOUT,
                 host: Optional[str] = None):
        return pweb_dns.exchange(wire, host or self.host, self.port, transport, timeout)

    def __repr__(self) -> str:
        return f"<Node {self.name} {self.listen_hosts} port={self.port} alive={self.alive()}>"


class NodeFactory:
    def __init__(self, tmp_path_factory):
        self.tmp_path_factory = tmp_path_factory

    def new_dir(self, name: str) -> Path:
        return self.tmp_path_factory.mktemp(name)

    def import_devices(self, data_dir: Path, text: str, name: str = "devices.txt") -> subprocess.CompletedProcess:
        return run_import(node_binary(), data_dir, text, data_dir.parent / f"{data_dir.name}-{name}")

    def start(self, name: str, devices: Optional[str] = FIXTURE_STORE_TEXT,
              listen_hosts: Sequence[str] = ("127.0.0.1",), suffixes: Sequence[str] = ("dht.",),
              data_dir: Optional[Path] = None, **kw) -> Node:
        binary = node_binary()
        base = self.new_dir(name)
        if data_dir is None:
            data_dir = base / "data"
            data_dir.mkdir()
        if devices is not None:
            res = run_import(binary, data_dir, devices, base / "devices.txt")
            if res.returncode != 0:
                pytest.fail(f"{name}: `device import` of the fixture store failed with exit "
                            f"{res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}",
                            pytrace=False)
        node = Node(binary, name, data_dir, base / "node.log", listen_hosts, suffixes, **kw)
        try:
            return node.start()
        except NodeStartError as e:
            pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="session")
def node_factory(tmp_path_factory):
    factory = NodeFactory(tmp_path_factory)
    yield factory
    for node in list(_LIVE_NODES):
        node.stop()


def _stop_fixture_node(node: Node) -> None:
    was_alive = node.alive()
    rc, took = node.stop()
    if not was_alive:
        sys.stderr.write(f"\nWARNING: {node.name} had already exited (code {node.returncode}) "
                         f"before teardown\n{node.log_tail(2000)}\n")
    elif rc != 0:
        sys.stderr.write(f"\nWARNING: {node.name} exit code after SIGTERM: {rc} "
                         f"(took {took:.1f}s)\n{node.log_tail(2000)}\n")


@pytest.fixture(scope="session")
def node(node_factory):
    """The main node: fixture store, 127.0.0.1 only, zone dht., TTL 60."""
    n = node_factory.start("main")
    yield n
    _stop_fixture_node(n)


@pytest.fixture(params=["udp", "tcp"])
def transport(request):
    return request.param


# ---------------------------------------------------------------------------
# Reporting: attach node logs to failing tests
# ---------------------------------------------------------------------------

_log_offsets: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _log_offsets[item.nodeid] = {id(n): n.log_size() for n in _LIVE_NODES}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    offsets = _log_offsets.get(item.nodeid, {})
    nodes = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Node)]
    nodes += [n for n in _LIVE_NODES if id(n) not in offsets and n not in nodes]
    for n in nodes:
        off = offsets.get(id(n), 0)
        status = "running" if n.alive() else f"EXITED (code {n.proc.returncode if n.proc else '?'})"
        rep.sections.append((f"pweb-node log: {n.name} [{status}] (written during this test)",
                             f"command: {' '.join(n.cmd)}\n{n.log_tail(offset=off) or '(empty)'}"))
        if not n.alive() and n.proc is not None:
            rep.sections.append((f"pweb-node {n.name} crashed/exited", n.log_tail(4000)))
