#!/usr/bin/python3
"""Registration benchmark: durable updates/s of pweb-node's DynDNS2 endpoint
(`GET /nic/update`, HTTP Basic auth, keep-alive clients driven by wrk) against
RFC 2136 dynamic updates with TSIG on BIND 9 (and Knot DNS), driven by nsupdate.
Also measures how soon after a `good` answer the node's DNS serves the new
address. Every server gets CPU 0 (taskset -c 0), the load generators CPU 1.
See README.md next to this file.

Python 3.11 standard library only (run it with /usr/bin/python3).
"""
from __future__ import annotations

import argparse
import base64
import http.client
import ipaddress
import json
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import (QTYPE, BenchError, StartError, _skip_name, build_query,  # noqa: E402
                      cpu_model, cpu_ticks, fmt, free_port, log, pinned, tail)
from benchpg import BenchPg  # noqa: E402

sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
LUA_SCRIPT = HERE / "nic_update.lua"

AGENT = "uw"                 # --label of the node
SUFFIX = "dht."              # the node's zone suffix (default)
PEER_ZONE = "dyn.test."      # zone of the RFC 2136 peers
PROBE_DEVICE = "probe"       # device label used by the update->answer probe (user u0)
PROBE_NET = ipaddress.IPv4Address("198.18.0.0")   # probe addresses (benchmark range, RFC 2544)
TARGET_RATIO = 10.0
TARGET_RATIO_PG = 5.0        # issue 14: the node on PostgreSQL >= 5x BIND

SERVER_CPU = "0"   # taskset -c for the servers
CLIENT_CPU = "1"   # taskset -c for wrk, nsupdate and the probe

START_TIMEOUT = 60.0      # seconds until a started server must answer
STOP_TIMEOUT = 10.0       # SIGTERM -> SIGKILL
TOOL_TIMEOUT = 60.0
POLL_INTERVAL = 0.1

CLK_TCK = os.sysconf("SC_CLK_TCK")

PEER_KEYS = ("bind", "knot")
PEER_NAMES = {"bind": "BIND 9 nsupdate+TSIG", "knot": "Knot DNS nsupdate+TSIG"}
# pweb-node driven by the same nsupdate+TSIG load as the peers (RFC 2136
# UPDATE on its DNS listener, one device token per nsupdate process as key)
RFC2136_KEY = "pweb2136"
RFC2136_NAME = "pweb-node nsupdate+TSIG"
# pweb-node with its store on PostgreSQL (--store postgresql://...), same wrk load
PG_KEY = "pwebpg"
PG_NAME = "pweb-node /nic/update on PostgreSQL"
SYSTEM_NAMES = {"pweb": "pweb-node", PG_KEY: PG_NAME, RFC2136_KEY: RFC2136_NAME, **PEER_NAMES}
ALL_KEYS = ("pweb", PG_KEY, RFC2136_KEY) + PEER_KEYS


class NotAvailable(BenchError):
    """The node lacks a feature the run needs (e.g. RFC 2136 before issue
    13): the table says n/a with the reason; not a failure of the run."""



