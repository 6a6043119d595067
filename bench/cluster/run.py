#!/usr/bin/python3
"""Cross-agent DNS benchmark: a cluster of pweb-node Home Agents on loopback.

Starts N agents (node 0 first, the others bootstrapping from it, a private
random --network-id), each with D devices imported before start, waits until
the measured node B (agent a0) sees every agent's DHT record, checks answers,
and then measures at B, for devices of the OTHER agents:

  cold   dnsperf, every name asked exactly once (-n 1): answer caches cold;
         the agents' records are warm (B looked each agent up during the
         answer check), so this is DNS -> resolver -> gateway QUERY per name
  warm   dnsperf, the same names again (B's answer caches), and in the same
         rounds B's own devices (local) for the warm/local ratio
  latency  a sequential UDP client: cold, warm and local percentiles
  agent lookup  the first query for each agent at fresh nodes that never
         asked anything (DHT lookup + gateway connect + QUERY)
  new agent  from spawning one more agent until B answers its device

Nodes are pinned to CPU 0, dnsperf and this script (the latency client) to
CPU 1 (--pin none: no pinning). Prints a table beside the 2013 pWeb DNS
Gateway's 7,084 q/s with the targets marked ok/MISS, and writes JSON to
results/latest.json (results/quick.json with --quick). See README.md.

Exit status: 0 when the harness worked (targets missed or not); 2 when a node
did not start or a tool/binary is missing; 1 when answers were wrong, a node
died, dnsperf failed or nothing was measured; 130 on Ctrl-C.
Python 3.11 standard library only (run it with /usr/bin/python3).
"""
from __future__ import annotations

import argparse
import base64
import copy
import datetime
import http.client
import importlib.util
import json
import math
import os
import platform
import random
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _load_dns_bench():
    """bench/dns/run.py as a module: data generation, the DNS client, the
    dnsperf parser, ports, process and /proc helpers."""
    spec = importlib.util.spec_from_file_location("pweb_bench_dns", REPO / "bench" / "dns" / "run.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pweb_bench_dns"] = mod
    spec.loader.exec_module(mod)
    return mod


dnsbench = _load_dns_bench()
sys.path.insert(0, str(REPO / "bench"))
from benchpg import BenchPg, PgMissing  # noqa: E402
Device = dnsbench.Device
StartError = dnsbench.StartError

ZONE = dnsbench.ZONE                 # "dht."
SEED_QPS = 7084                      # pWeb DNS Gateway (2013): gateway + agent
NODE_CPU = dnsbench.SERVER_CPU       # taskset -c for every pweb-node
CLIENT_CPU = dnsbench.CLIENT_CPU     # dnsperf and this script
COLD_TARGET_QPS = 50_000
WARM_LOCAL_MIN = 0.9                 # warm / local counts as "about equal" from here
AGENT_P99_TARGET_MS = 50.0
HA_PROPAGATION_P99_TARGET_MS = 100.0  # issue 14: a change at one node of a label, answered at the other
HA_USER, HA_PASSWORD = "alice", "bench-ha-pw"
WORKER_CACHE_ENTRIES = 1 << 16       # dnsfront ServerConfig::remote_cache_entries (per DNS worker)
COLD_SLICE = 60_000                  # names per cold round: the warm rerun fits a worker's cache
DEFAULT_BIN_DIR = Path("/tmp/pweb-bin")

HTTP_TIMEOUT = 3.0
STOP_TIMEOUT = 10.0
NEW_AGENT_TIMEOUT = 30.0
PROBE_JOIN_TIMEOUT = 15.0


class HarnessError(Exception):
    """The harness did not work: wrong answers, a dead node, dnsperf failed."""


def log(msg: str) -> None:
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------

class Node:
    """One pweb-node agent; the process is a dnsbench.Server (stop by pid)."""

    def __init__(self, label: str, binary: Path, work: Path, ports: set, args,
                 devices: Sequence[Device], log_level: str, agent: Optional[str] = None,
                 extra: Sequence[str] = ()):
        """label: the node's name here (its directory); agent: its --label
        when several nodes serve one (default: label); extra: more options."""
        self.label = label
        self.devices = list(devices)
        self.dir = work / label
        self.data = self.dir / "data"
        self.dir.mkdir(parents=True)
        self.dns = dnsbench.free_port(ports)
        self.http = dnsbench.free_port(ports)
        self.gateway = dnsbench.free_port(ports)
        self.dht = dnsbench.free_port(ports)
        self.import_s = 0.0
        if self.devices:
            f = self.dir / "devices.txt"
            dnsbench.write_device_file(self.devices, f)
            t0 = time.monotonic()
            try:
                imp = dnsbench.run_tool([str(binary), "device", "import", "--data-dir", str(self.data), str(f)],
                                        timeout=dnsbench.IMPORT_TIMEOUT)
            except subprocess.TimeoutExpired:
                raise StartError(f"{label}: device import did not finish in {dnsbench.IMPORT_TIMEOUT:.0f} s")
            if imp.returncode != 0:
                raise StartError(f"{label}: device import failed ({imp.returncode}): {imp.stdout[-1000:]}")
            self.import_s = time.monotonic() - t0
        self.log_path = self.dir / "node.log"
        cmd = [str(binary), "--label", agent or label, "--data-dir", str(self.data),
               "--dns-listen", f"127.0.0.1:{self.dns}", "--http-listen", f"127.0.0.1:{self.http}",
               "--gateway-listen", f"127.0.0.1:{self.gateway}", "--dht-port", str(self.dht),
               "--network-id", str(args.network_id), "--ttl", str(args.ttl),
               "--timeout", str(args.timeout), "--threads", "1", "--identity-bits", "2048",
               "--suffix", ZONE, "--log-level", log_level,
               "--rrl-rate", "0",  # dnsperf is one client at full speed
               "--gateway-tls", "true" if args.links_now == "tls" else "false", *extra]
        self.base_cmd = cmd
        self.server: Optional[dnsbench.Server] = None
        self.pin = args.pin
        self.spawn_wall: Optional[float] = None

    def command(self, bootstrap: Optional[int]) -> List[str]:
        cmd = list(self.base_cmd)
        if bootstrap:
            cmd += ["--bootstrap", f"127.0.0.1:{bootstrap}"]
        return dnsbench.pinned(cmd, NODE_CPU) if self.pin == "split" else cmd

    def start(self, bootstrap: Optional[int], timeout: float) -> float:
        """Starts and waits until the node answers the zone's SOA."""
        self.server = dnsbench.Server("pweb", self.command(bootstrap), self.dns, self.log_path)
        self.spawn_wall = time.time()
        return self.server.start(timeout)

    def spawn(self, bootstrap: Optional[int]) -> None:
        """Starts without waiting (the new-agent measurement polls instead)."""
        self.server = dnsbench.Server("pweb", self.command(bootstrap), self.dns, self.log_path)
        with self.log_path.open("w") as logf:
            self.spawn_wall = time.time()
            self.server.proc = subprocess.Popen(self.server.cmd, stdout=logf, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> Optional[int]:
        return self.server.proc.pid if self.server and self.server.proc else None

    def alive(self) -> bool:
        return self.server is not None and self.server.alive()

    def get(self, path: str, timeout: float = HTTP_TIMEOUT) -> Tuple[int, Optional[dict]]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http}{path}", timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, None
        except (OSError, ValueError):
            return 0, None

    def ready_after_spawn(self) -> Optional[float]:
        """Seconds from spawn to the `event=ready` line (needs --log-level info)."""
        try:
            for line in self.log_path.read_text(errors="replace").splitlines()[:200]:
                if "event=ready" in line:
                    stamp = datetime.datetime.fromisoformat(line.split()[0])
                    return stamp.timestamp() - (self.spawn_wall or 0.0)
        except (OSError, ValueError, IndexError):
            pass
        return None


def stop_all(nodes: Sequence[Node]) -> None:
    """SIGTERM to every node we started, then SIGKILL what is left; by pid."""
    live = [n for n in nodes if n.server and n.server.proc and n.server.proc.poll() is None]
    for n in live:
        try:
            n.server.proc.send_signal(signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT
    for n in live:
        try:
            n.server.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{n.label}: no exit after SIGTERM, SIGKILL")
            n.server.proc.kill()
            try:
                n.server.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"{n.label}: pid {n.server.proc.pid} did not die")


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------

def fqdn(d: Device) -> str:
    return f"{d.name}.{ZONE}".rstrip(".")


class Client:
    """Sequential UDP DNS client (one socket) timing each query; checks rcode
    and address with dnsbench's parser."""

    def __init__(self, port: int):
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))
        self.qid = random.randrange(1, 0xFFFF)

    def close(self) -> None:
        self.sock.close()

    def ask(self, name: str, timeout: float) -> Tuple[Optional[float], Optional[object]]:
        """(seconds, dnsbench.Answer) or (None, None) when nothing came back."""
        self.qid = self.qid % 0xFFFF + 1
        qid = self.qid
        t0 = time.perf_counter()
        deadline = t0 + timeout
        self.sock.send(dnsbench.build_query(qid, name, "A"))
        for _ in range(64):  # skip late replies to earlier queries, bounded
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except (socket.timeout, OSError):
                break
            try:
                ans = dnsbench.parse_response(data, qid, "A")
            except (ValueError, IndexError, struct.error):  # a reply to an older query
                continue
            return time.perf_counter() - t0, ans
        return None, None


def percentiles_ms(samples: Sequence[float]) -> Dict[str, Optional[float]]:
    """Nearest-rank percentiles in ms (with n < 100, p99 is the maximum)."""
    if not samples:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None, "mean": None}
    s = sorted(samples)

    def rank(q: float) -> float:
        return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]
    return {"n": len(s), "p50": round(rank(0.50) * 1e3, 3), "p90": round(rank(0.90) * 1e3, 3),
            "p99": round(rank(0.99) * 1e3, 3), "max": round(s[-1] * 1e3, 3),
            "mean": round(sum(s) / len(s) * 1e3, 3)}


def expect_ok(ans, d: Optional[Device]) -> bool:
    """NOERROR with the device's IPv4 (protocol v1 carries one address: the IPv4),
    or NXDOMAIN when d is None."""
    if ans is None:
        return False
    if d is None:
        return ans.rcode == 3 and not ans.addresses
    return ans.rcode == 0 and ans.addresses == [d.ipv4]


def latency_sample(port: int, devices: Sequence[Device], timeout: float) -> Dict:
    """Sequential queries; every answer checked. SERVFAIL and no reply are
    counted apart (slow), any other wrong answer is a harness failure."""
    c = Client(port)
    times, lost, servfail, wrong = [], 0, 0, []
    try:
        for d in devices:
            t, ans = c.ask(fqdn(d), timeout)
            if ans is None:
                lost += 1
            elif ans.rcode == 2:
                servfail += 1
            elif not expect_ok(ans, d):
                wrong.append(f"{d.name}: rcode {ans.rcode} {ans.addresses}, want {d.ipv4}")
            else:
                times.append(t)
    finally:
        c.close()
    out = percentiles_ms(times)
    out.update({"lost": lost, "servfail": servfail, "wrong": len(wrong), "wrong_examples": wrong[:5]})
    if wrong:
        raise HarnessError(f"wrong answers in the latency sample: {wrong[:5]}")
    if not times:
        raise HarnessError(f"no right answer in the latency sample ({lost} lost, {servfail} SERVFAIL)")
    return out


def check_answers(b: Node, cases: Sequence[Tuple[str, Optional[Device]]], timeout: float) -> Dict:
    """Known answers before trusting any speed: remote and local devices
    (address) and names that do not exist (NXDOMAIN)."""
    c = Client(b.dns)
    aa, times = 0, []
    try:
        for name, d in cases:
            ans, t = None, None
            for _ in range(3):  # bounded: a lost datagram or a SERVFAIL while an agent warms up
                t, ans = c.ask(name, timeout)
                if ans is not None and ans.rcode != 2:
                    break
                time.sleep(0.2)
            if not expect_ok(ans, d):
                got = "no answer" if ans is None else f"rcode {ans.rcode} {ans.addresses}"
                want = d.ipv4 if d else "NXDOMAIN"
                raise HarnessError(f"B ({b.label}) answered {name}: {got}, want {want}")
            aa += bool(ans.aa)
            times.append(t)
    finally:
        c.close()
    return {"checked": len(cases), "aa_set": aa, "first_query_ms": percentiles_ms(times)}


# ---------------------------------------------------------------------------
# dnsperf and CPU accounting
# ---------------------------------------------------------------------------

def node_ticks(nodes: Sequence[Node]) -> Dict[str, int]:
    out = {}
    for n in nodes:
        if n.pid:
            t = dnsbench.cpu_ticks(n.pid)
            if t is not None:
                out[n.label] = t
    return out


def context_switches(pid: Optional[int]) -> Optional[int]:
    """Voluntary + involuntary context switches summed over a process's threads."""
    if not pid:
        return None
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks[:10_000]:
        try:
            for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


def run_dnsperf(args, b: Node, nodes: Sequence[Node], names: Sequence[str], work: Path, tag: str,
                once: bool, limit: float, maxruns: int = 1) -> Dict:
    """One dnsperf run against B: `once` = the file `maxruns` times (-n), else
    it loops until the time limit. Adds CPU time of B, of the other
    nodes and of dnsperf, and the busy share of the two CPUs."""
    qfile = work / f"{tag}.queries"
    qfile.write_text("".join(f"{n} A\n" for n in names))
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(b.dns), "-d", str(qfile), "-l", str(limit),
           "-c", str(args.clients), "-q", str(args.outstanding), "-T", "1", "-t", "5"]
    if once:
        cmd += ["-n", str(maxruns)]
    if args.pin == "split":
        cmd = dnsbench.pinned(cmd, CLIENT_CPU)
    idle = None
    if args.idle_wait > 0:
        ok, waited, share = dnsbench.wait_for_idle(args.idle_wait, threshold=0.15)
        idle = {"idle": ok, "waited_s": round(waited, 1), "busiest_cpu_share": round(share, 3)}
        if not ok:
            log(f"warning: machine busy ({share:.0%} of a CPU) after {waited:.0f} s; measuring anyway")
    out_path = work / f"{tag}.dnsperf.txt"
    t0_ticks = node_ticks(nodes)
    cs0 = context_switches(b.pid)
    stat0 = dnsbench.cpu_times()
    udp0 = dnsbench.udp_counters()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with out_path.open("w") as outf:
        p = subprocess.Popen(cmd, stdout=outf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            p.wait(timeout=limit + 60)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"dnsperf ({tag}) did not finish within {limit + 60:.0f} s")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stat1 = dnsbench.cpu_times()
    udp1 = dnsbench.udp_counters()
    t1_ticks = node_ticks(nodes)
    cs1 = context_switches(b.pid)
    text = out_path.read_text(errors="replace")
    if p.returncode != 0:
        raise HarnessError(f"dnsperf ({tag}) exited with {p.returncode}:\n{text[-1500:]}")
    dead = [n.label for n in nodes if not n.alive()]
    if dead:
        raise HarnessError(f"nodes died during the {tag} run: {dead}; log of {dead[0]}:\n"
                           f"{dnsbench.tail(next(n for n in nodes if n.label == dead[0]).log_path)}")
    r = dnsbench.parse_dnsperf(text)
    if "qps" not in r or "completed" not in r:
        raise HarnessError(f"cannot parse dnsperf output ({tag}):\n{text[-1500:]}")
    clk = dnsbench.CLK_TCK
    b_s = (t1_ticks.get(b.label, 0) - t0_ticks.get(b.label, 0)) / clk
    others_s = sum(t1_ticks[k] - t0_ticks.get(k, 0) for k in t1_ticks if k != b.label) / clk
    client_s = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    run_time = float(r.get("run_time_s") or wall)
    per_cpu = dnsbench.cpu_delta(stat0, stat1)
    busy, foreign = {}, {}
    own = {f"cpu{NODE_CPU}": (b_s + others_s) * clk, f"cpu{CLIENT_CPU}": client_s * clk}
    for cpu, d in per_cpu.items():
        total = sum(d.values()) or 1
        work_ticks = d["user"] + d["nice"] + d["system"] + d["irq"] + d["softirq"]
        busy[cpu] = round(work_ticks / total, 3)
        if args.pin == "split" and cpu in own:
            foreign[cpu] = round(max(0.0, d["user"] + d["nice"] + d["system"] - own[cpu]) / total, 3)
        foreign[cpu + "_steal"] = round(d["steal"] / total, 3)
    rcodes = r.get("rcodes", {})
    r.update({
        "command": " ".join(cmd), "names_in_file": len(names), "wall_s": round(wall, 3),
        "b_cpu_s": round(b_s, 3), "other_nodes_cpu_s": round(others_s, 3),
        "b_context_switches_per_query": (round((cs1 - cs0) / r["completed"], 3)
                                         if cs0 is not None and cs1 is not None and r["completed"] else None),
        "dnsperf_cpu_s": round(client_s, 3),
        "b_cpu_util": round(b_s / run_time, 3) if run_time else None,
        "q_per_b_cpu_s": round(r["completed"] / b_s) if b_s > 0 else None,
        "q_per_cluster_cpu_s": round(r["completed"] / (b_s + others_s)) if b_s + others_s > 0 else None,
        "cpu_busy_share": busy, "foreign_cpu_share": foreign, "idle_before": idle,
        "servfail": rcodes.get("SERVFAIL", 0),
        "udp_rcvbuf_errors": udp1.get("RcvbufErrors", 0) - udp0.get("RcvbufErrors", 0),
        "output": str(out_path),
    })
    bad = {k: v for k, v in rcodes.items() if k not in ("NOERROR", "SERVFAIL")}
    if bad:
        raise HarnessError(f"dnsperf ({tag}): names that exist were answered {bad}")
    if r["completed"] == 0:
        raise HarnessError(f"dnsperf ({tag}): no query completed")
    log(f"{tag}: {r['qps']:,.0f} q/s, completed {r['completed']:,} of {r.get('sent', 0):,}, "
        f"lost {r.get('lost')}, SERVFAIL {r['servfail']}, B cpu {b_s:.2f} s, other nodes {others_s:.2f} s")
    return r