def percentile(values: Sequence[float], p: float) -> Optional[float]:
    """Nearest-rank percentile."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


# ---------------------------------------------------------------------------
# A tiny DNS client
# ---------------------------------------------------------------------------


def parse_response(msg: bytes, qid: int) -> Tuple[int, List[str], Optional[int]]:
    """(rcode, A addresses in the answer, SOA serial in the answer or None)."""
    if len(msg) < 12:
        raise ValueError("short reply")
    rid, flags, qd, an, _ns, _ar = struct.unpack_from("!HHHHHH", msg, 0)
    if rid != qid or not flags & 0x8000:
        raise ValueError("not a reply to our query")
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    addrs: List[str] = []
    serial = None
    for _ in range(an):
        off = _skip_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        rdata_off = off
        off += rdlen
        if rtype == QTYPE["A"] and rdlen == 4:
            addrs.append(str(ipaddress.IPv4Address(msg[rdata_off:off])))
        elif rtype == QTYPE["SOA"]:
            p = _skip_name(msg, _skip_name(msg, rdata_off))
            serial = struct.unpack_from("!I", msg, p)[0]
    return flags & 0xF, addrs, serial


class DnsClient:
    """One connected UDP socket to 127.0.0.1:port."""

    def __init__(self, port: int):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(("127.0.0.1", port))

    def close(self) -> None:
        self.sock.close()

    def query(self, name: str, qtype: str, timeout: float = 1.0) -> Optional[Tuple[int, List[str], Optional[int]]]:
        qid = random.randrange(1, 0xFFFF)
        try:
            self.sock.send(build_query(qid, name, qtype))
            deadline = time.monotonic() + timeout
            for _ in range(16):  # skip stray (late) datagrams, bounded
                self.sock.settimeout(max(0.001, deadline - time.monotonic()))
                data = self.sock.recv(65535)
                try:
                    return parse_response(data, qid)
                except (ValueError, struct.error, IndexError):
                    continue
        except OSError:
            return None
        return None

    def query_retry(self, name: str, qtype: str, tries: int = 3) -> Optional[Tuple[int, List[str], Optional[int]]]:
        for _ in range(tries):  # bounded retries for a lost datagram
            ans = self.query(name, qtype)
            if ans is not None:
                return ans
        return None


def dns_once(port: int, name: str, qtype: str, timeout: float = 0.5):
    c = DnsClient(port)
    try:
        return c.query(name, qtype, timeout)
    finally:
        c.close()


# ---------------------------------------------------------------------------
# Processes, CPU accounting
# ---------------------------------------------------------------------------


def run_tool(cmd: Sequence[str], timeout: float = TOOL_TIMEOUT, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, input=stdin,
                          stdin=None if stdin is not None else subprocess.DEVNULL)



def thread_count(pid: int) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def cpu_times() -> Dict[str, List[int]]:
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            f = line.split()
            out[f[0]] = [int(x) for x in f[1:9]]
    return out


def busiest_cpu_share(a: Dict[str, List[int]], b: Dict[str, List[int]]) -> float:
    share = 0.0
    for cpu in b:
        if cpu not in a:
            continue
        d = [y - x for x, y in zip(a[cpu], b[cpu])]
        total = sum(d)
        if total:
            share = max(share, 1.0 - (d[3] + d[4]) / total)  # idle + iowait
    return share


def disk_io_ticks() -> Dict[str, int]:
    """Milliseconds each block device was busy (field 13 of /proc/diskstats)."""
    out = {}
    try:
        for line in Path("/proc/diskstats").read_text().splitlines():
            f = line.split()
            if len(f) >= 13 and not f[2].startswith(("loop", "ram")):
                out[f[2]] = int(f[12])
    except (OSError, ValueError):
        pass
    return out


def wait_for_idle(max_wait: float, threshold: float = 0.10, disk_threshold: float = 0.10) -> Dict[str, object]:
    """Waits (bounded) until no CPU is more than `threshold` busy and no disk
    more than `disk_threshold` busy over one second, so that e.g. a compiler or
    a test suite does not share the CPUs or the disk (fsync latency!) with the
    benchmark."""
    if max_wait <= 0:
        return {"idle": None, "waited_s": 0.0}
    t0 = time.monotonic()
    share = disk = 1.0
    for _ in range(int(max_wait) + 1):
        a, da, ta = cpu_times(), disk_io_ticks(), time.monotonic()
        time.sleep(1.0)
        b, db, tb = cpu_times(), disk_io_ticks(), time.monotonic()
        share = busiest_cpu_share(a, b)
        disk = max([(db[k] - da[k]) / ((tb - ta) * 1000.0) for k in db if k in da] or [0.0])
        if share <= threshold and disk <= disk_threshold:
            return {"idle": True, "waited_s": round(time.monotonic() - t0, 1), "busiest_cpu_share": round(share, 3),
                    "busiest_disk_share": round(disk, 3)}
        if time.monotonic() - t0 >= max_wait:
            break
    log(f"warning: machine still busy (busiest CPU {share:.0%}, busiest disk {disk:.0%}) after waiting "
        f"{time.monotonic() - t0:.0f} s; measuring anyway")
    return {"idle": False, "waited_s": round(time.monotonic() - t0, 1), "busiest_cpu_share": round(share, 3),
            "busiest_disk_share": round(disk, 3)}


class Server:
    """One server process started by us; stopped by pid only."""

    def __init__(self, name: str, cmd: List[str], log_path: Path, ready: Callable[[], bool]):
        self.name = name
        self.cmd = cmd
        self.log_path = log_path
        self.ready = ready
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout: float) -> float:
        log(f"{self.name}: starting: {' '.join(self.cmd)}")
        t0 = time.monotonic()
        with self.log_path.open("w") as logf:
            self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError(f"{self.name} exited with status {self.proc.returncode} before answering; "
                                 f"log {self.log_path}:\n{tail(self.log_path)}")
            if self.ready():
                return time.monotonic() - t0
            time.sleep(POLL_INTERVAL)
        raise StartError(f"{self.name} not ready within {timeout:.0f} s; log {self.log_path}:\n{tail(self.log_path)}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu_ticks(self) -> int:
        return cpu_ticks(self.pid) or 0 if self.proc else 0

    def stop(self, sig: int = signal.SIGTERM) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: no exit {STOP_TIMEOUT:.0f} s after signal {sig}, SIGKILL")
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        return self.proc.returncode


# ---------------------------------------------------------------------------
# pweb-node: wrk against /nic/update
# ---------------------------------------------------------------------------

def ip_of(i: int) -> str:
    """The address request number i sets (same mapping as nic_update.lua)."""
    return str(ipaddress.IPv4Address((10 << 24) + i + 1))


def i_of(ip: str) -> Optional[int]:
    try:
        a = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    if int(a) >> 24 != 10:
        return None
    return int(a) - (10 << 24) - 1


class Fleet:
    """Users u0..u{U-1}, D devices each; request number i updates device
    i % (U*D): d(dev // U).u(dev % U).AGENT to ip_of(i)."""

    def __init__(self, users: int, devices: int):
        self.users = users
        self.devices = devices
        self.passwords = {f"u{k}": secrets.token_urlsafe(12) for k in range(users)}

    @property
    def ndev(self) -> int:
        return self.users * self.devices

    def device_name(self, dev: int) -> str:
        return f"d{dev // self.users}.u{dev % self.users}.{AGENT}"

    def auth(self, user: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{self.passwords[user]}".encode()).decode()


def build_dir(args) -> Path:
    build = Path(args.build_dir)
    if not build.is_absolute() and not build.exists() and (REPO / build).exists():
        build = REPO / build
    return build


def http_get(port: int, path: str, auth: Optional[str] = None, timeout: float = 5.0) -> Tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": auth} if auth else {}
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def node_status(port: int) -> Optional[Dict]:
    try:
        st, body = http_get(port, "/api/v1/status", timeout=1.0)
    except (OSError, http.client.HTTPException):
        return None
    if st != 200:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


def parse_wrk_out(path: Path) -> Dict[str, object]:
    out: Dict[str, object] = {"bad_samples": [], "devices": {}}
    for line in path.read_text().splitlines():
        parts = line.split(" ", 1)
        if parts[0] == "bad":
            out["bad_samples"].append(parts[1] if len(parts) > 1 else "")
        elif parts[0] == "dev":
            dev, sent, acked = (int(x) for x in parts[1].split())
            out["devices"][dev] = (sent, acked)
        elif len(parts) == 2:
            try:
                out[parts[0]] = float(parts[1]) if "." in parts[1] else int(parts[1])
            except ValueError:
                out[parts[0]] = parts[1]
    return out


class NicUpdateClient:
    """A keep-alive HTTP client for /nic/update."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)

    def close(self) -> None:
        self.conn.close()

    def update(self, hostname: str, ip: str, auth: str) -> Tuple[int, str]:
        q = urllib.parse.urlencode({"hostname": hostname, "myip": ip})
        self.conn.request("GET", f"/nic/update?{q}", headers={"Authorization": auth})
        r = self.conn.getresponse()
        body = r.read().decode(errors="replace")
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10.0)
        return r.status, body.strip()


def create_users(binary: Path, data_dir: Path, fleet: Fleet, store: Optional[str] = None) -> float:
    t0 = time.monotonic()
    for user, pw in fleet.passwords.items():
        r = run_tool([str(binary), "user", "add", user, "--password-stdin", "--data-dir", str(data_dir)]
                     + (["--store", store] if store else []), stdin=pw + "\n")
        if r.returncode != 0:
            raise StartError(f"pweb-node user add {user} failed (status {r.returncode}): {r.stdout.strip()}")
    return time.monotonic() - t0


def warm_up(port: int, fleet: Fleet, track: Dict[int, List[int]]) -> Dict[str, object]:
    """One update per user (request numbers 0..U-1, device d0.uK): checks that
    the accounts work and fills the node's verified-credential cache, so that
    the measured runs do not pay the Argon2id verification."""
    c = NicUpdateClient(port)
    t0 = time.monotonic()
    try:
        for i in range(fleet.users):
            dev = i % fleet.ndev
            name = fleet.device_name(dev)
            user = f"u{dev % fleet.users}"
            st, body = c.update(name, ip_of(i), fleet.auth(user))
            if st != 200 or body != f"good {ip_of(i)}":
                raise BenchError(f"warm-up: GET /nic/update?hostname={name}&myip={ip_of(i)} as {user}: "
                                 f"expected 200 'good {ip_of(i)}', got {st} {body[:200]!r}")
            track[dev] = [i, i]
    finally:
        c.close()
    return {"updates": fleet.users, "seconds": round(time.monotonic() - t0, 3)}


def run_wrk_round(node: Server, args, http_port: int, work: Path, fleet: Fleet, authfile: Path,
                  offset: int, rnd: int, store_ticks: Optional[Callable[[], int]] = None) -> Dict[str, object]:
    """store_ticks: CPU ticks of the store's server processes (PostgreSQL),
    reported apart and added to the server's CPU."""
    out_path = work / f"wrk-{rnd}.out"
    cmd = pinned(["wrk", "-t", str(args.wrk_threads), "-c", str(args.connections), "-d", f"{args.duration}s",
                  "--timeout", "10s", "-s", str(LUA_SCRIPT), f"http://127.0.0.1:{http_port}", "--",
                  str(authfile), AGENT, str(fleet.devices), str(offset), str(args.wrk_threads), str(out_path)],
                 CLIENT_CPU)
    idle = wait_for_idle(args.idle_wait)
    st0 = node_status(http_port) or {}
    c0 = node.cpu_ticks()
    s0 = store_ticks() if store_ticks else 0
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=args.duration + 60, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish within {args.duration + 60} s")
    wall = time.monotonic() - t0
    c1 = node.cpu_ticks()
    s1 = store_ticks() if store_ticks else 0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    st1 = node_status(http_port) or {}
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    (work / f"wrk-{rnd}.stdout").write_text(p.stdout)
    if p.returncode != 0 or not out_path.exists():
        raise BenchError(f"wrk failed (status {p.returncode}):\n{p.stdout[-2000:]}")
    if not node.alive():
        raise BenchError(f"pweb-node died during the run; log:\n{tail(node.log_path)}")
    w = parse_wrk_out(out_path)
    dur = w["duration_us"] / 1e6
    node_cpu_s = (c1 - c0) / CLK_TCK
    store_cpu_s = max(0, s1 - s0) / CLK_TCK
    cpu_s = node_cpu_s + store_cpu_s
    good, other = int(w["good"]), int(w["other"])
    errs = {k[len("errors_"):]: w[k] for k in list(w) if k.startswith("errors_")}
    store0, store1 = st0.get("store", {}), st1.get("store", {})
    commits = (store1.get("commits", 0) - store0.get("commits", 0)) if store1 else None
    changes = (store1.get("changes", 0) - store0.get("changes", 0)) if store1 else None
    res = {
        "command": " ".join(cmd),
        "idle_before": idle,
        "duration_s": round(dur, 3),
        "wall_s": round(wall, 3),
        "requests": w["requests"],
        "good": good,
        "other": other,
        "bad_samples": w["bad_samples"],
        "socket_errors": errs,
        "updates_per_s": round(good / dur, 1) if dur else 0.0,
        "latency_ms": {k[len("latency_"):-3]: round(w[k] / 1000.0, 3) for k in w
                       if k.startswith("latency_") and k.endswith("_us")},
        "server_cpu_s": round(cpu_s, 3),
        "server_cpu_utilisation": round(cpu_s / wall, 3) if wall else None,
        "node_cpu_utilisation": round(node_cpu_s / wall, 3) if wall else None,
        "store_server_cpu_utilisation": round(store_cpu_s / wall, 3) if wall and store_ticks else None,
        "updates_per_cpu_s": round(good / cpu_s, 1) if cpu_s > 0 else None,
        "wrk_cpu_s": round(client_cpu, 3),
        "wrk_cpu_utilisation": round(client_cpu / wall, 3) if wall else None,
        "store_commits": commits,
        "store_changes": changes,
        "updates_per_commit": round(changes / commits, 2) if commits else None,
        "devices": w["devices"],
    }
    return res


def probe_update_to_answer(args, http_port: int, dns_port: int, fleet: Fleet) -> Dict[str, object]:
    """Sequential: one /nic/update with a fresh address over a keep-alive
    connection; as soon as `good` arrives, an A query to the node's DNS port.
    Per the contract the very first query must already see the new address."""
    name = f"{PROBE_DEVICE}.u0.{AGENT}"
    qname = f"{name}.{SUFFIX}"
    auth = fleet.auth("u0")
    old_aff = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    except OSError:
        pass
    c = NicUpdateClient(http_port)
    dns = DnsClient(dns_port)
    upd_ms: List[float] = []
    ans_ms: List[float] = []
    stale = 0
    stale_examples: List[str] = []
    last_ip = None
    try:
        # warm: the first update of the probe device creates it
        st, body = c.update(name, str(PROBE_NET + 65535), auth)
        if st != 200 or not body.startswith("good"):
            raise BenchError(f"probe: GET /nic/update?hostname={name}&myip={PROBE_NET + 65535}: "
                             f"expected 200 'good ...', got {st} {body[:200]!r}")
        for k in range(args.probe):
            ip = str(PROBE_NET + k)
            t0 = time.perf_counter()
            st, body = c.update(name, ip, auth)
            t1 = time.perf_counter()
            if st != 200 or body != f"good {ip}":
                raise BenchError(f"probe: GET /nic/update?hostname={name}&myip={ip}: expected 200 'good {ip}', "
                                 f"got {st} {body[:200]!r}")
            last_ip = ip
            seen = None
            for attempt in range(200):  # bounded: 200 queries, ~1 s
                ans = dns.query(qname, "A", timeout=1.0)
                if ans is not None and ans[0] == 0 and ans[1] == [ip]:
                    seen = time.perf_counter()
                    break
                if attempt == 0:
                    stale += 1
                    if len(stale_examples) < 5:
                        stale_examples.append(f"after 'good {ip}': {qname} A -> "
                                              f"{'timeout' if ans is None else f'rcode {ans[0]} {ans[1]}'}")
                time.sleep(0.005)
            if seen is None:
                raise BenchError(f"probe: {qname} A never answered {ip} within 200 queries after 'good {ip}'")
            upd_ms.append((t1 - t0) * 1000.0)
            ans_ms.append((seen - t0) * 1000.0)
    finally:
        c.close()
        dns.close()
        try:
            os.sched_setaffinity(0, old_aff)
        except OSError:
            pass
    return {
        "iterations": len(upd_ms),
        "device": name,
        "last_ip": last_ip,
        "update_rtt_ms": {"p50": round(percentile(upd_ms, 50), 3), "p99": round(percentile(upd_ms, 99), 3),
                          "max": round(max(upd_ms), 3)},
        "update_to_answer_ms": {"p50": round(percentile(ans_ms, 50), 3), "p99": round(percentile(ans_ms, 99), 3),
                                "max": round(max(ans_ms), 3)},
        "stale_first_answers": stale,
        "stale_examples": stale_examples,
    }


def check_dns_sample(dns_port: int, fleet: Fleet, track: Dict[int, List[int]], n: int = 50) -> Dict[str, object]:
    """While the node runs: every sampled device's A answer is an address
    that was sent for it and is not older than its last acknowledged one."""
    rng = random.Random(7)
    devs = rng.sample(sorted(track), min(n, len(track)))
    bad = []
    dns = DnsClient(dns_port)
    try:
        for dev in devs:
            sent, acked = track[dev]
            qname = f"{fleet.device_name(dev)}.{SUFFIX}"
            ans = dns.query_retry(qname, "A")
            got = ans[1] if ans else None
            i = i_of(got[0]) if got and len(got) == 1 else None
            if i is None or i % fleet.ndev != dev or not acked <= i <= sent:
                bad.append(f"{qname} A: got {got if ans else 'no answer'}, want {ip_of(acked)}"
                           + (f" (or a later address up to {ip_of(sent)})" if sent != acked else ""))
    finally:
        dns.close()
    return {"checked": len(devs), "wrong": bad}


def sqlite_device_rows(db_path: Path) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
    if not db_path.exists():
        raise BenchError(f"{db_path} does not exist after the run")
    con = sqlite3.connect(str(db_path), timeout=10.0)
    try:
        return {name: (v4, v6) for name, v4, v6 in con.execute("SELECT name, ipv4, ipv6 FROM devices")}
    finally:
        con.close()


def check_db(rows: Dict[str, Tuple[Optional[str], Optional[str]]], fleet: Fleet, track: Dict[int, List[int]],
             probe: Optional[Dict]) -> Dict[str, object]:
    """After the node stopped, the store's devices rows: one per updated
    device, each with the last acknowledged address (or a later one that was
    sent but whose answer the client never read because the run ended)."""
    wrong: List[str] = []
    newer = 0
    for dev, (sent, acked) in sorted(track.items()):
        name = fleet.device_name(dev)
        row = rows.get(name)
        if row is None:
            wrong.append(f"{name}: no row, want ipv4 {ip_of(acked)}")
            continue
        i = i_of(row[0]) if row[0] else None
        if i is None or i % fleet.ndev != dev or not acked <= i <= sent:
            wrong.append(f"{name}: ipv4 {row[0]!r}, want {ip_of(acked)}"
                         + (f" (or a later sent address up to {ip_of(sent)})" if sent != acked else ""))
        elif i > acked:
            newer += 1
    expected_rows = len(track)
    if probe:
        expected_rows += 1
        row = rows.get(probe["device"])
        if row is None or row[0] != probe["last_ip"]:
            wrong.append(f"{probe['device']}: ipv4 {row[0] if row else 'no row'!r}, want {probe['last_ip']}")
    no_v4 = sum(1 for v4, _ in rows.values() if not v4)
    if len(rows) != expected_rows:
        wrong.append(f"{len(rows)} device rows, want {expected_rows}")
    if no_v4:
        wrong.append(f"{no_v4} device rows without ipv4")
    return {"rows": len(rows), "expected_rows": expected_rows, "wrong": wrong[:20], "wrong_count": len(wrong),
            "newer_than_acknowledged": newer}


def bench_pweb(args, work: Path, ports: set, result: Dict[str, object], postgresql: bool = False) -> None:
    """postgresql: the node's store on a throwaway PostgreSQL (--store URI)."""
    pg = BenchPg(SERVER_CPU) if postgresql else None
    try:
        _bench_pweb(args, work, ports, result, pg)
    finally:
        if pg is not None:
            pg.close()


def _bench_pweb(args, work: Path, ports: set, result: Dict[str, object], pg: Optional[BenchPg]) -> None:
    binary = (build_dir(args) / "node" / "pweb-node").resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise StartError(f"pweb-node binary not found at {binary} (build it, or pass --build-dir)")
    if not LUA_SCRIPT.is_file():
        raise StartError(f"{LUA_SCRIPT} missing")
    if pg:
        work = work / "postgresql"   # wrk outputs, auth file, log apart from the SQLite run's
        work.mkdir()
    data_dir = work / "pweb-data"
    data_dir.mkdir()
    fleet = Fleet(args.users, args.devices)
    store = ["--store", pg.uri] if pg else []
    log(f"pweb-node{' (PostgreSQL)' if pg else ''}: adding {args.users} users")
    users_s = create_users(binary, data_dir, fleet, pg.uri if pg else None)
    authfile = work / "auth.txt"
    authfile.write_text("".join(f"{u}\t{fleet.auth(u)}\n" for u in fleet.passwords))
    dns_port, http_port = free_port(ports), free_port(ports)
    cmd = pinned([str(binary), "--label", AGENT, "--data-dir", str(data_dir),
                  "--dns-listen", f"127.0.0.1:{dns_port}", "--http-listen", f"127.0.0.1:{http_port}",
                  "--threads", "1", "--log-level", "warn", "--dht-port", "0",
                  "--gateway-listen", "127.0.0.1:0", "--identity-bits", "2048"] + store, SERVER_CPU)
    node = Server("pweb-node", cmd, work / "pweb-node.log", lambda: node_status(http_port) is not None)
    if pg:
        result["postgresql"] = pg.settings
    result.update({"system": PG_NAME if pg else "pweb-node /nic/update", "command": " ".join(cmd),
                   "version": run_tool([str(binary), "--version"]).stdout.strip(),
                   "users": args.users, "devices_per_user": args.devices,
                   "user_add_s": round(users_s, 2), "connections": args.connections,
                   "wrk_threads": args.wrk_threads})
    track: Dict[int, List[int]] = {}   # dev -> [highest i sent, highest i acknowledged]
    stop_sig = signal.SIGKILL if args.stop_signal == "kill" else signal.SIGTERM
    stopped = False
    try:
        result["start_s"] = round(node.start(args.start_timeout), 3)
        result["warm_up"] = warm_up(http_port, fleet, track)
        offset = args.users
        runs = []
        for rnd in range(1, args.rounds + 1):
            log(f"pweb-node: wrk round {rnd}/{args.rounds}: -t{args.wrk_threads} -c{args.connections} "
                f"-d{args.duration}s")
            r = run_wrk_round(node, args, http_port, work, fleet, authfile, offset, rnd,
                              pg.cpu_ticks if pg else None)
            for dev, (sent, acked) in r.pop("devices").items():
                t = track.setdefault(dev, [-1, -1])
                t[0] = max(t[0], sent)
                t[1] = max(t[1], acked)
                offset = max(offset, sent + 1)
            log(f"pweb-node: round {rnd}: {r['updates_per_s']:,.0f} updates/s, {r['other']} non-good answers, "
                f"p50 {r['latency_ms'].get('p50')} ms, p99 {r['latency_ms'].get('p99')} ms, "
                f"{r['updates_per_commit']} updates/commit")
            runs.append(r)
            if r["other"] or any(r["socket_errors"].values()):
                raise BenchError(f"pweb-node: {r['other']} answers other than 'good' out of {r['requests']} "
                                 f"(socket errors {r['socket_errors']}); first: {r['bad_samples']}")
            if offset >= (1 << 24) - 2:
                raise BenchError("request numbers exhausted the 10.0.0.0/8 address mapping")
        chosen = sorted(runs, key=lambda r: r["updates_per_s"])[(len(runs) - 1) // 2]
        result["load"] = dict(chosen, round_chosen=runs.index(chosen) + 1)
        result["rounds"] = runs
        result["threads_after_load"] = thread_count(node.pid)
        result["dns_check"] = check_dns_sample(dns_port, fleet, track)
        if result["dns_check"]["wrong"]:
            raise BenchError("pweb-node: wrong DNS answers after the run: " + "; ".join(result["dns_check"]["wrong"][:5]))
        log(f"pweb-node: update->answer probe, {args.probe} iterations")
        result["probe"] = probe_update_to_answer(args, http_port, dns_port, fleet)
        rc = node.stop(stop_sig)
        stopped = True
        result["exit_status"] = rc
        result["stop_signal"] = args.stop_signal
        if stop_sig == signal.SIGTERM and rc != 0:
            raise BenchError(f"pweb-node exited with status {rc} after SIGTERM; log:\n{tail(node.log_path)}")
        rows = pg.device_rows() if pg else sqlite_device_rows(data_dir / "pweb.db")
        result["durability"] = check_db(rows, fleet, track, result["probe"])
        d = result["durability"]
        log(f"pweb-node: database after stop: {d['rows']} rows, {d['wrong_count']} wrong, "
            f"{d['newer_than_acknowledged']} newer than acknowledged (in flight at the end)")
        if d["wrong_count"]:
            raise BenchError("pweb-node: database does not hold the acknowledged addresses: "
                             + "; ".join(d["wrong"][:5]))
        if result["probe"]["stale_first_answers"]:
            raise BenchError(f"pweb-node: {result['probe']['stale_first_answers']}/{result['probe']['iterations']} "
                             f"DNS queries right after 'good' did not see the new address: "
                             + "; ".join(result["probe"]["stale_examples"]))
    finally:
        if not stopped:
            result["exit_status"] = node.stop()


# ---------------------------------------------------------------------------
# RFC 2136 peers: BIND 9 and Knot DNS, driven by nsupdate
# ---------------------------------------------------------------------------

ZONE_FILE = f"""$ORIGIN {PEER_ZONE}
$TTL 60
@ IN SOA ns1 hostmaster 1 3600 600 86400 60
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


def make_tsig_key(d: Path) -> Tuple[Path, str, str]:
    if not shutil.which("tsig-keygen"):
        raise StartError("tsig-keygen not found on PATH (Debian package bind9)")
    r = run_tool(["tsig-keygen", "-a", "hmac-sha256", "upd"])
    if r.returncode != 0:
        raise StartError(f"tsig-keygen failed: {r.stdout}")
    m = re.search(r'secret\s+"([^"]+)"', r.stdout)
    if not m:
        raise StartError(f"cannot parse tsig-keygen output: {r.stdout}")
    path = d / "upd.key"
    path.write_text(r.stdout)
    return path, "hmac-sha256", m.group(1)


def soa_ready(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        ans = dns_once(port, PEER_ZONE, "SOA")
        return ans is not None and ans[0] == 0 and ans[2] is not None
    return ready


def setup_bind(work: Path, ports: set) -> Tuple[Server, Path, Dict]:
    for tool in ("named", "named-checkconf"):
        if not shutil.which(tool):
            raise StartError(f"{tool} not found on PATH (Debian package bind9)")
    d = work / "bind"
    d.mkdir()
    keyfile, _alg, _secret = make_tsig_key(d)
    (d / "dyn.test.zone").write_text(ZONE_FILE)
    port = free_port(ports)
    conf = d / "named.conf"
    conf.write_text(f"""# generated by bench/update/run.py
options {{
    directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    recursion no;
    dnssec-validation no;
    notify no;
}};
controls {{ }};
logging {{
    channel warn_file {{ file "{d}/named-internal.log"; severity warning; print-time yes; }};
    category default {{ warn_file; }};
    category update {{ warn_file; }};
    category update-security {{ warn_file; }};
}};
include "{keyfile}";
zone "{PEER_ZONE.rstrip('.')}" {{
    type primary;
    file "{d}/dyn.test.zone";
    journal "{d}/dyn.test.zone.jnl";
    allow-update {{ key "upd"; }};
}};
""")
    chk = run_tool(["named-checkconf", str(conf)])
    if chk.returncode != 0:
        raise StartError(f"named-checkconf {conf} failed:\n{chk.stdout}")
    version = run_tool(["named", "-v"]).stdout.strip()
    # -f: foreground with the logging above (warnings only, like a production
    # config that does not log every update); -n 1: one worker thread.
    cmd = pinned(["named", "-f", "-c", str(conf), "-n", "1"], SERVER_CPU)
    server = Server("named", cmd, work / "named.log", soa_ready(port))
    return server, keyfile, {"version": version, "config": str(conf), "port": port,
                             "durability": "journal fsync per update"}


def setup_knot(work: Path, ports: set) -> Tuple[Server, Path, Dict]:
    for tool in ("knotd", "knotc"):
        if not shutil.which(tool):
            raise StartError(f"{tool} not found on PATH (Debian package knot)")
    d = work / "knot"
    (d / "run").mkdir(parents=True)
    (d / "db").mkdir()
    keyfile, alg, secret = make_tsig_key(d)
    (d / "dyn.test.zone").write_text(ZONE_FILE)
    port = free_port(ports)
    conf = d / "knot.conf"
    conf.write_text(f"""# generated by bench/update/run.py
server:
    rundir: "{d}/run"
    user: root:root
    listen: 127.0.0.1@{port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: warning

key:
  - id: upd
    algorithm: {alg}
    secret: {secret}

acl:
  - id: upd
    key: upd
    action: update

database:
    storage: "{d}/db"

template:
  - id: default
    storage: "{d}"
    zonefile-load: whole
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off

zone:
  - domain: {PEER_ZONE}
    file: "{d}/dyn.test.zone"
    acl: upd
""")
    chk = run_tool(["knotc", "-c", str(conf), "conf-check"])
    if chk.returncode != 0:
        raise StartError(f"knotc conf-check {conf} failed:\n{chk.stdout}")
    version = run_tool(["knotd", "-V"]).stdout.splitlines()[0].strip()
    cmd = pinned(["knotd", "-c", str(conf)], SERVER_CPU)
    server = Server("knotd", cmd, work / "knotd.log", soa_ready(port))
    return server, keyfile, {"version": version, "config": str(conf), "port": port,
                             "durability": "journal (LMDB) sync per update transaction"}


def write_nsupdate_scripts(d: Path, port: int, total: int, procs: int, names: int,
                           rnd: int, base: int, zone: str = PEER_ZONE,
                           name_of: Optional[Callable[[int, int], str]] = None,
                           tag: str = "") -> Tuple[List[Path], Dict[str, str]]:
    """`procs` scripts, `total` updates in all, one record per update
    (delete + add of the A record, then send). Process j updates names
    h0-j .. h{names-1}-j in turn (or name_of(k, j)); update number base + m
    sets 10.0.0.0 + m + 1, so every update changes something and the final
    value of every name is known."""
    if name_of is None:
        name_of = lambda k, j: f"h{k}-{j}.{zone}"  # noqa: E731
    paths: List[Path] = []
    final: Dict[str, str] = {}
    per = [total // procs + (1 if j < total % procs else 0) for j in range(procs)]
    m = base
    for j in range(procs):
        path = d / f"nsupdate-{tag}{rnd}-{j}.txt"
        lines = [f"server 127.0.0.1 {port}", f"zone {zone}"]
        for k in range(per[j]):
            name = name_of(k % names, j)
            ip = ip_of(m % ((1 << 24) - 2))
            m += 1
            lines += [f"update delete {name} A", f"update add {name} 60 A {ip}", "send"]
            final[name] = ip
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths, final


def run_nsupdate_round(server: Server, port: int, keyfile, args, n: int, d: Path, rnd: int,
                       zone: str = PEER_ZONE, procs_n: Optional[int] = None,
                       name_of: Optional[Callable[[int, int], str]] = None,
                       status_port: Optional[int] = None, tag: str = "") -> Dict[str, object]:
    """`keyfile`: one key file for every process, or a list with one per
    process (pweb-node: one device token each). With `status_port` (pweb-node)
    the group-commit size comes from /api/v1/status instead of the SOA serial."""
    procs_n = procs_n or args.nsupdate_procs
    keyfiles = keyfile if isinstance(keyfile, list) else [keyfile] * procs_n
    scripts, final = write_nsupdate_scripts(d, port, n, procs_n, args.peer_names, rnd, (rnd - 1) * n,
                                            zone=zone, name_of=name_of, tag=tag)
    idle = wait_for_idle(args.idle_wait)
    dns = DnsClient(port)
    try:
        st0 = (node_status(status_port) or {}) if status_port else {}
        ans0 = dns.query_retry(zone, "SOA")
        serial0 = ans0[2] if ans0 else None
        c0 = server.cpu_ticks()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        timeout = max(30.0, n / 20.0)  # bounded: fails below 20 updates/s
        procs = []
        t0 = time.monotonic()
        for j, s in enumerate(scripts):
            procs.append(subprocess.Popen(pinned(["nsupdate", "-k", str(keyfiles[j]), str(s)], CLIENT_CPU),
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                          stdin=subprocess.DEVNULL))
        outputs = []
        failed = []
        for j, p in enumerate(procs):
            try:
                out, _ = p.communicate(timeout=max(1.0, t0 + timeout - time.monotonic()))
            except subprocess.TimeoutExpired:
                for q in procs:
                    if q.poll() is None:
                        q.kill()
                for q in procs:
                    q.wait(timeout=10)
                raise BenchError(f"{server.name}: {n} updates did not finish within {timeout:.0f} s")
            outputs.append(out)
            if p.returncode != 0 or out.strip():
                failed.append(f"nsupdate {scripts[j].name}: status {p.returncode}: {out.strip()[:300]}")
        elapsed = time.monotonic() - t0
        c1 = server.cpu_ticks()
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        if failed:
            raise BenchError(f"{server.name}: " + "; ".join(failed[:3]))
        if not server.alive():
            raise BenchError(f"{server.name} died during the run; log:\n{tail(server.log_path)}")
        ans1 = dns.query_retry(zone, "SOA")
        serial1 = ans1[2] if ans1 else None
        st1 = (node_status(status_port) or {}) if status_port else {}
        wrong = []
        for name, ip in sorted(final.items()):
            ans = dns.query_retry(name, "A")
            if ans is None or ans[0] != 0 or ans[1] != [ip]:
                wrong.append(f"{name} A: got {ans[1] if ans else 'no answer'}, want {ip}")
        if wrong:
            raise BenchError(f"{server.name}: wrong answers after the updates: " + "; ".join(wrong[:5]))
    finally:
        dns.close()
    cpu_s = (c1 - c0) / CLK_TCK
    serial_delta = (serial1 - serial0) % (1 << 32) if serial0 is not None and serial1 is not None else None
    per_commit = round(n / serial_delta, 2) if serial_delta else None
    commits = None
    if status_port:
        s0, s1 = st0.get("store", {}), st1.get("store", {})
        commits = (s1.get("commits", 0) - s0.get("commits", 0)) if s0 and s1 else None
        per_commit = round(n / commits, 2) if commits else None
    return {
        "idle_before": idle, "updates": n, "nsupdate_processes": len(scripts), "elapsed_s": round(elapsed, 3),
        "updates_per_s": round(n / elapsed, 1), "serial_delta": serial_delta,
        # peers: each SOA serial increment is one zone transaction (one
        # journal sync); pweb-node: store commits from /api/v1/status
        "updates_per_commit": per_commit, "store_commits": commits,
        "names_checked": len(final),
        "server_cpu_s": round(cpu_s, 3), "server_cpu_utilisation": round(cpu_s / elapsed, 3),
        "updates_per_cpu_s": round(n / cpu_s, 1) if cpu_s > 0 else None,
        "nsupdate_cpu_s": round(client_cpu, 3),
    }


def bench_peer(key: str, args, work: Path, ports: set, result: Dict[str, object]) -> None:
    if not shutil.which("nsupdate"):
        raise StartError("nsupdate not found on PATH (Debian package bind9-dnsutils)")
    setup = {"bind": setup_bind, "knot": setup_knot}[key]
    server, keyfile, extra = setup(work, ports)
    n = args.bind_updates if key == "bind" else args.knot_updates
    result.update({"system": PEER_NAMES[key], "command": " ".join(server.cmd), **extra})
    try:
        result["start_s"] = round(server.start(args.start_timeout), 3)
        runs = []
        for rnd in range(1, args.rounds + 1):
            log(f"{server.name}: round {rnd}/{args.rounds}: {n} updates from {args.nsupdate_procs} nsupdate processes")
            r = run_nsupdate_round(server, extra["port"], keyfile, args, n, keyfile.parent, rnd)
            log(f"{server.name}: round {rnd}: {r['updates_per_s']:,.0f} updates/s "
                f"(serial +{r['serial_delta']}, cpu {r['server_cpu_s']:.2f} s)")
            runs.append(r)
        chosen = sorted(runs, key=lambda r: r["updates_per_s"])[(len(runs) - 1) // 2]
        result["load"] = dict(chosen, round_chosen=runs.index(chosen) + 1)
        result["rounds"] = runs
        result["threads_after_load"] = thread_count(server.pid)
    finally:
        result["exit_status"] = server.stop()


# ---------------------------------------------------------------------------
# pweb-node: the peers' nsupdate+TSIG load through RFC 2136 on its DNS port
# ---------------------------------------------------------------------------

RFC2136_USER = "u0"


def _json_request(port: int, method: str, path: str, auth: str, body: object) -> Tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
    try:
        conn.request(method, path, body=json.dumps(body),
                     headers={"Authorization": auth, "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def rfc2136_feature_probe(port: int, zone: str, name: str, keyfile: Path) -> None:
    """One single update with the first key; an answer that says the node does
    not do RFC 2136 (NOTIMP, FORMERR, REFUSED, NOTAUTH, no answer) -> n/a."""
    script = f"server 127.0.0.1 {port}\nzone {zone}\nupdate delete {name} A\nupdate add {name} 60 A 198.18.255.1\nsend\n"
    try:
        r = run_tool(["nsupdate", "-t", "5", "-k", str(keyfile)], timeout=30.0, stdin=script)
    except subprocess.TimeoutExpired:
        raise NotAvailable("nsupdate got no answer within 30 s")
    if r.returncode != 0 or r.stdout.strip():
        out = " ".join(r.stdout.split())[:160]
        raise NotAvailable(f"first UPDATE: nsupdate status {r.returncode}: {out}")
    ans = dns_once(port, name, "A", timeout=1.0)
    if ans is None or ans[1] != ["198.18.255.1"]:
        raise BenchError(f"UPDATE of {name} answered NOERROR but {name} A -> {ans}")


def bench_pweb_rfc2136(args, work: Path, ports: set, result: Dict[str, object]) -> None:
    """Users: one (u0). Devices r0.u0.uw .. r{P-1}.u0.uw, one per nsupdate
    process, each with a token (`--rfc2136-scope`, default records) used as
    that process's TSIG key. Scope records: process j updates h0.rJ.u0.uw.dht.
    .. h{names-1}.rJ... (A records below its device, like the peers' 50 names);
    scope update: the device's own A. Same scripts and checks as the peers."""
    binary = (build_dir(args) / "node" / "pweb-node").resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise StartError(f"pweb-node binary not found at {binary} (build it, or pass --build-dir)")
    d = work / "pweb-rfc2136"
    data_dir = d / "data"
    data_dir.mkdir(parents=True)
    password = secrets.token_urlsafe(12)
    auth = "Basic " + base64.b64encode(f"{RFC2136_USER}:{password}".encode()).decode()
    r = run_tool([str(binary), "user", "add", RFC2136_USER, "--password-stdin", "--data-dir", str(data_dir)],
                 stdin=password + "\n")
    if r.returncode != 0:
        raise StartError(f"pweb-node user add {RFC2136_USER} failed (status {r.returncode}): {r.stdout.strip()}")
    dns_port, http_port = free_port(ports), free_port(ports)
    cmd = pinned([str(binary), "--label", AGENT, "--data-dir", str(data_dir),
                  "--dns-listen", f"127.0.0.1:{dns_port}", "--http-listen", f"127.0.0.1:{http_port}",
                  "--threads", "1", "--log-level", "warn", "--dht-port", "0",
                  "--gateway-listen", "127.0.0.1:0", "--identity-bits", "2048"], SERVER_CPU)
    node = Server("pweb-node", cmd, d / "pweb-node.log", lambda: node_status(http_port) is not None)
    procs_n = args.pweb_nsupdate_procs or args.nsupdate_procs
    n = args.pweb_rfc2136_updates
    devices = [f"r{j}.{RFC2136_USER}.{AGENT}" for j in range(procs_n)]
    if args.rfc2136_scope == "records":
        name_of = lambda k, j: f"h{k}.{devices[j]}.{SUFFIX}"  # noqa: E731
    else:
        name_of = lambda k, j: f"{devices[j]}.{SUFFIX}"  # noqa: E731
    result.update({"system": RFC2136_NAME, "command": " ".join(cmd),
                   "version": run_tool([str(binary), "--version"]).stdout.strip(), "port": dns_port,
                   "token_scope": args.rfc2136_scope, "nsupdate_processes": procs_n})
    try:
        result["start_s"] = round(node.start(args.start_timeout), 3)
        keyfiles: List[Path] = []
        for j, dev in enumerate(devices):
            path = "/api/v1/devices/" + urllib.parse.quote(dev, safe="")
            st, body = _json_request(http_port, "PUT", path, auth, {"ipv4": f"198.18.1.{j + 1}"})
            if st not in (200, 201):
                raise BenchError(f"PUT {path} answered {st}: {body[:200]}")
            st, body = _json_request(http_port, "POST", path + "/tokens", auth, {"scope": args.rfc2136_scope})
            if st in (404, 405, 501):
                raise NotAvailable(f"POST {path}/tokens answered {st}: no device tokens yet")
            try:
                tok = json.loads(body) if st in (200, 201) else None
            except ValueError:
                tok = None
            if not isinstance(tok, dict) or not isinstance(tok.get("id"), str) or not isinstance(tok.get("token"), str):
                raise BenchError(f'POST {path}/tokens answered {st}, not {{"id", "token"}}: {body[:200]}')
            kf = d / f"token-{j}.key"
            kf.write_text(f'key "{tok["id"]}" {{\n\talgorithm hmac-sha256;\n\tsecret "{tok["token"]}";\n}};\n')
            keyfiles.append(kf)
        rfc2136_feature_probe(dns_port, SUFFIX, name_of(0, 0), keyfiles[0])
        runs = []
        for rnd in range(1, args.rounds + 1):
            log(f"pweb-node RFC 2136: round {rnd}/{args.rounds}: {n} updates from {procs_n} nsupdate processes")
            r = run_nsupdate_round(node, dns_port, keyfiles, args, n, d, rnd, zone=SUFFIX, procs_n=procs_n,
                                   name_of=name_of, status_port=http_port, tag="pweb-")
            log(f"pweb-node RFC 2136: round {rnd}: {r['updates_per_s']:,.0f} updates/s "
                f"({r['updates_per_commit']} updates/commit, cpu {r['server_cpu_s']:.2f} s)")
            runs.append(r)
        chosen = sorted(runs, key=lambda r: r["updates_per_s"])[(len(runs) - 1) // 2]
        result["load"] = dict(chosen, round_chosen=runs.index(chosen) + 1)
        result["rounds"] = runs
        result["threads_after_load"] = thread_count(node.pid)
    finally:
        rc = node.stop()
        result["exit_status"] = rc
        if rc not in (0, None) and "load" in result and "error" not in result:
            raise BenchError(f"pweb-node exited with status {rc} after SIGTERM; log:\n{tail(node.log_path)}")


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def ratio_line(summary: Dict[str, object], num: str, den: str, key: str, label: str,
               target: Optional[float] = None, met_key: Optional[str] = None) -> None:
    """Prints "ratio LABEL: X" (and whether `target` is met) when both rates
    are in `summary`, and records the ratio under `key` (the verdict under
    `met_key`)."""
    if f"{num}_updates_per_s" not in summary or f"{den}_updates_per_s" not in summary:
        return
    ratio = summary[f"{num}_updates_per_s"] / summary[f"{den}_updates_per_s"]
    summary[key] = round(ratio, 2)
    line = f"ratio {label}: {ratio:.2f}"
    if target is not None:
        summary[met_key] = ratio >= target
        line += f" (target >= {target:.0f}: {'met' if ratio >= target else 'NOT met'})"
    print(line)


def print_table(results: Dict[str, Dict], args) -> Dict[str, object]:
    summary: Dict[str, object] = {}
    print()
    print(f"{'system':<30} {'updates/s':>10} {'p50_ms':>7} {'p99_ms':>7} {'cpu%':>5} {'upd/cpu_s':>10}  durable")
    pw = results.get("pweb")
    for key, label, prefix in (("pweb", f"pweb-node /nic/update (c={args.connections})", "pweb"),
                               (PG_KEY, "pweb-node on PostgreSQL", "pwebpg")):
        r = results.get(key)
        if r is None:
            continue
        ld = r.get("load")
        if ld:
            per = ld.get("updates_per_commit")
            if "error" in r:
                dur = "FAILED (see below)"
            elif "durability" in r and key == PG_KEY:
                pgs = r.get("postgresql", {})
                dur = (f"yes (PostgreSQL commit, synchronous_commit={pgs.get('synchronous_commit')}, "
                       f"fsync={pgs.get('fsync')}{f', {per:.1f} updates/commit' if per else ''})")
            elif "durability" in r:
                dur = (f"yes (fsync per group commit, {per:.1f} updates/commit)" if per
                       else "yes (fsync per group commit)")
            else:
                dur = "not checked"
            util = ld["server_cpu_utilisation"]
            print(f"{label:<30} {ld['updates_per_s']:>10,.0f} {fmt(ld['latency_ms'].get('p50'), '.2f'):>7} "
                  f"{fmt(ld['latency_ms'].get('p99'), '.2f'):>7} {fmt(util * 100 if util is not None else None, '.0f'):>5} "
                  f"{fmt(ld['updates_per_cpu_s'], ',.0f'):>10}  {dur}")
            summary[f"{prefix}_updates_per_s"] = ld["updates_per_s"]
            summary[f"{prefix}_latency_ms"] = {k: ld["latency_ms"].get(k) for k in ("p50", "p99")}
        else:
            print(f"{label:<30} FAILED: {r.get('error', '?').splitlines()[0]}")
    r = results.get(RFC2136_KEY)
    if r is not None:
        ld = r.get("load")
        if "na" in r:
            print(f"{RFC2136_NAME:<30} {'n/a':>10}  ({r['na']})")
        elif ld and "error" not in r:
            per = ld.get("updates_per_commit")
            dur = f"yes (fsync per group commit{f', {per:.1f} updates/commit' if per else ''})"
            print(f"{RFC2136_NAME:<30} {ld['updates_per_s']:>10,.0f} {'-':>7} {'-':>7} "
                  f"{ld['server_cpu_utilisation'] * 100:>5.0f} {fmt(ld['updates_per_cpu_s'], ',.0f'):>10}  {dur}")
            summary["pweb_rfc2136_updates_per_s"] = ld["updates_per_s"]
        else:
            print(f"{RFC2136_NAME:<30} FAILED: {r.get('error', '?').splitlines()[0]}")
    for key in PEER_KEYS:
        r = results.get(key)
        if r is None:
            continue
        ld = r.get("load")
        if ld and "error" not in r:
            per = ld.get("updates_per_commit")
            if key == "bind":
                dur = "yes (journal fsync per update)"
            else:
                dur = f"yes (journal sync per batch{f', {per:.1f} updates/batch' if per else ''})"
            print(f"{PEER_NAMES[key]:<30} {ld['updates_per_s']:>10,.0f} {'-':>7} {'-':>7} "
                  f"{ld['server_cpu_utilisation'] * 100:>5.0f} {fmt(ld['updates_per_cpu_s'], ',.0f'):>10}  {dur}")
            summary[f"{key}_updates_per_s"] = ld["updates_per_s"]
        else:
            print(f"{PEER_NAMES[key]:<30} FAILED: {r.get('error', '?').splitlines()[0]}")
    ratio_line(summary, "pweb", "bind", "ratio_pweb_bind", "pweb/BIND", TARGET_RATIO,
               "ratio_target_met")
    ratio_line(summary, "pwebpg", "bind", "ratio_pwebpg_bind", "pweb on PostgreSQL/BIND",
               TARGET_RATIO_PG, "ratio_pg_target_met")
    ratio_line(summary, "pwebpg", "pweb", "ratio_pwebpg_pweb", "pweb on PostgreSQL/pweb on SQLite")
    ratio_line(summary, "pweb", "knot", "ratio_pweb_knot", "pweb/Knot")
    ratio_line(summary, "pweb_rfc2136", "bind", "ratio_pweb_rfc2136_bind",
               "pweb/BIND, both nsupdate+TSIG", TARGET_RATIO, "ratio_rfc2136_target_met")
    ratio_line(summary, "pweb_rfc2136", "knot", "ratio_pweb_rfc2136_knot",
               "pweb/Knot, both nsupdate+TSIG")
    pg = results.get(PG_KEY)
    if pg is not None and "postgresql" in pg:
        pgs = pg["postgresql"]
        ld = pg.get("load") or {}
        print(f"PostgreSQL {pgs.get('server_version')} on CPU {pgs.get('pinned_cpu')} (SHOW synchronous_commit: "
              f"{pgs.get('synchronous_commit')}, SHOW fsync: {pgs.get('fsync')}, wal_sync_method "
              f"{pgs.get('wal_sync_method')}); cpu%: pweb-node "
              f"{fmt((ld.get('node_cpu_utilisation') or 0) * 100 if ld else None, '.0f')} + PostgreSQL "
              f"{fmt((ld.get('store_server_cpu_utilisation') or 0) * 100 if ld else None, '.0f')}")
        summary["postgresql"] = pgs
    if pg is not None and "probe" in pg:
        pr = pg["probe"]
        print(f"on PostgreSQL, update->DNS answer at the same node: p50 {pr['update_to_answer_ms']['p50']:.2f} ms, "
              f"p99 {pr['update_to_answer_ms']['p99']:.2f} ms, stale answers: {pr['stale_first_answers']}/"
              f"{pr['iterations']}")
        summary["pwebpg_probe"] = {k: pr[k] for k in ("update_rtt_ms", "update_to_answer_ms",
                                                      "stale_first_answers", "iterations")}
    if pg is not None and "durability" in pg:
        d = pg["durability"]
        print(f"PostgreSQL devices table after the node's {'SIGKILL' if pg.get('stop_signal') == 'kill' else 'SIGTERM'}: "
              f"{d['rows']} device rows (want {d['expected_rows']}), {d['wrong_count']} problems, "
              f"{d['newer_than_acknowledged']} rows newer than acknowledged")
        summary["pwebpg_durability_ok"] = d["wrong_count"] == 0
    if pw is not None and "probe" in pw:
        pr = pw["probe"]
        print(f"update->DNS answer: p50 {pr['update_to_answer_ms']['p50']:.2f} ms, "
              f"p99 {pr['update_to_answer_ms']['p99']:.2f} ms, stale answers: "
              f"{pr['stale_first_answers']}/{pr['iterations']} (update round trip alone: p50 "
              f"{pr['update_rtt_ms']['p50']:.2f} ms, p99 {pr['update_rtt_ms']['p99']:.2f} ms)")
        summary["probe"] = {k: pr[k] for k in ("update_rtt_ms", "update_to_answer_ms", "stale_first_answers",
                                              "iterations")}
    if pw is not None and "durability" in pw:
        d = pw["durability"]
        print(f"pweb-node database after {'SIGKILL' if pw.get('stop_signal') == 'kill' else 'SIGTERM'}: "
              f"{d['rows']} device rows (want {d['expected_rows']}), {d['wrong_count']} problems, "
              f"{d['newer_than_acknowledged']} rows newer than acknowledged (in flight when wrk stopped)")
        summary["durability_ok"] = d["wrong_count"] == 0
    print(f"servers on CPU {SERVER_CPU}, load generators on CPU {CLIENT_CPU}; p50/p99 = wrk latency under load; "
          f"peers: {args.nsupdate_procs} parallel nsupdate processes, updates/s = updates / elapsed")
    if RFC2136_KEY in results:
        print(f"{RFC2136_NAME}: {args.pweb_nsupdate_procs or args.nsupdate_procs} parallel nsupdate processes, "
              f"one device token (scope {args.rfc2136_scope}) each as TSIG key")
    for key, r in results.items():
        name = SYSTEM_NAMES[key]
        if "error" in r and r.get("load"):
            print(f"note: {name}: FAILED after the load run: {r['error'].splitlines()[0]}")
        idle = [x.get("idle_before", {}) for x in r.get("rounds", [])]
        if any(i.get("idle") is False for i in idle):
            print(f"note: {name}: the machine was busy before a round (numbers are skewed)")
        ld = r.get("load") or {}
        if key in ("pweb", PG_KEY) and ld.get("server_cpu_utilisation") is not None and ld["server_cpu_utilisation"] < 0.8:
            wrk_busy = (ld.get("wrk_cpu_utilisation") or 0) >= 0.9
            print(f"note: {name} only {ld['server_cpu_utilisation']:.0%} busy"
                  + (f", wrk {ld['wrk_cpu_utilisation']:.0%} of its CPU (client-bound)" if wrk_busy
                     else " (latency-bound: more connections may give more)"))
        if key == "bind" and ld.get("serial_delta") not in (None, ld.get("updates")):
            print(f"note: BIND SOA serial advanced by {ld['serial_delta']} for {ld['updates']} updates")
    return summary


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Durable update rate: pweb-node /nic/update vs BIND 9 (and Knot) RFC 2136.")
    ap.add_argument("--systems",
                    help="comma-separated subset of pweb (DynDNS2), pwebpg (DynDNS2, store on PostgreSQL), "
                         "pweb2136 (pweb-node RFC 2136), bind, knot (default pweb,pweb2136,bind,knot; "
                         "with --store postgresql: pweb,pwebpg,bind)")
    ap.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite",
                    help="postgresql: also pweb-node with its store on a throwaway PostgreSQL 15 "
                         "(synchronous_commit on, fsync on), next to SQLite and BIND (issue 14)")
    ap.add_argument("--rfc2136", action="store_true",
                    help="only the nsupdate+TSIG rows: same as --systems pweb2136,bind,knot")
    ap.add_argument("--pweb-rfc2136-updates", type=int,
                    help="updates per pweb-node RFC 2136 round (default 4000; --quick 600)")
    ap.add_argument("--pweb-nsupdate-procs", type=int,
                    help="parallel nsupdate processes against pweb-node (default: --nsupdate-procs)")
    ap.add_argument("--rfc2136-scope", choices=("records", "update"), default="records",
                    help="scope of the device tokens used as TSIG keys: records = A records below the "
                         "device (h0..h{names-1}.rJ.u0.uw), update = the device's own A (default records)")
    ap.add_argument("--build-dir", default=str(REPO / "build"), help="CMake build dir (default: repo build/)")
    ap.add_argument("--users", type=int, help="pweb users u0.. (default 100; --quick 20)")
    ap.add_argument("--devices", type=int, help="devices per user (default 10; --quick 5)")
    ap.add_argument("--duration", type=int, help="wrk -d seconds per round (default 10; --quick 3)")
    ap.add_argument("--connections", type=int, default=32, help="wrk -c (default 32)")
    ap.add_argument("--wrk-threads", type=int, default=1, help="wrk -t (default 1)")
    ap.add_argument("--rounds", type=int, help="rounds per system, the median is reported (default 3; --quick 1)")
    ap.add_argument("--probe", type=int, help="update->answer probe iterations (default 200; --quick 50)")
    ap.add_argument("--bind-updates", type=int, help="updates per BIND round (default 4000; --quick 600)")
    ap.add_argument("--knot-updates", type=int, help="updates per Knot round (default 300; --quick 60)")
    ap.add_argument("--nsupdate-procs", type=int, default=4, help="parallel nsupdate processes (default 4)")
    ap.add_argument("--peer-names", type=int, default=50, help="names per nsupdate process (default 50)")
    ap.add_argument("--stop-signal", choices=("term", "kill"), default="term",
                    help="how to stop pweb-node before the database check (default term)")
    ap.add_argument("--idle-wait", type=float,
                    help="before each round wait up to this many seconds for idle CPUs; 0 = don't "
                         "(default 60; --quick 5)")
    ap.add_argument("--start-timeout", type=float, default=START_TIMEOUT,
                    help=f"seconds a server may take to become ready (default {START_TIMEOUT:.0f})")
    ap.add_argument("--work-dir", help="parent of the temporary directory (default: system temp)")
    ap.add_argument("--results", default=str(HERE / "results" / "latest.json"), help="JSON output path")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test (CI): 20 users x 5 devices, one 3 s wrk run, 600 BIND / 60 Knot updates")
    args = ap.parse_args(argv)
    q = args.quick
    defaults = {"users": (100, 20), "devices": (10, 5), "duration": (10, 3), "rounds": (3, 1), "probe": (200, 50),
                "bind_updates": (4000, 600), "knot_updates": (300, 60), "idle_wait": (60.0, 5.0),
                "pweb_rfc2136_updates": (4000, 600)}
    for k, (full, quick) in defaults.items():
        if getattr(args, k) is None:
            setattr(args, k, quick if q else full)
    keys = []
    if args.rfc2136:
        args.systems = f"{RFC2136_KEY},bind,knot"
    elif args.systems is None:
        args.systems = f"pweb,{PG_KEY},bind" if args.store == "postgresql" else "pweb,pweb2136,bind,knot"
    for s in args.systems.split(","):
        s = {"pweb-node": "pweb", "named": "bind", "bind9": "bind", "knotd": "knot", "pweb-rfc2136": RFC2136_KEY,
             "rfc2136": RFC2136_KEY, "postgresql": PG_KEY}.get(s.strip().lower(), s.strip().lower())
        if s not in ALL_KEYS:
            ap.error(f"unknown system {s!r} (choose from pweb, pwebpg, pweb2136, bind, knot)")
        if s not in keys:
            keys.append(s)
    if args.store == "postgresql" and PG_KEY not in keys:
        keys.insert(keys.index("pweb") + 1 if "pweb" in keys else 0, PG_KEY)
    args.keys = keys
    checks = [(1 <= args.users <= 10000, "--users must be 1..10000"),
              (1 <= args.devices <= 1000, "--devices must be 1..1000"),
              (1 <= args.duration <= 600, "--duration must be 1..600 s"),
              (1 <= args.connections <= 10000, "--connections must be 1..10000"),
              (1 <= args.wrk_threads <= 64, "--wrk-threads must be 1..64"),
              (1 <= args.rounds <= 20, "--rounds must be 1..20"),
              (1 <= args.probe <= 100000, "--probe must be 1..100000"),
              (1 <= args.bind_updates <= 1_000_000, "--bind-updates must be 1..1000000"),
              (1 <= args.knot_updates <= 1_000_000, "--knot-updates must be 1..1000000"),
              (1 <= args.nsupdate_procs <= 64, "--nsupdate-procs must be 1..64"),
              (1 <= args.pweb_rfc2136_updates <= 1_000_000, "--pweb-rfc2136-updates must be 1..1000000"),
              (args.pweb_nsupdate_procs is None or 1 <= args.pweb_nsupdate_procs <= 256,
               "--pweb-nsupdate-procs must be 1..256"),
              (1 <= args.peer_names <= 10000, "--peer-names must be 1..10000"),
              (0 <= args.idle_wait <= 3600, "--idle-wait must be 0..3600 s")]
    for ok, msg in checks:
        if not ok:
            ap.error(msg)
    return args


def preflight(args) -> None:
    tools = ["taskset"]
    if "pweb" in args.keys or PG_KEY in args.keys:
        tools.append("wrk")
    if any(k in PEER_KEYS + (RFC2136_KEY,) for k in args.keys):
        tools.append("nsupdate")
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        raise BenchError(f"missing tools on PATH: {', '.join(missing)} "
                         f"(Debian packages: wrk, bind9-dnsutils, util-linux; see scripts/install-deps.sh --test)")
    if os.cpu_count() and os.cpu_count() < 2:
        raise BenchError("needs at least 2 CPUs (servers on CPU 0, load generators on CPU 1)")


def _version(cmd: List[str]) -> Optional[str]:
    try:
        out = run_tool(cmd).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.splitlines()[0] if out else None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    try:
        preflight(args)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pweb-update-bench-", dir=args.work_dir))
    log(f"work dir {work}")
    t_start = time.monotonic()
    results: Dict[str, Dict] = {}
    failed: List[str] = []
    start_failed = False
    ports: set = set()
    try:
        for key in args.keys:
            name = SYSTEM_NAMES[key]
            results[key] = {"system": name}
            try:
                if key in ("pweb", PG_KEY):
                    bench_pweb(args, work, ports, results[key], postgresql=key == PG_KEY)
                elif key == RFC2136_KEY:
                    bench_pweb_rfc2136(args, work, ports, results[key])
                else:
                    bench_peer(key, args, work, ports, results[key])
            except NotAvailable as e:
                results[key]["na"] = str(e)
                log(f"{name}: n/a: {e}")
            except StartError as e:
                start_failed = True
                failed.append(name)
                results[key]["error"] = f"failed to start: {e}"
                log(f"{name}: FAILED TO START: {e}")
            except (BenchError, subprocess.TimeoutExpired, OSError, sqlite3.Error) as e:
                failed.append(name)
                results[key]["error"] = str(e)
                log(f"{name}: FAILED: {e}")
        summary = print_table(results, args)
        meta = {
            "quick": args.quick, "store": args.store, "users": args.users, "devices_per_user": args.devices,
            "duration": args.duration, "connections": args.connections, "wrk_threads": args.wrk_threads,
            "rounds": args.rounds, "probe_iterations": args.probe, "bind_updates": args.bind_updates,
            "knot_updates": args.knot_updates, "nsupdate_processes": args.nsupdate_procs,
            "pweb_rfc2136_updates": args.pweb_rfc2136_updates, "rfc2136_scope": args.rfc2136_scope,
            "pweb_nsupdate_processes": args.pweb_nsupdate_procs or args.nsupdate_procs,
            "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU, "kernel": platform.release(),
            "cpus": os.cpu_count(), "cpu_model": cpu_model(), "wrk_version": _version(["wrk", "--version"]),
            "nsupdate_version": _version(["nsupdate", "-V"]), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "total_s": round(time.monotonic() - t_start, 1), "work_dir": str(work) if args.keep else None,
        }
        out = Path(args.results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"meta": meta, "summary": summary, "systems": results},
                                  indent=2, default=str) + "\n")
        log(f"results written to {out} ({meta['total_s']:.0f} s in all)")
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"bench: FAILED: {', '.join(failed)} (see messages above and {args.results})", file=sys.stderr)
        return 2 if start_failed else 1
    return 0



if __name__ == "__main__":
    sys.exit(main())