def median_run(runs: Sequence[Dict]) -> Dict:
    chosen = sorted(runs, key=lambda r: r["qps"])[(len(runs) - 1) // 2]
    out = dict(chosen)
    out["rounds_qps"] = [round(r["qps"]) for r in runs]
    return out


# ---------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------

def wait_visible(b: Node, labels: Sequence[str], timeout: float) -> float:
    """Until B's /api/v1/agents/{label} is 200 for every label (bounded)."""
    t0 = time.monotonic()
    missing = list(labels)
    for _ in range(100_000):
        missing = [l for l in missing if b.get(f"/api/v1/agents/{l}")[0] != 200]
        if not missing or time.monotonic() - t0 > timeout:
            break
        if not b.alive():
            raise HarnessError(f"B ({b.label}) died:\n{dnsbench.tail(b.log_path)}")
        time.sleep(0.2)
    if missing:
        raise HarnessError(f"B does not see the records of {missing[:10]} after {timeout:.0f} s")
    return time.monotonic() - t0


def agent_lookups(args, binary: Path, work: Path, ports: set, first_dht: int,
                  agents: Sequence[Node], started: List[Node]) -> Dict:
    """Fresh nodes that never asked anything: the first query for one device
    of every agent (DHT lookup + gateway connect + QUERY), then a second
    device of the same agent (record and connection warm) for contrast."""
    first, second, failed = [], [], []
    per_agent: Dict[str, List[float]] = {}
    for k in range(args.probes):
        probe = Node(f"probe{k}", binary, work, ports, args, [], "warn")
        started.append(probe)
        probe.start(first_dht, args.start_timeout)
        # joined: it has DHT neighbours (bounded); nothing else is asked of it
        t0 = time.monotonic()
        while time.monotonic() - t0 < PROBE_JOIN_TIMEOUT:
            st, body = probe.get("/api/v1/neighbors")
            if st == 200 and body and body.get("count", 0) >= 1:
                break
            time.sleep(0.1)
        else:
            raise HarnessError(f"{probe.label} found no DHT neighbours in {PROBE_JOIN_TIMEOUT:.0f} s")
        time.sleep(0.5)  # let its routing table fill from the first replies
        c = Client(probe.dns)
        try:
            order = list(agents)
            random.Random(args.seed + 10 + k).shuffle(order)
            for a in order:
                d1, d2 = a.devices[-1 - k * 2], a.devices[-2 - k * 2]
                t, ans = c.ask(fqdn(d1), args.timeout + 3)
                if ans is not None and ans.rcode == 0 and not expect_ok(ans, d1):
                    raise HarnessError(f"{probe.label}: wrong answer for {d1.name}: {ans.addresses}")
                if not expect_ok(ans, d1):
                    failed.append(f"{probe.label}->{a.label}: "
                                  + ("no reply" if ans is None else f"rcode {ans.rcode}"))
                    continue
                first.append(t)
                per_agent.setdefault(a.label, []).append(round(t * 1e3, 3))
                t2, ans2 = c.ask(fqdn(d2), args.timeout + 3)
                if expect_ok(ans2, d2):
                    second.append(t2)
        finally:
            c.close()
    if not first:
        raise HarnessError(f"no agent lookup succeeded: {failed[:5]}")
    return {"first_query": percentiles_ms(first), "second_query_same_agent": percentiles_ms(second),
            "failed": failed, "per_agent_ms": per_agent, "probes": args.probes}


def new_agent(args, binary: Path, work: Path, ports: set, first_dht: int, b: Node, observer: Node,
              started: List[Node], label: str, poll_b_from_spawn: bool) -> Dict:
    """Spawns agent `label` with one device and times it from the spawn:
    ready (its log), record visible at `observer` (REST, not B), answered by B.
    poll_b_from_spawn: B is asked every 100 ms from the spawn on (what a client
    that keeps asking sees, including negative caching); else B is asked only
    once the record is visible at the observer."""
    dev = Device(f"laptop.alice.{label}", f"192.0.2.{77 + len(started) % 100}", None)
    node = Node(label, binary, work, ports, args, [dev], "info")
    started.append(node)
    node.spawn(first_dht)
    t0 = time.monotonic()
    out: Dict[str, object] = {"label": label, "asked_b_from_spawn": poll_b_from_spawn,
                              "record_visible_s": None, "answered_s": None, "b_answers_seen": []}
    c = Client(b.dns)
    last = None
    try:
        while time.monotonic() - t0 < NEW_AGENT_TIMEOUT:
            now = time.monotonic() - t0
            if not node.alive():
                raise StartError(f"new agent {label} exited ({node.server.proc.returncode}):\n"
                                 f"{dnsbench.tail(node.log_path)}")
            if out["record_visible_s"] is None and observer.get(f"/api/v1/agents/{label}")[0] == 200:
                out["record_visible_s"] = round(time.monotonic() - t0, 3)
            if poll_b_from_spawn or out["record_visible_s"] is not None:
                _, ans = c.ask(fqdn(dev), args.timeout + 1)
                seen = "no reply" if ans is None else {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN"}.get(
                    ans.rcode, str(ans.rcode))
                if seen != last:
                    out["b_answers_seen"].append([round(time.monotonic() - t0, 3), seen])
                    last = seen
                if ans is not None and ans.rcode == 0:
                    if not expect_ok(ans, dev):
                        raise HarnessError(f"B answered the new agent's device with {ans.addresses}")
                    out["answered_s"] = round(time.monotonic() - t0, 3)
                    break
            time.sleep(max(0.0, 0.1 - (time.monotonic() - t0 - now)))
    finally:
        c.close()
    out["ready_s"] = None if node.ready_after_spawn() is None else round(node.ready_after_spawn(), 3)
    if out["answered_s"] is None:
        raise HarnessError(f"B never answered the new agent {label}'s device within "
                           f"{NEW_AGENT_TIMEOUT:.0f} s: {out['b_answers_seen']}")
    return out


# ---------------------------------------------------------------------------
# A label on two nodes (issue 14): uw0 and uw1 on one PostgreSQL
# ---------------------------------------------------------------------------

class NicUpdate:
    """A keep-alive /nic/update client (HTTP Basic) for one node."""

    def __init__(self, port: int):
        self.port = port
        self.auth = "Basic " + base64.b64encode(f"{HA_USER}:{HA_PASSWORD}".encode()).decode()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)

    def close(self) -> None:
        self.conn.close()

    def update(self, hostname: str, ip: str) -> Tuple[int, str]:
        try:
            self.conn.request("GET", f"/nic/update?hostname={hostname}&myip={ip}",
                              headers={"Authorization": self.auth})
            r = self.conn.getresponse()
            body = r.read().decode(errors="replace").strip()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
            return 0, repr(e)
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        return r.status, body


def ha_tool(cmd: Sequence[str], stdin: str = "") -> str:
    r = subprocess.run(list(cmd), input=stdin, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise StartError(f"{' '.join(cmd)} exited {r.returncode}: {(r.stdout + r.stderr)[-800:]}")
    return r.stdout


def gateway_queries(node: Node) -> Optional[float]:
    """pweb_gateway_server_queries_total summed over its labels (/metrics)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{node.http}/metrics", timeout=HTTP_TIMEOUT) as r:
            text = r.read().decode(errors="replace")
    except (OSError, ValueError):
        return None
    vals = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("pweb_gateway_server_queries_total") and " " in line]
    return sum(vals) if vals else None


def ha_cluster(args, binary: Path, work: Path, started: List[Node], uri: str) -> Tuple[Node, Node, List[Node]]:
    """mit (the asker) and ut, then uw0 and uw1: label uw on one PostgreSQL
    store, sharing the label's identity (identity export/import). --ttl 1 so
    that mit asks uw again every second, --timeout --ha-timeout."""
    ha_args = copy.copy(args)
    ha_args.ttl, ha_args.timeout = 1, args.ha_timeout
    ports: set = set()
    mit = Node("mit", binary, work, ports, ha_args, [], "warn")
    started.append(mit)
    mit.start(None, args.start_timeout)
    ut = Node("ut", binary, work, ports, ha_args, [], "warn")
    started.append(ut)
    ut.start(mit.dht, args.start_timeout)
    uw: List[Node] = []
    for i in range(2):
        n = Node(f"uw{i}", binary, work, ports, ha_args, [], "warn", agent="uw", extra=["--store", uri])
        n.data.mkdir(parents=True, exist_ok=True)
        if i == 0:
            ha_tool([str(binary), "user", "add", HA_USER, "--password-stdin", "--data-dir", str(n.data),
                     "--store", uri], stdin=HA_PASSWORD + "\n")
        else:
            exported = ha_tool([str(binary), "identity", "export", "--data-dir", str(uw[0].data)])
            ha_tool([str(binary), "identity", "import", "--data-dir", str(n.data)], stdin=exported)
        started.append(n)
        n.start(mit.dht, args.start_timeout)
        uw.append(n)
    want = sorted(n.gateway for n in uw)
    body = None
    deadline = time.monotonic() + args.converge_timeout
    while time.monotonic() < deadline:
        st, body = mit.get("/api/v1/agents/uw")
        if st == 200 and sorted(x.get("gateway_port") for x in (body or {}).get("nodes", [])) == want:
            break
        time.sleep(0.2)
    else:
        raise HarnessError(f"mit does not list both uw nodes after {args.converge_timeout:.0f} s: {body}")
    return mit, ut, uw


def ha_propagation(args, writer: Node, reader: Node) -> Dict:
    """--ha-samples times: a fresh address through the writer's /nic/update;
    from its `good` the reader's DNS is asked every ~1 ms (one UDP socket)
    until it answers that address (bounded: 2 s per sample)."""
    name = f"prop.{HA_USER}.uw"
    qname = fqdn(Device(name, "", None))
    c, q = NicUpdate(writer.http), Client(reader.dns)
    from_good: List[float] = []
    from_sent: List[float] = []
    polls: List[int] = []
    missed: List[str] = []
    try:
        st, body = c.update(name, "198.18.255.254")  # creates the device
        if st != 200 or not body.startswith("good"):
            raise HarnessError(f"{writer.label}: /nic/update {name}: {st} {body[:200]}")
        for k in range(args.ha_samples):
            ip = f"198.18.{k // 250}.{k % 250 + 1}"
            t_sent = time.perf_counter()
            st, body = c.update(name, ip)
            t_good = time.perf_counter()
            if st != 200 or body != f"good {ip}":
                raise HarnessError(f"{writer.label}: /nic/update {name} {ip}: {st} {body[:200]}")
            seen, n = None, 0
            for n in range(1, 5001):  # bounded: 5,000 polls and 2 s
                t_q = time.perf_counter()
                _, ans = q.ask(qname, 0.5)
                if ans is not None and ans.rcode == 0 and ans.addresses == [ip]:
                    seen = time.perf_counter()
                    break
                if time.perf_counter() - t_good > 2.0:
                    break
                time.sleep(max(0.0, 0.001 - (time.perf_counter() - t_q)))
            if seen is None:
                missed.append(ip)
                continue
            from_good.append(seen - t_good)
            from_sent.append(seen - t_sent)
            polls.append(n)
    finally:
        c.close()
        q.close()
    if not from_good:
        raise HarnessError(f"{reader.label} never answered an update made at {writer.label}")
    return {"writer": writer.label, "reader": reader.label, "samples": args.ha_samples,
            "from_good_ms": percentiles_ms(from_good), "from_update_sent_ms": percentiles_ms(from_sent),
            "polls_p50": sorted(polls)[len(polls) // 2], "missed_2s": len(missed), "missed_examples": missed[:5]}


def ha_kill(args, mit: Node, uw: List[Node], sig: int) -> Dict:
    """A query loop at a fixed rate (--ha-rate) at mit for uw's devices,
    --ha-before s, then `sig` to the uw node mit was asking (the one whose
    gateway served more queries meanwhile), then --ha-after s more. A query
    fails when it gets no right answer within --ha-client-timeout. Failures
    are counted by the time the query was sent: before the signal, within the
    first --ha-timeout after it, after that (target: none). SIGKILL: the
    kernel closes the node's sockets, mit sees its connection drop; SIGSTOP:
    the node stops answering with its connections open (a machine that hangs
    or drops off the network), and gets SIGCONT after the loop."""
    devices = {f"k{i}.{HA_USER}.uw": f"203.0.113.{i + 1}" for i in range(8)}
    c = NicUpdate(uw[0].http)
    try:
        for name, ip in devices.items():
            st, body = c.update(name, ip)
            if st != 200 or not body.startswith(("good", "nochg")):  # nochg: set by an earlier loop
                raise HarnessError(f"uw0: /nic/update {name}: {st} {body[:200]}")
    finally:
        c.close()
    names = list(devices)
    want = {fqdn(Device(n, "", None)): ip for n, ip in devices.items()}
    qnames = list(want)
    probe = Client(mit.dns)
    try:
        for qn in qnames:  # mit answers every device before the loop (bounded: 10 s each)
            deadline = time.monotonic() + 10
            while True:
                _, ans = probe.ask(qn, 2.0)
                if ans is not None and ans.rcode == 0 and ans.addresses == [want[qn]]:
                    break
                if time.monotonic() > deadline:
                    raise HarnessError(f"mit does not answer {qn} before the kill: {ans and ans.addresses}")
                time.sleep(0.1)
    finally:
        probe.close()
    total = int(args.ha_rate * (args.ha_before + args.ha_after))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", mit.dns))
    sock.setblocking(False)
    pending: Dict[int, Tuple[float, str]] = {}
    sent: List[Tuple[float, bool, str]] = []  # (sent at, ok, what)
    took: List[Tuple[float, float]] = []  # (sent at, seconds to the right answer)
    ttls: set = set()
    q0 = [gateway_queries(n) for n in uw]
    victim: Optional[Node] = None
    killed_at: Optional[float] = None
    t0 = time.perf_counter()
    end = t0 + args.ha_before + args.ha_after + args.ha_client_timeout + 2.0
    i = 0
    try:
        for _ in range(10_000_000):  # bounded in count (and by `end` in time)
            now = time.perf_counter()
            if victim is None and now >= t0 + args.ha_before:
                q1 = [gateway_queries(n) for n in uw]
                served = [(b or 0) - (a or 0) for a, b in zip(q0, q1)]
                victim = uw[served.index(max(served))] if any(served) else uw[0]
                victim.server.proc.send_signal(sig)
                killed_at = time.perf_counter()
                log(f"HA: {signal.Signals(sig).name} {victim.label} (gateway queries served before: "
                    f"{dict(zip((n.label for n in uw), served))})")
            if i < total and now >= t0 + i / args.ha_rate:
                qid = i % 0xFFFF + 1
                qn = qnames[i % len(qnames)]
                try:
                    sock.send(dnsbench.build_query(qid, qn, "A"))
                    pending[qid] = (now, qn)
                except OSError as e:
                    sent.append((now, False, f"send: {e}"))
                i += 1
            while True:  # drain replies
                try:
                    data = sock.recv(4096)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
                if len(data) < 2:
                    continue
                qid = struct.unpack_from("!H", data, 0)[0]
                if qid not in pending:
                    continue
                t_sent, qn = pending.pop(qid)
                try:
                    ans = dnsbench.parse_response(data, qid, "A")
                except (ValueError, IndexError, struct.error):
                    sent.append((t_sent, False, "unparsable"))
                    continue
                ok = ans.rcode == 0 and ans.addresses == [want[qn]]
                if ok:
                    took.append((t_sent, time.perf_counter() - t_sent))
                ttls.update(rec[2] for rec in ans.records)
                sent.append((t_sent, ok, "ok" if ok else f"rcode {ans.rcode} {ans.addresses}"))
            now = time.perf_counter()
            for qid in [k for k, (ts, _) in pending.items() if now - ts > args.ha_client_timeout]:
                t_sent, _ = pending.pop(qid)
                sent.append((t_sent, False, "no reply"))
            if (i >= total and not pending) or now > end:
                break
            nxt = t0 + i / args.ha_rate if i < total else now + 0.005
            select.select([sock], [], [], min(0.005, max(0.0, nxt - time.perf_counter())))
    finally:
        sock.close()
        if sig == signal.SIGSTOP and victim is not None:
            victim.server.proc.send_signal(signal.SIGCONT)
    for t_sent, _ in pending.values():
        sent.append((t_sent, False, "no reply"))
    assert killed_at is not None and victim is not None
    window = args.ha_timeout
    groups = {"before": [r for r in sent if r[0] < killed_at],
              "first_timeout": [r for r in sent if killed_at <= r[0] < killed_at + window],
              "after": [r for r in sent if r[0] >= killed_at + window]}
    out: Dict[str, object] = {"rate_qps": args.ha_rate, "sent": len(sent), "killed": victim.label,
                              "signal": signal.Signals(sig).name,
                              "client_timeout_s": args.ha_client_timeout, "window_s": window}
    bounds = {"before": (float("-inf"), killed_at), "first_timeout": (killed_at, killed_at + window),
              "after": (killed_at + window, float("inf"))}
    for k, rows in groups.items():
        bad = [r for r in rows if not r[1]]
        lo, hi = bounds[k]
        out[k] = {"sent": len(rows), "failed": len(bad),
                  "failures": sorted({r[2] for r in bad})[:5],
                  "answer_ms": percentiles_ms([t for ts, t in took if lo <= ts < hi]),
                  "slower_than_100ms": sum(1 for ts, t in took if lo <= ts < hi and t > 0.1)}
    slow_late = [ts for ts, t in took if ts >= killed_at and t > 0.1]
    out["last_slow_answer_after_signal_s"] = round(max(slow_late) - killed_at, 3) if slow_late else None
    late = [r for r in sent if not r[1] and r[0] >= killed_at]
    out["answer_ttls"] = sorted(ttls)[:20]
    out["gateway_queries_before_kill"] = {n.label: (b or 0) - (a or 0) for n, a, b in zip(uw, q0, q1)}
    out["last_failure_after_kill_s"] = round(max(r[0] for r in late) - killed_at, 3) if late else None
    if groups["after"] and not any(r[1] for r in groups["after"]):
        raise HarnessError(f"mit answered no query after the {signal.Signals(sig).name} of {victim.label}: "
                           f"{out['after']['failures']}")
    return out


def measure_ha(args, binary: Path, work: Path, started: List[Node], result: Dict) -> None:
    """The label-on-two-nodes section: propagation between uw0 and uw1, then
    queries at mit around the SIGKILL of one uw node."""
    pg = BenchPg(NODE_CPU if args.pin == "split" else None)
    try:
        result["postgresql"] = pg.settings
        mit, ut, uw = ha_cluster(args, binary, work, started, pg.uri)
        log(f"HA: mit, ut, uw0 and uw1 up; mit lists both uw nodes")
        result["propagation"] = ha_propagation(args, uw[0], uw[1])
        p = result["propagation"]["from_good_ms"]
        log(f"HA: uw0 -> uw1: p50 {p['p50']} ms, p99 {p['p99']} ms ({p['n']} samples)")
        for key, sig in (("stop", signal.SIGSTOP), ("kill", signal.SIGKILL)):
            if key == "kill":  # both uw nodes back in mit's view (bounded)
                time.sleep(args.ha_timeout + 1.0)
            result[key] = ha_kill(args, mit, uw, sig)
            k = result[key]
            log(f"HA: {k['sent']} queries at mit; failed before/first timeout/after the {k['signal']}: "
                f"{k['before']['failed']}/{k['first_timeout']['failed']}/{k['after']['failed']}")
        dead = [n.label for n in (mit, ut) if not n.alive()]
        if dead:
            raise HarnessError(f"nodes died: {dead}")
    finally:
        stop_all(started)
        started.clear()
        pg.close()


def print_ha_table(r: Dict, args) -> Dict:
    p, pgs = r["propagation"], r["postgresql"]
    g, s = p["from_good_ms"], p["from_update_sent_ms"]
    prop_ok = g["p99"] is not None and g["p99"] < HA_PROPAGATION_P99_TARGET_MS and not p["missed_2s"]
    kill_ok = all(r[k]["after"]["failed"] == 0 for k in ("stop", "kill"))
    mark = lambda ok: "ok" if ok else "MISS"  # noqa: E731
    print()
    print(f"label on two nodes: uw0 + uw1 on one PostgreSQL {pgs.get('server_version', '').split()[0]} "
          f"(synchronous_commit {pgs.get('synchronous_commit')}, fsync {pgs.get('fsync')}), agents mit + ut; "
          f"--ttl 1, --timeout {args.ha_timeout:g}; "
          + ("nodes and PostgreSQL on CPU 0, clients on CPU 1" if args.pin == "split" else "nothing pinned"))
    print(f"{'measure':<52} {'value':>24} {'target':>10} {'':>4}  notes")
    def slow(group: Dict) -> str:
        a = group["answer_ms"]
        return (f"answered in p50 {fmt(a['p50'], '.1f')} / p99 {fmt(a['p99'], '.1f')} / max {fmt(a['max'], '.0f')} ms"
                + (f", {group['slower_than_100ms']} > 100 ms" if group["slower_than_100ms"] else ""))
    rows = []
    for key in ("kill", "stop"):
        k = r[key]
        rows += [
            (f"queries at mit around {k['signal']} of {k['killed']}: sent", f"{k['sent']:,}", "", "",
             f"{k['rate_qps']:g} q/s for {args.ha_before:g} s + {args.ha_after:g} s, 8 devices; gateway queries "
             "served before: " + ", ".join(f"{n} {v:g}" for n, v in k["gateway_queries_before_kill"].items())),
            ("  failed before the signal", f"{k['before']['failed']} of {k['before']['sent']:,}", "", "",
             slow(k["before"])),
            (f"  failed within the first --timeout ({k['window_s']:g} s) after it",
             f"{k['first_timeout']['failed']} of {k['first_timeout']['sent']:,}", "", "",
             "; ".join(x for x in (", ".join(k["first_timeout"]["failures"]), slow(k["first_timeout"])) if x)),
            ("  failed after that", f"{k['after']['failed']} of {k['after']['sent']:,}", "0",
             mark(k["after"]["failed"] == 0),
             "; ".join(x for x in (", ".join(k["after"]["failures"]), slow(k["after"])) if x)
             + (f"; last failure {k['last_failure_after_kill_s']} s after the signal"
                if k["last_failure_after_kill_s"] is not None else "")
             + (f"; last answer > 100 ms sent {k['last_slow_answer_after_signal_s']} s after the signal"
                if k["last_slow_answer_after_signal_s"] is not None else "")),
        ]
    rows += [
        ("change uw0 /nic/update -> uw1 DNS, ms p50/p90/p99/max",
         " / ".join(fmt(g[x], ".1f") for x in ("p50", "p90", "p99", "max")), "p99 < 100", mark(prop_ok),
         f"n={g['n']}, from 'good'; polled every ~1 ms; {p['missed_2s']} not seen in 2 s"),
        ("  from the update sent, ms p50/p99",
         " / ".join(fmt(s[x], ".1f") for x in ("p50", "p99")), "", "", "includes the commit"),
    ]
    for name, value, target, ok, note in rows:
        print(f"{name:<52} {value:>24} {target:>10} {ok:>4}  {note}".rstrip())
    print(f"a query fails: no right answer within {args.ha_client_timeout:g} s; counted by when it was sent. "
          f"SIGSTOP: the node hangs with its connections open, SIGCONT after the loop. "
          f"targets: no failure after the first timeout {mark(kill_ok)}, propagation p99 < "
          f"{HA_PROPAGATION_P99_TARGET_MS:.0f} ms {mark(prop_ok)} (a missed target does not fail the run)")
    return {**{f"{key}_failed_{x}": r[key][x]["failed"] for key in ("kill", "stop")
               for x in ("before", "first_timeout", "after")},
            "kill_sent": r["kill"]["sent"], "stop_sent": r["stop"]["sent"], "propagation_ms": {x: g[x] for x in ("p50", "p99", "max")},
            "targets": {"no_failure_after_timeout": kill_ok, "propagation_p99_lt_100ms": prop_ok}}


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Cross-agent DNS throughput and latency through a cluster "
                                             "of pweb-node agents on loopback.")
    ap.add_argument("--nodes", type=int, help="agents (2-50; default 10, --quick 3)")
    ap.add_argument("--devices", type=int, help="devices per agent, about (default 20000; --quick 5000)")
    ap.add_argument("--duration", type=float, help="seconds per warm/local dnsperf run (default 10; --quick 2)")
    ap.add_argument("--cold-limit", type=float,
                    help="dnsperf -l of the cold run, which ends earlier when every name was asked once "
                         "(default 30; --quick 5)")
    ap.add_argument("--rounds", type=int, help="warm/local rounds, median reported (default 3; --quick 1)")
    ap.add_argument("--sample", type=int, help="queries per latency sample (default 2000; --quick 200)")
    ap.add_argument("--probes", type=int, help="fresh nodes for agent lookups (default 3; --quick 1)")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf -c (default 4, as bench/dns)")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q (default 100, as bench/dns)")
    ap.add_argument("--pin", choices=("split", "none"), default="split",
                    help="split: nodes on CPU 0, dnsperf and this script on CPU 1 (default); none: no pinning")
    ap.add_argument("--ttl", type=int, default=3600, help="pweb-node --ttl (default 3600: nothing expires)")
    ap.add_argument("--timeout", type=float, default=2.0, help="pweb-node --timeout (default 2)")
    ap.add_argument("--idle-wait", type=float,
                    help="wait up to this long for idle CPUs before each dnsperf run (default 10; --quick 0)")
    ap.add_argument("--start-timeout", type=float, default=60.0, help="seconds for a node to answer")
    ap.add_argument("--converge-timeout", type=float, help="seconds until B sees every record (default 60+2N)")
    ap.add_argument("--build-dir", default=None,
                    help=f"CMake build dir, binary at BUILD/node/pweb-node (default {DEFAULT_BIN_DIR} "
                         "when it exists, else the repo's build/); a dir holding pweb-node itself also works")
    ap.add_argument("--seed", type=int, default=dnsbench.SEED)
    ap.add_argument("--work-dir", help="parent of the temporary directory")
    ap.add_argument("--results", help="JSON output (default results/latest.json; --quick results/quick.json)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, query files)")
    ap.add_argument("--quick", action="store_true", help="CI smoke: 3 nodes x 5,000 devices, seconds per phase")
    ap.add_argument("--links", default="tls,plain",
                    help="agent links to measure, in order: tls (authenticated, the default of "
                         "pweb-node) and/or plain (--gateway-tls false); the first gets the full "
                         "run, the others the throughput phases (default tls,plain)")
    ha = ap.add_mutually_exclusive_group()
    ha.add_argument("--ha", dest="ha_mode", action="store_const", const="only",
                    help="only the label-on-two-nodes section (uw0 + uw1 on one PostgreSQL, mit, ut); "
                         "the default run has it after the cross-agent phases")
    ha.add_argument("--no-ha", dest="ha_mode", action="store_const", const="off",
                    help="skip the label-on-two-nodes section")
    ap.set_defaults(ha_mode="also")
    ap.add_argument("--ha-timeout", type=float, default=1.0,
                    help="--timeout of the nodes in the HA section (default 1)")
    ap.add_argument("--ha-rate", type=float, help="queries/s at mit around the SIGKILL (default 200; --quick 100)")
    ap.add_argument("--ha-before", type=float, help="seconds of queries before the SIGKILL (default 2)")
    ap.add_argument("--ha-after", type=float, help="seconds of queries after the SIGKILL (default 10; --quick 4)")
    ap.add_argument("--ha-client-timeout", type=float, default=3.0,
                    help="a query at mit without the right answer within this many seconds failed (default 3)")
    ap.add_argument("--ha-samples", type=int, help="propagation samples uw0 -> uw1 (default 200; --quick 50)")
    a = ap.parse_args(argv)
    a.links = [m for m in a.links.split(",") if m]
    if not a.links or any(m not in ("tls", "plain") for m in a.links) or len(set(a.links)) != len(a.links):
        ap.error("--links: tls and/or plain, comma-separated")
    a.links_now = a.links[0]
    q = a.quick
    defaults = {"nodes": (10, 3), "devices": (20000, 5000), "duration": (10.0, 2.0), "cold_limit": (30.0, 5.0),
                "rounds": (3, 1), "sample": (2000, 200), "probes": (3, 1), "idle_wait": (10.0, 0.0),
                "ha_rate": (200.0, 100.0), "ha_before": (2.0, 2.0), "ha_after": (10.0, 4.0),
                "ha_samples": (200, 50)}
    for k, (full, quick) in defaults.items():
        if getattr(a, k) is None:
            setattr(a, k, quick if q else full)
    if a.converge_timeout is None:
        a.converge_timeout = 60.0 + 2 * a.nodes
    if not 2 <= a.nodes <= 50:
        ap.error("--nodes must be 2..50")
    if not 100 <= a.devices <= 1_000_000:
        ap.error("--devices must be 100..1000000")
    if not (1 <= a.duration <= 600 and 1 <= a.cold_limit <= 600 and 1 <= a.rounds <= 20):
        ap.error("--duration/--cold-limit 1..600 s, --rounds 1..20")
    if not (10 <= a.sample <= 100_000 and 1 <= a.probes <= 10 and 0 <= a.idle_wait <= 600):
        ap.error("--sample 10..100000, --probes 1..10, --idle-wait 0..600")
    if not (0.05 <= a.ha_timeout <= 10 and 1 <= a.ha_rate <= 5000 and 0.5 <= a.ha_before <= 60
            and a.ha_timeout < a.ha_after <= 300 and a.ha_timeout < a.ha_client_timeout <= 30
            and 1 <= a.ha_samples <= 10_000):
        ap.error("--ha-timeout 0.05..10, --ha-rate 1..5000, --ha-before 0.5..60, --ha-after (--ha-timeout)..300, "
                 "--ha-client-timeout (--ha-timeout)..30, --ha-samples 1..10000")
    if a.results is None:
        a.results = str(HERE / "results" / ("quick.json" if q else "latest.json"))
    a.network_id = random.randint(10_000, 2**31 - 1)
    return a


def find_binary(build_dir: Optional[str]) -> Path:
    if build_dir is None:
        build = DEFAULT_BIN_DIR if DEFAULT_BIN_DIR.exists() else REPO / "build"
    else:
        build = Path(build_dir)
        if not build.is_absolute() and not build.exists() and (REPO / build).exists():
            build = REPO / build
    for cand in (build / "node" / "pweb-node", build / "pweb-node"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return cand.resolve()
    raise StartError(f"pweb-node not found at {build / 'node' / 'pweb-node'} (build it, or pass --build-dir)")


def split_devices(args) -> Dict[str, List[Device]]:
    """bench/dns's generator over N agents: user uUUU belongs to agent
    a(UUU mod N); about --devices per agent, all names distinct."""
    saved = dnsbench.AGENTS
    dnsbench.AGENTS = args.nodes
    try:
        devices = dnsbench.generate_devices(args.nodes * args.devices, args.seed)
    finally:
        dnsbench.AGENTS = saved
    by_agent: Dict[str, List[Device]] = {f"a{i}": [] for i in range(args.nodes)}
    for d in devices:
        by_agent[d.name.rsplit(".", 1)[1]].append(d)
    return by_agent


def measure(args, binary: Path, work: Path, started: List[Node], result: Dict,
            full: bool = True) -> None:
    """One cluster with agent links args.links_now. `full`: also the agent
    lookup and new-agent phases (once per run is enough: links do not matter there)."""
    ports: set = set()
    t0 = time.monotonic()
    by_agent = split_devices(args)
    result["devices_per_agent"] = {k: len(v) for k, v in by_agent.items()}
    log(f"{sum(map(len, by_agent.values())):,} devices over {args.nodes} agents generated "
        f"in {time.monotonic() - t0:.1f} s")

    # Agents: import, then node 0 and the others bootstrapping from it.
    t0 = time.monotonic()
    agents = [Node(label, binary, work, ports, args, devs, "warn") for label, devs in by_agent.items()]
    result["import_s_total"] = round(sum(n.import_s for n in agents), 2)
    first_dht = None
    for n in agents:
        started.append(n)
        n.start(first_dht, args.start_timeout)
        first_dht = first_dht or n.dht
    result["cluster_start_s"] = round(time.monotonic() - t0, 2)
    b, observer = agents[0], agents[1]
    others = agents[1:]
    result["b"] = {"label": b.label, "dns_port": b.dns, "http_port": b.http}
    result["converge_s"] = round(wait_visible(b, [n.label for n in agents], args.converge_timeout), 2)
    log(f"{args.nodes} agents up in {result['cluster_start_s']} s; B ({b.label}) sees every record "
        f"after {result['converge_s']} s more")

    # Names: remote = devices of the other agents, shuffled; disjoint sets for
    # the check, the latency sample and the dnsperf runs.
    rng = random.Random(args.seed + 3)
    remote = [d for n in others for d in n.devices[: -2 * args.probes - 2]]  # tail: agent lookups
    rng.shuffle(remote)
    local = list(b.devices)
    rng.shuffle(local)
    check_remote = [n.devices[0] for n in others] + remote[:10]
    used = {d.name for d in check_remote}
    remote = [d for d in remote if d.name not in used]
    nx_rng = random.Random(args.seed + 4)
    saved = dnsbench.AGENTS
    dnsbench.AGENTS = args.nodes
    try:
        nx = [dnsbench.nonexistent_name(nx_rng, args.nodes * args.devices) for _ in range(6)]
    finally:
        dnsbench.AGENTS = saved
    cases = ([(fqdn(d), d) for d in check_remote] + [(fqdn(d), d) for d in local[:10]]
             + [(f"{name}.{ZONE}".rstrip("."), None) for name in nx])
    result["check"] = check_answers(b, cases, args.timeout + 3)
    log(f"answers check out ({len(cases)} names: remote, local, NXDOMAIN)")

    sample = remote[: args.sample]
    cold_names = remote[args.sample:]
    if len(cold_names) < 1000:
        raise HarnessError(f"only {len(cold_names)} names left for the cold run: raise --devices")
    local_sample = local[10: 10 + args.sample]

    # Latency (sequential client on CPU 1): cold, then the same names warm, then local.
    lat_timeout = args.timeout + 3
    result["latency_cold"] = latency_sample(b.dns, sample, lat_timeout)
    result["latency_warm"] = latency_sample(b.dns, sample, lat_timeout)
    result["latency_local"] = latency_sample(b.dns, local_sample, lat_timeout)
    log("latency ms p50/p99: cold {p50}/{p99}, ".format(**result["latency_cold"])
        + "warm {p50}/{p99}, ".format(**result["latency_warm"])
        + "local {p50}/{p99}".format(**result["latency_local"]))

    # Throughput. Cold: `rounds` disjoint slices of never-asked names, each
    # asked once (-n 1), each slice small enough for B's per-worker answer
    # cache. Warm: the last slice again (after an untimed refill pass), and
    # local, interleaved per round. Then all cold names again at once: more
    # than a worker's cache holds (a diagnostic row).
    slice_len = min(COLD_SLICE, max(1, len(cold_names) // args.rounds))
    slices = [cold_names[i * slice_len:(i + 1) * slice_len] for i in range(args.rounds)]
    slices = [sl for sl in slices if sl]
    cold_runs, asked_all, asked = [], [], []
    for i, sl in enumerate(slices):
        r = run_dnsperf(args, b, agents, [fqdn(d) for d in sl], work, f"cold-{i + 1}", True, args.cold_limit)
        cold_runs.append(r)
        asked = sl[: int(r.get("sent") or r["completed"])]
        asked_all += asked
    result["cold"] = median_run(cold_runs)
    result["cold"].update({k + "_all_rounds": sum(int(r.get(k) or 0) for r in cold_runs)
                           for k in ("completed", "lost", "servfail")})
    warm_names = [fqdn(d) for d in asked]
    local_names = [fqdn(d) for d in local]
    result["warm_refill"] = run_dnsperf(args, b, agents, warm_names, work, "warm-refill", True,
                                        args.cold_limit, maxruns=3)
    runs: Dict[str, List[Dict]] = {"warm": [], "local": []}
    for i in range(args.rounds):
        runs["warm"].append(run_dnsperf(args, b, agents, warm_names, work, f"warm-{i + 1}", False,
                                        args.duration))
        runs["local"].append(run_dnsperf(args, b, agents, local_names, work, f"local-{i + 1}", False,
                                         args.duration))
    result["warm"] = median_run(runs["warm"])
    result["local"] = median_run(runs["local"])
    result["warm_all"] = None
    if len(asked_all) > WORKER_CACHE_ENTRIES:
        result["warm_all"] = run_dnsperf(args, b, agents, [fqdn(d) for d in asked_all], work, "warm-all",
                                         False, args.duration)
    # Diagnostic: the latency sample's names, answered (and cached) before any
    # cold run, so whatever the cache evicted since, not these (if it is fair).
    result["warm_early"] = run_dnsperf(args, b, agents, [fqdn(d) for d in sample], work, "warm-early",
                                       False, args.duration)

    # Still right after the load: names from the cold run, and local ones.
    post = [(fqdn(d), d) for d in rng.sample(asked_all, min(20, len(asked_all)))] + \
           [(fqdn(d), d) for d in local[-10:]]
    check_answers(b, post, args.timeout + 3)

    result["b_cpu_us_cold"] = us_per_query(result["cold"], "b_cpu_s")
    if not full:
        return
    # Agent lookups at fresh nodes, then new agents.
    result["agent_lookup"] = agent_lookups(args, binary, work, ports, first_dht, agents, started)
    al = result["agent_lookup"]["first_query"]
    log(f"agent lookup (first query per agent, {al['n']} samples): p50 {al['p50']} ms, p99 {al['p99']} ms")
    result["new_agent_polled"] = new_agent(args, binary, work, ports, first_dht, b, observer, started,
                                           "new0", poll_b_from_spawn=True)
    result["new_agent_after_record"] = new_agent(args, binary, work, ports, first_dht, b, observer,
                                                 started, "new1", poll_b_from_spawn=False)
    for key in ("new_agent_polled", "new_agent_after_record"):
        r = result[key]
        log(f"{r['label']}: ready {r['ready_s']} s, record at {observer.label} {r['record_visible_s']} s, "
            f"B answered {r['answered_s']} s; B said {r['b_answers_seen']}")
    dead = [n.label for n in started if not n.alive()]
    if dead:
        raise HarnessError(f"nodes died: {dead}")
    result["b_memory_kb"] = dnsbench.memory_kb(b.pid) if b.pid else None


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def fmt(v, spec: str = ",.0f", none: str = "-") -> str:
    return none if v is None else format(v, spec)


def us_per_query(run: Optional[Dict], key: str) -> Optional[float]:
    if not run or not run.get("completed"):
        return None
    return run[key] / run["completed"] * 1e6


def summarise(r: Dict) -> Dict:
    cold, warm, local = r["cold"], r["warm"], r["local"]
    ratio = warm["qps"] / local["qps"] if local.get("qps") else None
    al = r["agent_lookup"]["first_query"]
    return {
        "cold_qps": round(cold["qps"]), "cold_rounds_qps": cold["rounds_qps"],
        "cold_completed": cold["completed_all_rounds"], "cold_lost": cold["lost_all_rounds"],
        "cold_servfail": cold["servfail_all_rounds"],
        "warm_qps": round(warm["qps"]), "local_qps": round(local["qps"]),
        "warm_all_qps": round(r["warm_all"]["qps"]) if r.get("warm_all") else None,
        "warm_over_local": round(ratio, 3) if ratio else None,
        "warm_early_qps": round(r["warm_early"]["qps"]) if r.get("warm_early") else None,
        "b_cpu_us_per_query": {k: None if us_per_query(r.get(k), "b_cpu_s") is None
                               else round(us_per_query(r.get(k), "b_cpu_s"), 1)
                               for k in ("cold", "warm", "local", "warm_all", "warm_early")},
        "b_context_switches_per_query": {k: (r.get(k) or {}).get("b_context_switches_per_query")
                                         for k in ("cold", "warm", "local", "warm_all", "warm_early")},
        "other_agents_cpu_us_per_cold_query": None if us_per_query(cold, "other_nodes_cpu_s") is None
        else round(us_per_query(cold, "other_nodes_cpu_s"), 1),
        "latency_ms": {k: {p: r[f"latency_{k}"][p] for p in ("p50", "p90", "p99", "max")}
                       for k in ("cold", "warm", "local")},
        "agent_lookup_ms": {p: al[p] for p in ("n", "p50", "p90", "p99", "max")},
        "new_agent_answered_polled_s": r["new_agent_polled"]["answered_s"],
        "new_agent_answered_after_record_s": r["new_agent_after_record"]["answered_s"],
        "seed_qps": SEED_QPS, "cold_over_seed": round(cold["qps"] / SEED_QPS, 2),
        "targets": {
            "cold_qps_gt_50000": cold["qps"] > COLD_TARGET_QPS,
            "warm_about_local": ratio is not None and ratio >= WARM_LOCAL_MIN,
            "agent_lookup_p99_lt_50ms": al["p99"] is not None and al["p99"] < AGENT_P99_TARGET_MS,
        },
    }


def print_table(r: Dict, s: Dict, args) -> None:
    cold, warm, local, warm_all = r["cold"], r["warm"], r["local"], r.get("warm_all")
    pin = ("nodes on CPU 0, dnsperf + latency client on CPU 1" if args.pin == "split"
           else "nothing pinned")
    n_dev = sum(r["devices_per_agent"].values())
    mark = lambda ok: "ok" if ok else "MISS"  # noqa: E731
    four = lambda d, spec: " / ".join(fmt(d[p], spec) for p in ("p50", "p90", "p99", "max"))  # noqa: E731
    cpu = s["b_cpu_us_per_query"]
    al, al2 = r["agent_lookup"]["first_query"], r["agent_lookup"]["second_query_same_agent"]
    np_, na = r["new_agent_polled"], r["new_agent_after_record"]
    rounds = lambda run: "" if len(run["rounds_qps"]) < 2 else (  # noqa: E731
        "rounds " + " ".join(f"{q / 1000:.1f}k" for q in run["rounds_qps"]))
    rows = [
        ("cold cache, cross-agent q/s (each name once)", fmt(cold["qps"]), "> 50,000",
         mark(s["targets"]["cold_qps_gt_50000"]), rounds(cold)),
        ("  cold: completed / lost / SERVFAIL",
         f"{s['cold_completed']:,} / {s['cold_lost']:,} / {s['cold_servfail']:,}", "", "", "all rounds"),
        ("warm cache, cross-agent q/s (same names)", fmt(warm["qps"]), "", "",
         f"{warm['names_in_file']:,} names {rounds(warm)}".rstrip()),
        ("local answers q/s (B's own devices)", fmt(local["qps"]), "", "", rounds(local)),
        ("warm / local", fmt(s["warm_over_local"], ".2f"), f">= {WARM_LOCAL_MIN}",
         mark(s["targets"]["warm_about_local"]), ""),
    ]
    if warm_all:
        rows.append(("  warm, every cold name at once q/s", fmt(warm_all["qps"]), "", "",
                     f"{warm_all['names_in_file']:,} names > {WORKER_CACHE_ENTRIES:,}-entry worker cache"))
    if r.get("warm_early"):
        rows.append(("  warm, names cached before the cold runs q/s", fmt(r["warm_early"]["qps"]), "", "",
                     f"{r['warm_early']['names_in_file']:,} names (the latency sample)"))
    csw = s["b_context_switches_per_query"]
    rows += [
        ("B CPU us per query: cold / warm / local",
         " / ".join(fmt(cpu[k], ".1f") for k in ("cold", "warm", "local")), "", "",
         f"+ {fmt(s['other_agents_cpu_us_per_cold_query'], '.1f')} us at the other agents per cold query"
         + (f"; warm-early {cpu['warm_early']:.1f}" if cpu.get("warm_early") is not None else "")),
        ("B context switches per query: cold/warm/local",
         " / ".join(fmt(csw[k], ".2f") for k in ("cold", "warm", "local")), "", "", ""),
        ("latency ms p50/p90/p99/max, cold", four(r["latency_cold"], ".2f"), "", "",
         f"n={r['latency_cold']['n']}, sequential"),
        ("latency ms p50/p90/p99/max, warm", four(r["latency_warm"], ".2f"), "", "", "same names"),
        ("latency ms p50/p90/p99/max, local", four(r["latency_local"], ".2f"), "", "", ""),
        ("agent lookup ms p50/p90/p99/max", four(al, ".1f"), "p99 < 50",
         mark(s["targets"]["agent_lookup_p99_lt_50ms"]),
         f"n={al['n']}: first query per agent at {r['agent_lookup']['probes']} fresh node(s)"),
        ("  then a 2nd device of that agent ms", four(al2, ".2f"), "", "", "record + connection warm"),
        ("new agent s: ready / record seen / B answers",
         " / ".join(fmt(np_[k], ".2f") for k in ("ready_s", "record_visible_s", "answered_s")), "", "",
         "from spawn; B asked every 0.1 s from spawn"),
        ("  B asked once the record is seen",
         " / ".join(fmt(na[k], ".2f") for k in ("ready_s", "record_visible_s", "answered_s")), "", "", ""),
        ("pWeb DNS Gateway 2013 (seed) q/s", fmt(SEED_QPS), "", "", "gateway + agent, its own hardware"),
        ("cold cache / seed", f"{s['cold_over_seed']:.1f}x", "", "", ""),
    ]
    print()
    print(f"bench/cluster: {args.nodes} agents, {n_dev:,} devices (~{args.devices:,} each), B = {r['b']['label']}, "
          f"loopback; {pin}; dnsperf -c {args.clients} -q {args.outstanding}")
    print(f"{'measure':<45} {'value':>27} {'target':>9} {'':>4}  notes")
    for name, value, target, ok, note in rows:
        print(f"{name:<45} {value:>27} {target:>9} {ok:>4}  {note}".rstrip())
    notes = []
    if s["cold_lost"]:
        notes.append(f"cold runs lost {s['cold_lost']} queries")
    if s["cold_servfail"] or warm["servfail"]:
        notes.append(f"SERVFAIL under load: cold {s['cold_servfail']}, warm {warm['servfail']} "
                     f"(--timeout {args.timeout} s)")
    if r["agent_lookup"]["failed"]:
        notes.append(f"agent lookups failed: {r['agent_lookup']['failed'][:5]}")
    if al["n"] < 100:
        notes.append(f"agent lookup p99 of {al['n']} samples is their maximum")
    seen = np_["b_answers_seen"]
    if len(seen) > 1:
        notes.append("new agent, B asked from spawn: " + ", then ".join(f"{a} at {t} s" for t, a in seen))
    for tag, run in (("cold", cold), ("warm", warm), ("local", local)):
        fs = run.get("foreign_cpu_share", {})
        worst = max(list(fs.values()) or [0])
        busy = run.get("cpu_busy_share", {})
        line = f"{tag}: CPU busy {', '.join(f'{k} {v:.0%}' for k, v in sorted(busy.items()))}"
        if worst > 0.05:
            line += (f"; other programs/hypervisor took up to {worst:.0%} of a benchmark CPU "
                     "(shared machine: skewed)")
        notes.append(line)
    for n in notes:
        print(f"note: {n}")
    print(f"targets: {', '.join(f'{k} {mark(v)}' for k, v in s['targets'].items())} "
          "(a missed target does not fail the run)")


def print_links_table(r: Dict, args) -> None:
    """Authenticated (TLS) against plain agent links, measured in this run."""
    links = r.get("links") or {}
    if len(links) < 2:
        return
    print()
    print(f"agent links, same run: {', '.join(links)} (B's CPU per query; cold = each name "
          "once, asked of its agent)")
    cols = list(links)
    print(f"{'measure':<34} " + " ".join(f"{c:>12}" for c in cols) + f" {cols[0] + '/' + cols[1]:>12}")

    def row(name, get, spec=",.0f"):
        vals = [get(links[c]) for c in cols]
        ratio = (vals[0] / vals[1]) if vals[0] and vals[1] else None
        print(f"{name:<34} " + " ".join(f"{fmt(v, spec):>12}" for v in vals) + f" {fmt(ratio, '.2f'):>12}")

    row("cold cross-agent q/s", lambda m: m["cold"]["qps"])
    row("warm cross-agent q/s", lambda m: m["warm"]["qps"])
    row("local q/s", lambda m: m["local"]["qps"])
    row("warm / local", lambda m: m["warm"]["qps"] / m["local"]["qps"] if m["local"]["qps"] else None, ".2f")
    row("B CPU us per cold query", lambda m: m["b_cpu_us_cold"], ".1f")
    row("B CPU us per local query", lambda m: us_per_query(m["local"], "b_cpu_s"), ".1f")
    row("cold latency ms p50", lambda m: m["latency_cold"]["p50"], ".2f")
    row("cold latency ms p99", lambda m: m["latency_cold"]["p99"], ".2f")
    tls = links.get("tls")
    if tls:
        ok = tls["cold"]["qps"] > COLD_TARGET_QPS
        print(f"target: cold cross-agent over TLS > {COLD_TARGET_QPS:,}: {'ok' if ok else 'MISS'}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    try:
        missing = [t for t in ("taskset", "dnsperf") if not shutil.which(t)]
        if missing:
            raise StartError(f"missing tools on PATH: {', '.join(missing)}")
        if args.pin == "split" and (os.cpu_count() or 1) < 2:
            raise StartError("--pin split needs 2 CPUs (use --pin none)")
        binary = find_binary(args.build_dir)
    except StartError as e:
        print(f"bench/cluster: {e}", file=sys.stderr)
        return 2
    if args.pin == "split":
        os.sched_setaffinity(0, {int(CLIENT_CPU)})  # this script = the latency client
    work = Path(tempfile.mkdtemp(prefix="pweb-cluster-bench-", dir=args.work_dir))
    log(f"work dir {work}; pweb-node {binary}; network id {args.network_id}")
    started: List[Node] = []
    result: Dict[str, object] = {}
    status = 0
    t_start = time.monotonic()
    by_links: Dict[str, Dict] = {}
    try:
        for i, mode in enumerate(args.links if args.ha_mode != "only" else []):
            args.links_now = mode
            log(f"--- agent links: {mode}")
            one: Dict[str, object] = {}
            by_links[mode] = one
            mode_work = work / mode
            mode_work.mkdir()
            measure(args, binary, mode_work, started, one, full=i == 0)
            stop_all(started)
            started.clear()
        if by_links:
            result.update(by_links[args.links[0]])
            result["links"] = {m: {k: r.get(k) for k in ("cold", "warm", "local", "b_cpu_us_cold",
                                                         "latency_cold")}
                               for m, r in by_links.items()}
        if args.ha_mode != "off":
            args.links_now = args.links[0]
            log("--- a label on two nodes (uw0 + uw1 on one PostgreSQL)")
            ha_work = work / "ha"
            ha_work.mkdir()
            result["ha"] = {}
            try:
                measure_ha(args, binary, ha_work, started, result["ha"])
            except PgMissing as e:
                if args.ha_mode == "only":
                    raise
                result["ha"] = {"skipped": str(e)}
                log(f"SKIPPED the label-on-two-nodes section: {e}")
    except StartError as e:
        status = 2
        result["error"] = f"start: {e}"
    except (HarnessError, OSError, subprocess.SubprocessError, ValueError) as e:
        status = 1
        result["error"] = f"{type(e).__name__}: {e}"
    except KeyboardInterrupt:
        status = 130
        result["error"] = "interrupted"
    finally:
        died = [n for n in started if n.server and n.server.proc and n.server.proc.poll() is not None]
        stop_all(started)
        leftovers = [n.label for n in started if n.alive()]
        if leftovers:
            log(f"still running after stop: {leftovers}")
    if status == 1 or status == 2:
        print(f"bench/cluster: FAILED: {result['error']}", file=sys.stderr)
        shown = list(dict.fromkeys(died + started[:1] + started[-1:]))[:4]  # dead ones, B, the last
        for n in shown:
            print(f"--- {n.label} (exit {n.server.proc.returncode if n.server and n.server.proc else '-'}) "
                  f"log ---\n{dnsbench.tail(n.log_path, 20)}", file=sys.stderr)
    elif status == 130:
        print("bench/cluster: interrupted; all nodes stopped", file=sys.stderr)
    summary = None
    if status == 0:
        summary = summarise(result) if args.ha_mode != "only" else {}
        if args.ha_mode != "only":
            print_table(result, summary, args)
            print_links_table(result, args)
        if args.ha_mode != "off" and "skipped" in result["ha"]:
            print(f"\nlabel on two nodes: SKIPPED: {result['ha']['skipped']}")
            summary["ha"] = {"skipped": result["ha"]["skipped"]}
        elif args.ha_mode != "off":
            summary["ha"] = print_ha_table(result["ha"], args)
    meta = {
        "nodes": args.nodes, "devices_per_agent_requested": args.devices, "pin": args.pin,
        "node_cpu": NODE_CPU if args.pin == "split" else None,
        "client_cpu": CLIENT_CPU if args.pin == "split" else None,
        "duration": args.duration, "cold_limit": args.cold_limit, "rounds": args.rounds,
        "sample": args.sample, "probes": args.probes, "clients": args.clients,
        "outstanding": args.outstanding, "ttl": args.ttl, "timeout": args.timeout, "seed": args.seed,
        "network_id": args.network_id, "quick": args.quick, "ha": args.ha_mode,
        "ha_timeout": args.ha_timeout, "ha_rate": args.ha_rate, "ha_before": args.ha_before,
        "ha_after": args.ha_after, "ha_client_timeout": args.ha_client_timeout, "ha_samples": args.ha_samples,
        "binary": str(binary), "version": _version(binary), "kernel": platform.release(),
        "cpu_model": dnsbench.cpu_model(), "cpus": os.cpu_count(),
        "dnsperf_version": dnsbench._dnsperf_version(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "total_s": round(time.monotonic() - t_start, 1), "work_dir": str(work) if args.keep else None,
        "seed_figure": dnsbench.SEED_FIGURE,
    }
    out = Path(args.results)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"meta": meta, "summary": summary, "status": status, **result},
                                  indent=2, default=str) + "\n")
        log(f"results written to {out} ({meta['total_s']} s in all)")
    except OSError as e:
        log(f"cannot write {out}: {e}")
    if args.keep:
        log(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return status


def _version(binary: Path) -> Optional[str]:
    try:
        return dnsbench.run_tool([str(binary), "--version"]).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    sys.exit(main())
