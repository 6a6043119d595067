#!/usr/bin/python3
"""DNS throughput / CPU / memory benchmark: pweb-node against NSD and Knot DNS.

Generates a deterministic store of N devices (device.user.agent names under the
zone "dht."), loads the same data into pweb-node (via `pweb-node device import`),
NSD and Knot (via a zone file), and runs dnsperf against each server in turn.
Every server gets one worker pinned to CPU 0 (taskset -c 0); dnsperf runs on
CPU 1. See README.md next to this file.

Python 3.11 standard library only (run it with /usr/bin/python3).
"""
from __future__ import annotations

import argparse
import base64
import ipaddress
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchlib import (QTYPE, BenchError, StartError, _skip_name, build_query,  # noqa: E402
                      cpu_model, cpu_ticks, fmt, free_port, log, pinned, process_tree, tail)

sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

ZONE = "dht."
TTL = 60
AGENTS = 10
USERS = 1000
SEED = 20130707
SEED_FIGURE = "pWeb DNS Gateway (2013, seed figure): 7,084 q/s"

SERVER_CPU = "0"   # taskset -c for the server
CLIENT_CPU = "1"   # taskset -c for dnsperf

START_TIMEOUT = 120.0     # seconds until a started server must answer
STOP_TIMEOUT = 10.0       # SIGTERM -> SIGKILL
IMPORT_TIMEOUT = 900.0    # pweb-node device import
TOOL_TIMEOUT = 60.0       # nsd-checkconf, knotc conf-check, version queries
POLL_INTERVAL = 0.2

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

SERVER_KEYS = ("pweb", "nsd", "knot")
SERVER_NAMES = {"pweb": "pweb-node", "nsd": "nsd", "knot": "knot"}
PEERS = ("nsd", "knot")

# Workloads (--mix): "addresses" is the A/AAAA/NXDOMAIN mix; "records" replaces
# 10% of it with TXT/SRV/wildcard queries at RRsets below devices; "both" runs
# the two query files against the same server processes (two tables).
MIXES = ("addresses", "records", "both")
RECORD_DEVICE_SHARE = 10      # every 10th device (seeded sample) holds RRsets
SRV_TARGET = "srv-target.example.net."  # outside the zone: no additional-section lookups anywhere
# Shares of the records mix that are record queries (the rest is the address mix).
RECORD_QUERY_SHARES = (("acme", 0.02), ("apex_txt", 0.02), ("srv", 0.03), ("wild", 0.03))

# Transports (--transports): dnsperf -m. TCP and DoT run over persistent
# connections (one per dnsperf client, queries pipelined up to -q); the UDP run
# is the usual table. Knot 3.2 has no DoT; NSD 4.6 has (tls-port).
TRANSPORTS = ("udp", "tcp", "dot")
NO_DOT = {"knot": "Knot 3.2 has no DNS over TLS"}



# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    name: str              # relative: d123.u045.a3
    ipv4: str
    ipv6: Optional[str]


def generate_devices(n: int, seed: int) -> List[Device]:
    """n devices over USERS users and AGENTS agents; every device has an IPv4
    address, exactly n//10 of them also an IPv6 address. User uNNN belongs to
    agent a(NNN % AGENTS). Device labels are unique (d0 .. d{n-1})."""
    rng = random.Random(seed)
    with_v6 = set(rng.sample(range(n), n // 10))
    out = []
    for i in range(n):
        user = rng.randrange(USERS)
        agent = user % AGENTS
        v4 = str(ipaddress.IPv4Address((10 << 24) | rng.getrandbits(24)))
        v6 = None
        if i in with_v6:
            v6 = str(ipaddress.IPv6Address((0x20010db8 << 96) | rng.getrandbits(96)))
        out.append(Device(f"d{i}.u{user:03d}.a{agent}", v4, v6))
    return out


def nonexistent_name(rng: random.Random, n: int) -> str:
    """A well-formed device name that is not in the store: device labels in
    the store are d0 .. d{n-1}, these use d{n} and up."""
    user = rng.randrange(USERS)
    return f"d{n + rng.randrange(max(10 * n, 1000))}.u{user:03d}.a{user % AGENTS}"


@dataclass
class QueryMix:
    total: int
    a: int
    aaaa: int
    nx: int
    acme: int = 0        # TXT at _acme-challenge.<device>
    apex_txt: int = 0    # TXT at <device>
    srv: int = 0         # SRV at _http._tcp.<device>
    wild: int = 0        # TXT at <random label>.<device>, answered from *.<device>


@dataclass(frozen=True)
class RRset:
    """One RRset below a device, in both forms the servers load: zone-file
    presentation (NSD, Knot) and uncompressed wire rdata (pweb-node's store)."""
    subname: str                 # "" = the device name itself, "*" = wildcard
    rtype: str                   # "TXT" or "SRV"
    text: Tuple[str, ...]
    wire: Tuple[bytes, ...]


def txt_rdata(*strings: str) -> Tuple[str, bytes]:
    """Presentation and wire form of a TXT record of short printable strings
    (no quotes or backslashes: nothing to escape)."""
    wire = b"".join(bytes([len(x)]) + x.encode("ascii") for x in strings)
    return " ".join(f'"{x}"' for x in strings), wire


def name_wire(name: str) -> bytes:
    out = b"".join(bytes([len(l)]) + l.encode("ascii") for l in name.rstrip(".").lower().split("."))
    return out + b"\0"


def srv_rdata(priority: int, weight: int, port: int, target: str) -> Tuple[str, bytes]:
    return (f"{priority} {weight} {port} {target}",
            struct.pack("!HHH", priority, weight, port) + name_wire(target))


def generate_records(devices: Sequence[Device], seed: int) -> Dict[str, List[RRset]]:
    """RRsets for every RECORD_DEVICE_SHARE-th device (seeded sample, its own
    random stream so the devices themselves do not change): a TXT at the
    device, an ACME-style TXT at _acme-challenge, an SRV at _http._tcp and a
    wildcard TXT at *. TTL is the zone's TTL."""
    rng = random.Random(seed + 3)
    chosen = sorted(rng.sample(range(len(devices)), max(1, len(devices) // RECORD_DEVICE_SHARE)))
    out: Dict[str, List[RRset]] = {}
    for i in chosen:
        d = devices[i]
        token = base64.urlsafe_b64encode(rng.randbytes(32)).rstrip(b"=").decode("ascii")
        sets = []
        for sub, (text, wire) in (("", txt_rdata(f"v=spf1 ip4:{d.ipv4} -all")),
                                  ("_acme-challenge", txt_rdata(token)),
                                  ("*", txt_rdata("wildcard", d.name))):
            sets.append(RRset(sub, "TXT", (text,), (wire,)))
        text, wire = srv_rdata(10, 5, rng.randrange(1024, 65536), SRV_TARGET)
        sets.append(RRset("_http._tcp", "SRV", (text,), (wire,)))
        out[d.name] = sets
    return out


def random_label(rng: random.Random) -> str:
    """A label that no device holds a name for ([a-z0-9], never '_' or '*'),
    so that <label>.<device> is answered from the wildcard."""
    return "w" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(7))


def generate_queries(devices: Sequence[Device], count: int, seed: int) -> Tuple[List[str], QueryMix]:
    """dnsperf input lines: 90% A on random devices, 5% AAAA on devices with
    an IPv6 address, 5% A on names that do not exist. Deterministic shuffle."""
    rng = random.Random(seed + 1)
    v6_devices = [d for d in devices if d.ipv6]
    n_a = round(count * 0.90)
    n_aaaa = round(count * 0.05) if v6_devices else 0
    n_nx = count - n_a - n_aaaa
    lines = [f"{rng.choice(devices).name}.dht A" for _ in range(n_a)]
    lines += [f"{rng.choice(v6_devices).name}.dht AAAA" for _ in range(n_aaaa)]
    lines += [f"{nonexistent_name(rng, len(devices))}.dht A" for _ in range(n_nx)]
    rng.shuffle(lines)
    return lines, QueryMix(count, n_a, n_aaaa, n_nx)


def generate_record_queries(devices: Sequence[Device], records: Dict[str, List[RRset]], count: int,
                            seed: int) -> Tuple[List[str], QueryMix]:
    """The mixed workload: 90% the address mix of generate_queries (A, AAAA,
    NXDOMAIN in the same proportions), 10% queries for RRsets below devices
    (RECORD_QUERY_SHARES): TXT at _acme-challenge.<device> and at <device>,
    SRV at _http._tcp.<device>, TXT at <random>.<device> (wildcard).
    Deterministic shuffle."""
    n_records = {kind: round(count * share) for kind, share in RECORD_QUERY_SHARES}
    lines, mix = generate_queries(devices, count - sum(n_records.values()), seed)
    rng = random.Random(seed + 4)
    names = sorted(records)
    for _ in range(n_records["acme"]):
        lines.append(f"_acme-challenge.{rng.choice(names)}.dht TXT")
    for _ in range(n_records["apex_txt"]):
        lines.append(f"{rng.choice(names)}.dht TXT")
    for _ in range(n_records["srv"]):
        lines.append(f"_http._tcp.{rng.choice(names)}.dht SRV")
    for _ in range(n_records["wild"]):
        lines.append(f"{random_label(rng)}.{rng.choice(names)}.dht TXT")
    rng.shuffle(lines)
    return lines, QueryMix(len(lines), mix.a, mix.aaaa, mix.nx, **n_records)


def write_device_file(devices: Sequence[Device], path: Path) -> None:
    with path.open("w") as f:
        f.write(f"# pweb-node benchmark store: {len(devices)} devices\n")
        for d in devices:
            f.write(f"{d.name} {d.ipv4} {d.ipv6 or '-'}\n")


def write_zone_file(devices: Sequence[Device], path: Path,
                    records: Optional[Dict[str, List[RRset]]] = None) -> None:
    records = records or {}
    with path.open("w") as f:
        f.write(f"$ORIGIN {ZONE}\n$TTL {TTL}\n")
        # serial refresh retry expire minimum(negative TTL = --ttl of pweb-node)
        f.write(f"@ IN SOA ns1.{ZONE} hostmaster.{ZONE} 1 3600 600 86400 {TTL}\n")
        f.write(f"@ IN NS ns1.{ZONE}\n")
        f.write("ns1 IN A 127.0.0.1\n")
        for d in devices:
            f.write(f"{d.name} IN A {d.ipv4}\n")
            if d.ipv6:
                f.write(f"{d.name} IN AAAA {d.ipv6}\n")
            for rs in records.get(d.name, ()):
                owner = f"{rs.subname}.{d.name}" if rs.subname else d.name
                for text in rs.text:
                    f.write(f"{owner} IN {rs.rtype} {text}\n")


def store_records(data_dir: Path, records: Dict[str, List[RRset]]) -> int:
    """Writes the RRsets straight into pweb-node's SQLite store after `device
    import` and before the node starts (there is no bulk import for RRsets):
    table rrsets(device, subname, type, ttl, rdata = (u16 length, wire rdata)*)
    and devices.nrrsets, as registrar/src/store.cpp keeps them. Returns the
    number of RRsets written."""
    dbs = [p for p in data_dir.rglob("*") if p.is_file() and _is_sqlite(p)]
    if len(dbs) != 1:
        raise StartError(f"expected one SQLite store under {data_dir}, found {[str(p) for p in dbs]}")
    con = sqlite3.connect(str(dbs[0]), timeout=30)
    try:
        with con:
            rows = [(dev, rs.subname, QTYPE[rs.rtype], TTL,
                     b"".join(struct.pack("!H", len(w)) + w for w in rs.wire))
                    for dev, sets in records.items() for rs in sets]
            con.executemany("INSERT OR REPLACE INTO rrsets(device, subname, type, ttl, rdata) "
                            "VALUES(?,?,?,?,?)", rows)
            for dev, sets in records.items():
                cur = con.execute("UPDATE devices SET nrrsets=? WHERE name=?", (len(sets), dev))
                if cur.rowcount != 1:
                    raise StartError(f"pweb-node store has no device {dev!r} to hold RRsets")
    except sqlite3.Error as e:
        raise StartError(f"writing RRsets into {dbs[0]}: {e}")
    finally:
        con.close()
    return len(rows)


def _is_sqlite(p: Path) -> bool:
    try:
        with p.open("rb") as f:
            return f.read(16) == b"SQLite format 3\0"
    except OSError:
        return False


# ---------------------------------------------------------------------------
# A tiny DNS client (readiness polling and answer checks)
# ---------------------------------------------------------------------------

RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}



@dataclass
class Answer:
    rcode: int
    aa: bool
    addresses: List[str]
    size: int
    counts: Tuple[int, int, int]  # answer, authority, additional
    # Every answer-section record: (owner, type, ttl, rdata); owner lowercase, no final dot.
    records: List[Tuple[str, int, int, bytes]] = field(default_factory=list)


def read_name(msg: bytes, off: int) -> str:
    """The name at `off`, following compression pointers (bounded)."""
    labels: List[str] = []
    for _ in range(128):
        n = msg[off]
        if n == 0:
            return ".".join(labels).lower()
        if n & 0xC0 == 0xC0:
            off = ((n & 0x3F) << 8) | msg[off + 1]
            continue
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    raise ValueError("name too long or pointer loop")


def parse_response(msg: bytes, qid: int, qtype: str) -> Answer:
    if len(msg) < 12:
        raise ValueError("short reply")
    rid, flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg, 0)
    if rid != qid or not flags & 0x8000:
        raise ValueError("not a reply to our query")
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    addrs = []
    records = []
    for _ in range(an):
        owner = read_name(msg, off)
        off = _skip_name(msg, off)
        rtype, _cls, ttl, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        rdata = msg[off:off + rdlen]
        off += rdlen
        records.append((owner, rtype, ttl, rdata))
        if rtype == QTYPE["A"] == QTYPE[qtype] and rdlen == 4:
            addrs.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == QTYPE["AAAA"] == QTYPE[qtype] and rdlen == 16:
            addrs.append(str(ipaddress.IPv6Address(rdata)))
    return Answer(flags & 0xF, bool(flags & 0x0400), addrs, len(msg), (an, ns, ar), records)


def dns_query(port: int, name: str, qtype: str, timeout: float = 1.0) -> Optional[Answer]:
    qid = random.randrange(1, 0xFFFF)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(("127.0.0.1", port))
            s.send(build_query(qid, name, qtype))
            deadline = time.monotonic() + timeout
            for _ in range(16):  # skip stray datagrams, bounded
                s.settimeout(max(0.01, deadline - time.monotonic()))
                data = s.recv(65535)
                try:
                    return parse_response(data, qid, qtype)
                except ValueError:
                    continue
        except OSError:
            return None
    return None


# ---------------------------------------------------------------------------
# /proc accounting
# ---------------------------------------------------------------------------

def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def memory_kb(pid: int) -> Dict[str, int]:
    out: Dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(rest.split()[0])
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key == "Pss":
                out["Pss"] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


PAGEMAP_VIRT_LIMIT = 256 << 30   # bytes of virtual address space scanned per process, at most


def resident_frames(pid: int) -> Optional[set]:
    """Physical page frames resident in a process (needs root: without
    CAP_SYS_ADMIN /proc/PID/pagemap reports frame 0). None if unavailable."""
    page = os.sysconf("SC_PAGE_SIZE")
    frames: set = set()
    scanned = 0
    saw_frame = False
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        with open(f"/proc/{pid}/pagemap", "rb", buffering=0) as pm:
            for line in maps:
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                if line.rstrip().endswith("[vsyscall]"):
                    continue
                scanned += hi - lo
                if scanned > PAGEMAP_VIRT_LIMIT:
                    return None
                first, count = lo // page, (hi - lo) // page
                for chunk in range(first, first + count, 65536):
                    n = min(65536, first + count - chunk)
                    pm.seek(chunk * 8)
                    data = pm.read(n * 8)
                    if data.count(0) == len(data):  # nothing mapped in: skip fast
                        continue
                    for (entry,) in struct.iter_unpack("<Q", data):
                        if entry >> 63:  # present
                            pfn = entry & ((1 << 55) - 1)
                            if pfn:
                                saw_frame = True
                                frames.add(pfn)
    except (OSError, ValueError):
        return None
    return frames if saw_frame else None


def tree_unique_rss_kb(pids: Sequence[int]) -> Optional[int]:
    """Resident memory of a process tree counting each physical page once:
    NSD's server child shares its zone data copy-on-write with the main
    process, so adding up VmRSS would count it twice. For one process this
    equals VmRSS (up to pages mapped twice)."""
    union: set = set()
    for p in pids:
        frames = resident_frames(p)
        if frames is None:
            return None
        union |= frames
    return len(union) * PAGE_KB


def snapshot_memory(pids: Sequence[int]) -> Dict[str, object]:
    per = {str(p): dict(memory_kb(p), comm=comm(p)) for p in pids}
    total = {k: sum(int(v.get(k, 0)) for v in per.values()) for k in ("VmRSS", "VmHWM", "Pss")}
    unique = tree_unique_rss_kb(pids)
    # Fallback without pagemap access: the sum of VmRSS (an over-count for NSD).
    total["tree_rss"] = unique if unique is not None else total["VmRSS"]
    total["tree_rss_exact"] = unique is not None
    return {"total_kb": total, "processes": per}


def snapshot_cpu(pids: Sequence[int]) -> Dict[int, int]:
    out = {}
    for p in pids:
        t = cpu_ticks(p)
        if t is not None:
            out[p] = t
    return out


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------


def run_tool(cmd: Sequence[str], timeout: float = TOOL_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)



class Server:
    """One server process tree started by us; stopped by pid only."""

    def __init__(self, key: str, cmd: List[str], port: int, log_path: Path):
        self.key = key
        self.cmd = cmd
        self.port = port
        # dnsperf -m mode -> port; UDP and TCP share one.
        self.ports: Dict[str, int] = {"udp": port, "tcp": port}
        self.log_path = log_path
        self.proc: Optional[subprocess.Popen] = None
        self.known_pids: set = set()

    def start(self, timeout: float) -> float:
        log(f"{SERVER_NAMES[self.key]}: starting: {' '.join(self.cmd)}")
        t0 = time.monotonic()
        with self.log_path.open("w") as logf:
            self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StartError(f"{SERVER_NAMES[self.key]} exited with status {self.proc.returncode} "
                                 f"before answering; log {self.log_path}:\n{tail(self.log_path)}")
            ans = dns_query(self.port, ZONE, "SOA", timeout=0.5)
            if ans is not None and ans.rcode == 0 and ans.aa:
                self.known_pids.update(self.pids())
                return time.monotonic() - t0
            time.sleep(POLL_INTERVAL)
        raise StartError(f"{SERVER_NAMES[self.key]} did not answer an SOA query for {ZONE} on "
                         f"127.0.0.1:{self.port} within {timeout:.0f} s; log {self.log_path}:\n"
                         f"{tail(self.log_path)}")

    def pids(self) -> List[int]:
        if self.proc is None or self.proc.poll() is not None:
            return []
        pids = process_tree(self.proc.pid)
        self.known_pids.update(pids)
        return pids

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> Optional[int]:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.known_pids.update(process_tree(self.proc.pid))
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log(f"{SERVER_NAMES[self.key]}: no exit {STOP_TIMEOUT:.0f} s after SIGTERM, SIGKILL")
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT)
        # Children (NSD's server and xfrd processes) that outlived their parent.
        for pid in sorted(self.known_pids - {self.proc.pid}):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                if not _pid_alive(pid):
                    break
                try:
                    os.kill(pid, sig)
                except OSError:
                    break
                deadline = time.monotonic() + STOP_TIMEOUT / 2
                while _pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.05)
        return self.proc.returncode


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


# ---------------------------------------------------------------------------
# Server set-up
# ---------------------------------------------------------------------------


def make_tls_cert(work: Path) -> Tuple[Path, Path]:
    """A self-signed P-256 certificate for the DoT listeners (dnsperf does not
    verify it); the same files for every server."""
    cert, key = work / "dot.crt", work / "dot.key"
    if cert.exists():
        return cert, key
    if not shutil.which("openssl"):
        raise StartError("openssl not found on PATH (needed for --transports dot)")
    p = run_tool(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
                  "-out", str(cert)])
    if p.returncode != 0:
        raise StartError(f"openssl could not make the DoT certificate:\n{p.stdout}")
    return cert, key


def setup_pweb(args, work: Path, devices_file: Path, ports: set,
               records: Optional[Dict[str, List[RRset]]] = None) -> Tuple[Server, Dict]:
    build = Path(args.build_dir)
    if not build.is_absolute() and not build.exists() and (REPO / build).exists():
        build = REPO / build  # "--build-dir build" from outside the repo root
    binary = (build / "node" / "pweb-node").resolve()
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        raise StartError(f"pweb-node binary not found at {binary} (build it, or pass --build-dir)")
    data_dir = work / "pweb-data"
    data_dir.mkdir()
    log(f"pweb-node: device import of {devices_file.name}")
    t0 = time.monotonic()
    try:
        imp = run_tool([str(binary), "device", "import", "--data-dir", str(data_dir), str(devices_file)],
                       timeout=IMPORT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise StartError(f"pweb-node device import did not finish within {IMPORT_TIMEOUT:.0f} s")
    import_s = time.monotonic() - t0
    if imp.returncode != 0:
        raise StartError(f"pweb-node device import failed (status {imp.returncode}):\n"
                         + "\n".join("    " + l for l in imp.stdout.splitlines()[-15:]))
    log(f"pweb-node: {imp.stdout.strip()} ({import_s:.1f} s)")
    nrrsets = 0
    if records:
        t1 = time.monotonic()
        nrrsets = store_records(data_dir, records)
        log(f"pweb-node: wrote {nrrsets:,} RRsets of {len(records):,} devices into the store "
            f"({time.monotonic() - t1:.1f} s)")
    port, http_port = free_port(ports), free_port(ports)
    tls = doh_tls_args(args, work)  # one certificate serves DoH and DoT
    cmd = pinned([str(binary), "--data-dir", str(data_dir),
                  "--dns-listen", f"127.0.0.1:{port}", "--http-listen", f"127.0.0.1:{http_port}",
                  "--threads", "1", "--suffix", ZONE, "--ttl", str(TTL), "--log-level", "warn",
                  "--dht-port", "0", "--gateway-listen", "127.0.0.1:0", "--identity-bits", "2048",
                  # One client address at full speed: rate limiting off, as for NSD and Knot.
                  "--rrl-rate", "0"] + tls,
                 SERVER_CPU)
    dot_port = None
    if "dot" in args.transport_keys:
        dot_port = free_port(ports)
        cmd += ["--dot-listen", f"127.0.0.1:{dot_port}"]
        if not tls:
            cert, key = make_tls_cert(work)
            cmd += ["--tls-cert", str(cert), "--tls-key", str(key)]
    version = run_tool([str(binary), "--version"]).stdout.strip()
    store_bytes = sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())
    extra = {"version": version, "import_s": round(import_s, 3), "import_output": imp.stdout.strip(),
             "store_bytes_on_disk": store_bytes, "http_port": http_port, "rrsets_stored": nrrsets,
             # --tls-cert (for DoH or DoT) makes the HTTP API HTTPS.
             "metrics_url": f"{'https' if '--tls-cert' in cmd else 'http'}://127.0.0.1:{http_port}/metrics"}
    server = Server("pweb", cmd, port, work / "pweb-node.log")
    if dot_port:
        server.ports["dot"] = dot_port
    return server, extra


def doh_tls_args(args, work: Path) -> List[str]:
    """--tls-cert/--tls-key for DoH (--doh): a throwaway self-signed certificate."""
    if not getattr(args, "doh", False):
        return []
    cert, key = work / "doh.crt", work / "doh.key"
    p = run_tool(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                  "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)])
    if p.returncode != 0:
        raise StartError(f"openssl could not make the DoH certificate:\n{p.stdout[-2000:]}")
    return ["--tls-cert", str(cert), "--tls-key", str(key)]


def nsd_conf(work: Path, port: int, dot_port: Optional[int] = None) -> str:
    d = work / "nsd"
    tls = ""
    if dot_port:
        cert, key = make_tls_cert(work)
        # DoT on the interface whose port is tls-port.
        tls = (f"    ip-address: 127.0.0.1@{dot_port}\n    tls-port: {dot_port}\n"
               f"    tls-service-key: \"{key}\"\n    tls-service-pem: \"{cert}\"\n")
    return f"""# generated by bench/dns/run.py
server:
    server-count: 1
    ip-address: 127.0.0.1@{port}
{tls}    do-ip4: yes
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "{d}"
    pidfile: "{d}/nsd.pid"
    database: ""
    zonefiles-write: 0
    xfrdfile: "{d}/xfrd.state"
    zonelistfile: "{d}/zone.list"
    logfile: "{d}/nsd-internal.log"
    verbosity: 0
    hide-version: no
    minimal-responses: yes
    refuse-any: yes
    round-robin: no
    # response rate limiting off (compiled in: --enable-ratelimit, default 200 q/s per /24)
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0

remote-control:
    control-enable: no

zone:
    name: "{ZONE}"
    zonefile: "dht.zone"
"""


def setup_nsd(args, work: Path, zone_file: Path, ports: set, records=None) -> Tuple[Server, Dict]:
    for tool in ("nsd", "nsd-checkconf"):
        if not shutil.which(tool):
            raise StartError(f"{tool} not found on PATH")
    d = work / "nsd"
    d.mkdir()
    shutil.copyfile(zone_file, d / "dht.zone")
    port = free_port(ports)
    dot_port = free_port(ports) if "dot" in args.transport_keys else None
    conf = d / "nsd.conf"
    conf.write_text(nsd_conf(work, port, dot_port))
    chk = run_tool(["nsd-checkconf", str(conf)])
    if chk.returncode != 0:
        raise StartError(f"nsd-checkconf {conf} failed:\n{chk.stdout}")
    version = run_tool(["nsd", "-v"]).stdout.splitlines()[0].strip()
    cmd = pinned(["nsd", "-d", "-c", str(conf)], SERVER_CPU)
    server = Server("nsd", cmd, port, work / "nsd.log")
    if dot_port:
        server.ports["dot"] = dot_port
    return server, {"version": version, "config": str(conf)}


def knot_conf(work: Path, port: int) -> str:
    d = work / "knot"
    return f"""# generated by bench/dns/run.py
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

database:
    storage: "{d}/db"

template:
  - id: default
    storage: "{d}"
    journal-content: none
    zonefile-load: whole
    zonefile-sync: -1
    semantic-checks: off

zone:
  - domain: {ZONE}
    file: "{d}/dht.zone"
"""


def setup_knot(args, work: Path, zone_file: Path, ports: set, records=None) -> Tuple[Server, Dict]:
    for tool in ("knotd", "knotc"):
        if not shutil.which(tool):
            raise StartError(f"{tool} not found on PATH")
    d = work / "knot"
    (d / "run").mkdir(parents=True)
    (d / "db").mkdir()
    shutil.copyfile(zone_file, d / "dht.zone")
    port = free_port(ports)
    conf = d / "knot.conf"
    conf.write_text(knot_conf(work, port))
    chk = run_tool(["knotc", "-c", str(conf), "conf-check"])
    if chk.returncode != 0:
        raise StartError(f"knotc conf-check {conf} failed:\n{chk.stdout}")
    version = run_tool(["knotd", "-V"]).stdout.splitlines()[0].strip()
    cmd = pinned(["knotd", "-c", str(conf)], SERVER_CPU)
    return Server("knot", cmd, port, work / "knot.log"), {"version": version, "config": str(conf)}


# ---------------------------------------------------------------------------
# Checks and load
# ---------------------------------------------------------------------------

def check_answers(server: Server, devices: Sequence[Device], seed: int,
                  records: Optional[Dict[str, List[RRset]]] = None) -> Dict[str, object]:
    """A few queries with known answers, so that a server serving wrong data
    (or nothing) cannot produce a good number. Also records response sizes.
    With records: TXT/SRV/wildcard queries on 10 devices that hold RRsets
    must be NOERROR + AA with exactly the stored records, at the query name."""
    rng = random.Random(seed + 2)
    v6 = [d for d in devices if d.ipv6]
    cases: List[Tuple[str, str, int, Optional[str]]] = []
    for d in rng.sample(list(devices), min(20, len(devices))):
        cases.append((f"{d.name}.dht", "A", 0, d.ipv4))
    for d in rng.sample(v6, min(10, len(v6))):
        cases.append((f"{d.name}.dht", "AAAA", 0, d.ipv6))
    for _ in range(10):
        cases.append((f"{nonexistent_name(rng, len(devices))}.dht", "A", 3, None))
    sizes: Dict[str, Tuple[int, Tuple[int, int, int]]] = {}
    for name, qtype, rcode, addr in cases:
        ans = None
        for _ in range(3):  # bounded retries for a lost datagram
            ans = dns_query(server.port, name, qtype, timeout=1.0)
            if ans is not None:
                break
        if ans is None:
            raise BenchError(f"{SERVER_NAMES[server.key]}: no answer to {name} {qtype}")
        want = [addr] if addr else []
        if ans.rcode != rcode or ans.addresses != want or not ans.aa:
            raise BenchError(f"{SERVER_NAMES[server.key]}: {name} {qtype}: got "
                             f"{RCODE_NAMES.get(ans.rcode, ans.rcode)} aa={ans.aa} {ans.addresses}, "
                             f"want {RCODE_NAMES[rcode]} aa=True {want}")
        kind = "nxdomain" if rcode == 3 else qtype
        sizes.setdefault(kind, (ans.size, ans.counts))
    checked = len(cases)
    if records:
        checked += check_record_answers(server, records, rng, sizes)
    return {"checked_queries": checked,
            "response_bytes": {k: v[0] for k, v in sizes.items()},
            "sections_an_ns_ar": {k: list(v[1]) for k, v in sizes.items()}}


def check_record_answers(server: Server, records: Dict[str, List[RRset]], rng: random.Random,
                         sizes: Dict[str, Tuple[int, Tuple[int, int, int]]]) -> int:
    names = sorted(records)
    cases: List[Tuple[str, str, str, Tuple[bytes, ...]]] = []  # kind, qname, qtype, rdata
    for dev in rng.sample(names, min(10, len(names))):
        for rs in records[dev]:
            if rs.subname == "*":
                kind, qname = "wild", f"{random_label(rng)}.{dev}"
            elif rs.subname:
                kind, qname = ("acme" if rs.rtype == "TXT" else "srv"), f"{rs.subname}.{dev}"
            else:
                kind, qname = "apex_txt", dev
            cases.append((kind, f"{qname}.dht", rs.rtype, rs.wire))
    for kind, qname, qtype, want in cases:
        ans = None
        for _ in range(3):  # bounded retries for a lost datagram
            ans = dns_query(server.port, qname, qtype, timeout=1.0)
            if ans is not None:
                break
        if ans is None:
            raise BenchError(f"{SERVER_NAMES[server.key]}: no answer to {qname} {qtype}")
        got = sorted(r[3] for r in ans.records if r[1] == QTYPE[qtype])
        problems = []
        if ans.rcode != 0 or not ans.aa:
            problems.append(f"{RCODE_NAMES.get(ans.rcode, ans.rcode)} aa={ans.aa}, want NOERROR aa=True")
        if got != sorted(want):
            problems.append(f"rdata {[g.hex() for g in got]}, want {[w.hex() for w in want]}")
        if len(ans.records) != len(want):
            problems.append(f"{len(ans.records)} answer records, want {len(want)}")
        owners = {r[0] for r in ans.records}
        if owners and owners != {qname.lower()}:
            problems.append(f"owner {sorted(owners)}, want {qname.lower()}")
        if any(r[2] != TTL for r in ans.records):
            problems.append(f"ttl {[r[2] for r in ans.records]}, want {TTL}")
        if problems:
            raise BenchError(f"{SERVER_NAMES[server.key]}: {qname} {qtype}: " + "; ".join(problems))
        sizes.setdefault(kind, (ans.size, ans.counts))
    return len(cases)


DNSPERF_FIELDS = {
    "sent": r"Queries sent:\s+(\d+)",
    "completed": r"Queries completed:\s+(\d+)",
    "lost": r"Queries lost:\s+(\d+)",
    "interrupted": r"Queries interrupted:\s+(\d+)",
    "run_time_s": r"Run time \(s\):\s+([\d.]+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "avg_latency_s": r"Average Latency \(s\):\s+([\d.]+)",
    "latency_stddev_s": r"Latency StdDev \(s\):\s+([\d.]+)",
    "avg_request_bytes": r"Average packet size:\s+request (\d+)",
    "avg_response_bytes": r"Average packet size:\s+request \d+, response (\d+)",
}


def parse_dnsperf(text: str) -> Dict[str, object]:
    out: Dict[str, object] = {}
    for key, rx in DNSPERF_FIELDS.items():
        m = re.search(rx, text)
        if m:
            out[key] = float(m.group(1)) if "." in m.group(1) else int(m.group(1))
    m = re.search(r"Response codes:\s+(.*)", text)
    if m:
        out["rcodes"] = {name: int(num) for name, num in re.findall(r"([A-Z]+) (\d+)", m.group(1))}
    return out


def cpu_times() -> Dict[str, List[int]]:
    """Per-CPU /proc/stat counters (clock ticks): user nice system idle iowait
    irq softirq steal."""
    out = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            f = line.split()
            out[f[0]] = [int(x) for x in f[1:9]]
    return out


CPU_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_delta(a: Dict[str, List[int]], b: Dict[str, List[int]]) -> Dict[str, Dict[str, int]]:
    return {cpu: dict(zip(CPU_FIELDS, (y - x for x, y in zip(a[cpu], b[cpu])))) for cpu in b if cpu in a}


def busiest_cpu_share(delta: Dict[str, Dict[str, int]]) -> float:
    share = 0.0
    for d in delta.values():
        total = sum(d.values())
        if total:
            share = max(share, 1.0 - (d["idle"] + d["iowait"]) / total)
    return share


def wait_for_idle(max_wait: float, threshold: float = 0.10) -> Tuple[bool, float, float]:
    """Waits (bounded) until no CPU is more than `threshold` busy over one
    second, so that e.g. a compiler run does not share the CPUs with the
    benchmark. Returns (idle, seconds waited, last busiest share)."""
    t0 = time.monotonic()
    share = 1.0
    for _ in range(int(max_wait) + 1):
        a = cpu_times()
        time.sleep(1.0)
        share = busiest_cpu_share(cpu_delta(a, cpu_times()))
        if share <= threshold:
            return True, time.monotonic() - t0, share
        if time.monotonic() - t0 >= max_wait:
            break
    return False, time.monotonic() - t0, share


def udp_counters() -> Dict[str, int]:
    lines = [l.split() for l in Path("/proc/net/snmp").read_text().splitlines() if l.startswith("Udp:")]
    if len(lines) < 2:
        return {}
    return {k: int(v) for k, v in zip(lines[0][1:], lines[1][1:])}


def run_dnsperf_once(server: Server, args, cmd: List[str], out_path: Path) -> Dict[str, object]:
    pids = server.pids()
    mem_before = snapshot_memory(pids)
    udp0 = udp_counters()
    stat0 = cpu_times()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = snapshot_cpu(pids)
    t0 = time.monotonic()
    with out_path.open("w") as outf:
        p = subprocess.Popen(cmd, stdout=outf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            p.wait(timeout=args.duration + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
            raise BenchError(f"dnsperf did not finish within {args.duration + 60} s")
    wall = time.monotonic() - t0
    pids_after = server.pids()
    cpu1 = snapshot_cpu(pids_after)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    stat1 = cpu_times()
    udp1 = udp_counters()
    mem_after = snapshot_memory(pids_after)
    text = out_path.read_text(errors="replace")
    if p.returncode != 0:
        raise BenchError(f"dnsperf exited with status {p.returncode}:\n{text[-2000:]}")
    if not server.alive():
        raise BenchError(f"{SERVER_NAMES[server.key]} died during the run; log:\n{tail(server.log_path)}")
    res = parse_dnsperf(text)
    if "qps" not in res or "completed" not in res:
        raise BenchError(f"cannot parse dnsperf output:\n{text[-2000:]}")
    server_ticks = sum(cpu1[p] - cpu0.get(p, 0) for p in cpu1)
    cpu_s = server_ticks / CLK_TCK
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    run_time = float(res.get("run_time_s") or wall)
    percpu = cpu_delta(stat0, stat1)
    # Process time on each CPU that is neither the server's nor dnsperf's:
    # other programs sharing the machine (softirq time is kernel work for our
    # own packets and is not counted here; steal is the hypervisor's).
    foreign = {}
    for cpu, own in ((f"cpu{SERVER_CPU}", server_ticks), (f"cpu{CLIENT_CPU}", client_cpu * CLK_TCK)):
        d = percpu.get(cpu)
        if d:
            total = sum(d.values()) or 1
            busy = d["user"] + d["nice"] + d["system"]
            foreign[cpu] = round(max(0.0, busy - own) / total, 3)
            foreign[cpu + "_steal"] = round(d["steal"] / total, 3)
    res.update({
        "command": " ".join(cmd),
        "server_cpu_s": round(cpu_s, 3),
        "server_cpu_by_process": {f"{p} {comm(p)}": round((cpu1[p] - cpu0.get(p, 0)) / CLK_TCK, 3)
                                  for p in cpu1},
        "server_cpu_utilisation": round(cpu_s / run_time, 3) if run_time else None,
        "queries_per_cpu_s": round(res["completed"] / cpu_s, 1) if cpu_s > 0 else None,
        "dnsperf_cpu_s": round(client_cpu, 3),
        "dnsperf_cpu_utilisation": round(client_cpu / wall, 3) if wall else None,
        "wall_s": round(wall, 3),
        "foreign_cpu_share": foreign,
        "per_cpu_ticks": percpu,
        "udp_counters_delta": {k: udp1[k] - udp0.get(k, 0) for k in udp1
                               if k in ("InErrors", "RcvbufErrors", "SndbufErrors", "NoPorts")},
        "memory_before_run": mem_before,
        "memory_after_run": mem_after,
        "dnsperf_output": str(out_path),
    })
    return res


def run_load(server: Server, args, queries_file: Path, work: Path, tag: str = "",
             doh_port: int = 0, extra: Sequence[str] = (),
             transport: str = "udp") -> Dict[str, object]:
    """args.rounds dnsperf runs back to back against one server process; the
    run with the median q/s is the result, all runs are kept. With `doh_port`,
    over DNS over HTTPS to that port (HTTP/2 over TLS, POST); else over
    `transport` (udp, tcp, dot). `extra`: more dnsperf options (EDNS, an EDNS
    option)."""
    if doh_port:
        port = doh_port
        mode = ["-m", "doh", "-O", f"doh-uri=https://127.0.0.1:{doh_port}/dns-query",
                "-O", "doh-method=POST"]
    else:
        port = server.ports[transport]
        mode = ["-m", transport]
    cmd = pinned(["dnsperf", *mode, "-s", "127.0.0.1", "-p", str(port), "-d", str(queries_file),
                  "-l", str(args.duration), "-c", str(args.clients), "-q", str(args.outstanding),
                  *extra],
                 CLIENT_CPU)
    if args.dnsperf_threads:
        cmd += ["-T", str(args.dnsperf_threads)]
    runs = []
    for i in range(args.rounds):
        idle = None
        if args.idle_wait > 0:
            ok, waited, share = wait_for_idle(args.idle_wait)
            idle = {"idle": ok, "waited_s": round(waited, 1), "busiest_cpu_share": round(share, 3)}
            if not ok:
                log(f"warning: machine still busy ({share:.0%} of a CPU) after waiting "
                    f"{waited:.0f} s; measuring anyway")
        r = run_dnsperf_once(server, args, cmd, work / f"dnsperf-{server.key}{tag}-{i + 1}.txt")
        r["idle_before"] = idle
        runs.append(r)
        if args.rounds > 1:
            log(f"{SERVER_NAMES[server.key]}{tag}: round {i + 1}/{args.rounds}: {r['qps']:,.0f} q/s, "
                f"cpu {r['server_cpu_s']:.2f} s")
    chosen = sorted(runs, key=lambda r: r["qps"])[(len(runs) - 1) // 2]
    out = dict(chosen)
    out["round_chosen"] = runs.index(chosen) + 1
    if len(runs) > 1:
        out["rounds"] = [{k: r.get(k) for k in ("qps", "sent", "completed", "lost", "server_cpu_s",
                                                "queries_per_cpu_s", "foreign_cpu_share")}
                         for r in runs]
    return out


COOKIE_OPTION = 10
CLIENT_COOKIE = bytes.fromhex("0123456789abcdef")


def learn_server_cookie(port: int, timeout: float = 2.0) -> bytes:
    """Client cookie | server cookie, as a resolver holds it after its first
    answer: a query with our client cookie, the COOKIE option of the answer."""
    qid = random.randrange(1, 0xFFFF)
    option = struct.pack("!HH", COOKIE_OPTION, len(CLIENT_COOKIE)) + CLIENT_COOKIE
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(option)) + option
    query = (struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1) + name_wire(f"{ZONE}")
             + struct.pack("!HH", QTYPE["SOA"], 1) + opt)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.send(query)
        msg = s.recv(65535)
    rid, _flags, qd, an, ns, ar = struct.unpack_from("!HHHHHH", msg, 0)
    if rid != qid:
        raise BenchError("cookie query: not our answer")
    off = 12
    for _ in range(qd):
        off = _skip_name(msg, off) + 4
    for _ in range(an + ns + ar):
        off = _skip_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        if rtype == 41:
            end, o = off + rdlen, off
            while o + 4 <= end:
                code, length = struct.unpack_from("!HH", msg, o)
                if code == COOKIE_OPTION and msg[o + 4:o + 4 + length][:8] == CLIENT_COOKIE:
                    return msg[o + 4:o + 4 + length]
                o += 4 + length
        off += rdlen
    raise BenchError("pweb-node answered without a server cookie")


def metric_value(metrics_url: str, sample: str) -> float:
    import ssl
    import urllib.request
    # The bench's own throwaway certificate (--doh, --transports dot): not verified.
    ctx = ssl._create_unverified_context() if metrics_url.startswith("https:") else None
    with urllib.request.urlopen(metrics_url, timeout=10, context=ctx) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(sample + " "):
                return float(line.split()[1])
    raise BenchError(f"no metric {sample}")


def run_cookie_rows(server: Server, args, queries_file: Path, work: Path, metrics_url: str) -> Dict:
    """The address mix with EDNS and no cookie ("off"), then with the COOKIE
    option of a resolver that has learned our server cookie ("on": every query
    is checked and answered with it), against the same process, alternating
    round by round; the median q/cpu_s of each is compared."""
    cookie = learn_server_cookie(server.port)
    one = argparse.Namespace(**{**vars(args), "rounds": 1})
    valid = f'pweb_dns_cookies_total{{result="valid"}}'
    off_runs, on_runs = [], []
    for i in range(args.rounds):
        off_runs.append(run_load(server, one, queries_file, work, f"-cookies-off-{i + 1}", extra=["-e"]))
        before = metric_value(metrics_url, valid)
        on = run_load(server, one, queries_file, work, f"-cookies-on-{i + 1}",
                      extra=["-E", f"{COOKIE_OPTION}:{cookie.hex()}"])
        on["valid_cookies"] = int(metric_value(metrics_url, valid) - before)
        if on["valid_cookies"] < on["completed"]:
            raise BenchError(f"cookies on: only {on['valid_cookies']} of {on['completed']} "
                             f"answered queries had a valid server cookie")
        on_runs.append(on)
        log(f"pweb-node cookies round {i + 1}/{args.rounds}: off {off_runs[-1]['queries_per_cpu_s']:,.0f}, "
            f"on {on['queries_per_cpu_s']:,.0f} q/cpu_s")

    def median(runs):
        return sorted(runs, key=lambda r: r["queries_per_cpu_s"] or 0)[(len(runs) - 1) // 2]

    off, on = median(off_runs), median(on_runs)
    cost = (1 - on["queries_per_cpu_s"] / off["queries_per_cpu_s"]
            if on["queries_per_cpu_s"] and off["queries_per_cpu_s"] else None)
    return {"cookie": cookie.hex(), "off": off, "on": on, "cost_per_cpu_s": cost,
            "rounds_off": [r["queries_per_cpu_s"] for r in off_runs],
            "rounds_on": [r["queries_per_cpu_s"] for r in on_runs]}


def print_cookie_rows(c: Dict) -> None:
    print()
    print("DNS COOKIES (pweb-node, address mix with EDNS, same process, rounds alternating): "
          "off = no COOKIE option; on = a learned server cookie in every query (checked, echoed)")
    print(f"{'cookies':<11} {'qps':>9} {'lost':>6} {'cpu_s':>6} {'q/cpu_s':>9}")
    for key in ("off", "on"):
        r = c[key]
        print(f"{key:<11} {r['qps']:>9,.0f} {fmt(r.get('lost'), 'd'):>6} {r['server_cpu_s']:>6.2f} "
              f"{fmt(r['queries_per_cpu_s'], ',.0f'):>9}")
    cost = c["cost_per_cpu_s"]
    if cost is not None:
        print(f"cookie cost per CPU-second: {cost:+.1%} (target < 5%: "
              f"{'MET' if cost < 0.05 else 'MISSED'}); per round off {c['rounds_off']}, on {c['rounds_on']}")
        if cost < -0.02:
            print("note: cookies on measured faster than off: the difference is noise (other "
                  "programs, CPU frequency); rerun on an idle machine with more --rounds")


def bench_server(key: str, args, work: Path, files: Dict[str, Path], devices, ports: set,
                 records: Optional[Dict[str, List[RRset]]] = None) -> Dict:
    """Starts one server, checks its answers, then runs the address mix (result
    "load") and/or the records mix ("load_records") against that process."""
    setup = {"pweb": setup_pweb, "nsd": setup_nsd, "knot": setup_knot}[key]
    src = files["devices"] if key == "pweb" else files["zone"]
    server, extra = setup(args, work, src, ports, records)
    result: Dict[str, object] = {"server": SERVER_NAMES[key], "port": server.port,
                                 "command": " ".join(server.cmd), **extra}
    try:
        result["start_s"] = round(server.start(args.start_timeout), 3)
        pids = server.pids()
        result["processes"] = {str(p): comm(p) for p in pids}
        result["memory_after_load"] = snapshot_memory(pids)
        result["check"] = check_answers(server, devices, args.seed, records)
        log(f"{SERVER_NAMES[key]}: {result['check']['checked_queries']} answers check out; "
            f"dnsperf for {args.duration} s")
        if "queries" in files:
            result["load"] = run_load(server, args, files["queries"], work)
            if key == "pweb" and args.doh:
                log(f"{SERVER_NAMES[key]}: DNS over HTTPS; dnsperf -m doh for {args.duration} s")
                result["load_doh"] = run_load(server, args, files["queries"], work, "-doh",
                                              doh_port=extra["http_port"])
        if "queries_records" in files:
            if "load" in result:
                log(f"{SERVER_NAMES[key]}: records mix; dnsperf for {args.duration} s")
            result["load_records"] = run_load(server, args, files["queries_records"], work, "-records")
        if key == "pweb" and args.cookies and "queries" in files:
            log(f"{SERVER_NAMES[key]}: DNS cookies off/on; {args.rounds} x 2 dnsperf runs of {args.duration} s")
            result["cookies"] = run_cookie_rows(server, args, files["queries"], work, extra["metrics_url"])
        # The other transports on the same process, with the first mix's queries.
        for t in args.transport_keys:
            if t == "udp":
                continue
            if t not in server.ports:
                result[f"load_{t}_skipped"] = NO_DOT.get(key, f"no {t} listener")
                continue
            log(f"{SERVER_NAMES[key]}: dnsperf -m {t} for {args.duration} s")
            result[f"load_{t}"] = run_load(server, args, files.get("queries", files.get("queries_records")),
                                           work, f"-{t}", transport=t)
    finally:
        rc = server.stop()
        result["exit_status"] = rc
    return result


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def mb(kb: Optional[float]) -> Optional[float]:
    return None if kb is None else kb / 1024.0


def summarise(results: Dict[str, Dict], load_key: str = "load") -> Dict[str, Dict]:
    rows: Dict[str, Dict] = {}
    for key, r in results.items():
        load = r.get(load_key)
        if not load:
            continue
        mem = load["memory_after_run"]["total_kb"]
        rows[key] = {
            "qps": load["qps"], "sent": load.get("sent"), "completed": load["completed"],
            "lost": load.get("lost"), "cpu_s": load["server_cpu_s"],
            "cpu_util": load["server_cpu_utilisation"],
            "q_per_cpu_s": load["queries_per_cpu_s"],
            "rss_mb": mb(mem["tree_rss"]), "rss_after_load_mb": mb(r["memory_after_load"]["total_kb"]["tree_rss"]),
            "vmrss_sum_mb": mb(mem["VmRSS"]), "vmhwm_sum_mb": mb(mem["VmHWM"]), "pss_mb": mb(mem["Pss"]),
            "processes": len(load["memory_after_run"]["processes"]),
            "client_cpu_util": load["dnsperf_cpu_utilisation"],
            "foreign_cpu_share": load.get("foreign_cpu_share", {}),
            "udp_rcvbuf_errors": load.get("udp_counters_delta", {}).get("RcvbufErrors"),
        }
    peers = [rows[k] for k in PEERS if k in rows]
    best = {}
    if peers:
        best["qps"] = max(p["qps"] for p in peers)
        qc = [p["q_per_cpu_s"] for p in peers if p["q_per_cpu_s"]]
        best["q_per_cpu_s"] = max(qc) if qc else None
        best["rss_mb"] = min(p["rss_mb"] for p in peers)
    for row in rows.values():
        row["ratio_qps_vs_best_peer"] = row["qps"] / best["qps"] if best.get("qps") else None
        row["ratio_q_per_cpu_vs_best_peer"] = (row["q_per_cpu_s"] / best["q_per_cpu_s"]
                                               if best.get("q_per_cpu_s") and row["q_per_cpu_s"]
                                               else None)
        row["ratio_rss_vs_best_peer"] = row["rss_mb"] / best["rss_mb"] if best.get("rss_mb") else None
    return rows



def print_table(rows: Dict[str, Dict], results: Dict[str, Dict], meta: Dict,
                workload: str = "addresses") -> None:
    print()
    if workload == "records":
        m = meta["mix_records"]
        print(f"RECORDS MIX: {meta['devices']:,} devices ({meta['devices_with_rrsets']:,} with "
              f"{meta['rrsets']:,} TXT/SRV/wildcard RRsets), {m['total']:,} query lines "
              f"({m['a']:,} A / {m['aaaa']:,} AAAA / {m['nx']:,} NXDOMAIN / "
              f"{m['acme']:,} TXT _acme-challenge / {m['apex_txt']:,} TXT device / "
              f"{m['srv']:,} SRV _http._tcp / {m['wild']:,} TXT wildcard), ", end="")
    else:
        m = meta["mix"]
        print(f"{meta['devices']:,} devices, {m['total']:,} query lines "
              f"({m['a']:,} A / {m['aaaa']:,} AAAA / {m['nx']:,} NXDOMAIN), ", end="")
    print(f"dnsperf -l {meta['duration']} -c {meta['clients']} -q {meta['outstanding']}; "
          f"server on CPU {SERVER_CPU}, dnsperf on CPU {CLIENT_CPU}")
    hdr = (f"{'server':<11} {'qps':>9} {'lost':>6} {'cpu_s':>6} {'cpu%':>5} {'q/cpu_s':>9} "
           f"{'rss_MB':>7} {'load_MB':>7} {'hwm_MB':>7} {'ratio_q/cpu_vs_best_peer':>25}")
    print(hdr)
    for key in SERVER_KEYS:
        if key in rows:
            r = rows[key]
            print(f"{SERVER_NAMES[key]:<11} {r['qps']:>9,.0f} {fmt(r['lost'], 'd'):>6} {r['cpu_s']:>6.2f} "
                  f"{fmt(r['cpu_util'] * 100 if r['cpu_util'] is not None else None, '.0f'):>5} "
                  f"{fmt(r['q_per_cpu_s'], ',.0f'):>9} {r['rss_mb']:>7.1f} {r['rss_after_load_mb']:>7.1f} "
                  f"{r['vmhwm_sum_mb']:>6.1f}{'*' if r['processes'] > 1 else ' '} "
                  f"{fmt(r['ratio_q_per_cpu_vs_best_peer'], '.2f'):>25}")
        elif key in results:
            print(f"{SERVER_NAMES[key]:<11} FAILED: {results[key].get('error', '?').splitlines()[0]}")
    if workload != "records":
        print(SEED_FIGURE)
    if "pweb" in rows and any(k in rows for k in PEERS):
        r = rows["pweb"]
        print(f"pweb-node / best of NSD,Knot: q/s {fmt(r['ratio_qps_vs_best_peer'], '.2f')}x, "
              f"q/cpu_s {fmt(r['ratio_q_per_cpu_vs_best_peer'], '.2f')}x, "
              f"RSS {fmt(r['ratio_rss_vs_best_peer'], '.2f')}x (memory: lower is better)")
        ratio = r["ratio_q_per_cpu_vs_best_peer"]
        if workload == "records" and ratio is not None:
            print(f"records mix target (issue 13): pweb-node q/cpu_s >= 1.00x the best peer: "
                  f"{'MET' if ratio >= 1.0 else 'MISSED'} ({ratio:.2f}x)")
    print("cpu% = server CPU / run time (100 = one core saturated); rss_MB = resident memory after "
          "the run, load_MB = after loading (whole process tree, shared pages counted once); "
          "hwm_MB = peak VmHWM (* = summed over processes, counts shared pages twice)")
    kinds = (("acme", "apex_txt", "srv", "wild") if workload == "records" else ("A", "AAAA", "nxdomain"))
    sizes = []
    for key in SERVER_KEYS:
        chk = results.get(key, {}).get("check")
        if chk:
            b = chk["response_bytes"]
            sizes.append(f"{SERVER_NAMES[key]} " + "/".join(str(b.get(k, "-")) for k in kinds))
    if sizes:
        what = ("TXT _acme-challenge/TXT device/SRV/TXT wildcard" if workload == "records"
                else "A/AAAA/NXDOMAIN")
        print(f"response bytes {what}: " + ", ".join(sizes))
    for key, r in rows.items():
        notes = []
        if r["lost"]:
            notes.append(f"{r['lost']} queries lost")
        if r["cpu_util"] is not None and r["cpu_util"] < 0.9:
            client_bound = (r["client_cpu_util"] or 0) >= 0.9
            notes.append(f"server only {r['cpu_util']:.0%} busy, dnsperf "
                         f"{fmt(r['client_cpu_util'], '.0%')} of its CPU"
                         + (" (client-bound: compare q/cpu_s rather than q/s)" if client_bound else ""))
        if r["udp_rcvbuf_errors"]:
            notes.append(f"{r['udp_rcvbuf_errors']} UDP receive-buffer drops on the host")
        fs = r["foreign_cpu_share"]
        other = max(fs.get(f"cpu{SERVER_CPU}", 0), fs.get(f"cpu{CLIENT_CPU}", 0),
                    fs.get(f"cpu{SERVER_CPU}_steal", 0), fs.get(f"cpu{CLIENT_CPU}_steal", 0))
        if other > 0.05:
            notes.append(f"other programs/hypervisor took up to {other:.0%} of a benchmark CPU "
                         f"(numbers are skewed; rerun on an idle machine)")
        if notes:
            print(f"note: {SERVER_NAMES[key]}: " + "; ".join(notes))


def print_doh(udp: Optional[Dict], doh: Dict) -> None:
    """pweb-node's DoH row under its UDP row (--doh): same queries, same process."""
    print()
    print("DNS over HTTPS (dnsperf -m doh: HTTP/2 over TLS, POST, persistent connections), "
          "pweb-node, address mix")
    print(f"{'transport':<11} {'qps':>9} {'lost':>6} {'cpu_s':>6} {'cpu%':>5} {'q/cpu_s':>9}")
    for name, r in (("UDP", udp), ("DoH", doh)):
        if r:
            print(f"{name:<11} {r['qps']:>9,.0f} {fmt(r['lost'], 'd'):>6} {r['cpu_s']:>6.2f} "
                  f"{fmt(r['cpu_util'] * 100 if r['cpu_util'] is not None else None, '.0f'):>5} "
                  f"{fmt(r['q_per_cpu_s'], ',.0f'):>9}")
    if udp and udp.get("q_per_cpu_s") and doh.get("q_per_cpu_s"):
        print(f"DoH / UDP: q/s {doh['qps'] / udp['qps']:.2f}x, "
              f"q/cpu_s {doh['q_per_cpu_s'] / udp['q_per_cpu_s']:.2f}x")


def summarise_transports(results: Dict[str, Dict], transports: Sequence[str]) -> Dict[str, Dict]:
    """q/s and q/cpu_s by server and transport (the UDP figures from the first
    mix's run, whose query file the other transports used)."""
    rows: Dict[str, Dict] = {}
    for key, r in results.items():
        row = {}
        for t in transports:
            load = r.get("load" if "load" in r else "load_records") if t == "udp" else r.get(f"load_{t}")
            if load:
                row[t] = {"qps": load["qps"], "q_per_cpu_s": load["queries_per_cpu_s"],
                          "lost": load.get("lost"), "cpu_s": load["server_cpu_s"],
                          "cpu_util": load["server_cpu_utilisation"]}
            elif r.get(f"load_{t}_skipped"):
                row[t] = {"skipped": r[f"load_{t}_skipped"]}
        if row:
            rows[key] = row
    return rows


def print_transports(rows: Dict[str, Dict], meta: Dict) -> None:
    ts = meta["transports"]
    print()
    print(f"TRANSPORTS (the {meta['transports_mix']} mix; TCP and DoT over persistent connections): "
          f"dnsperf -m {'|'.join(ts)} -l {meta['duration']} -c {meta['clients']} "
          f"-q {meta['outstanding']}; server on CPU {SERVER_CPU}")
    print(f"{'server':<11} " + " ".join(f"{t + ' q/s':>10} {t + ' q/cpu_s':>12}" for t in ts))
    for key in SERVER_KEYS:
        if key not in rows:
            continue
        cells = []
        for t in ts:
            c = rows[key].get(t, {})
            cells.append(f"{fmt(c.get('qps'), ',.0f'):>10} {fmt(c.get('q_per_cpu_s'), ',.0f'):>12}")
        print(f"{SERVER_NAMES[key]:<11} " + " ".join(cells))
    for key in SERVER_KEYS:
        for t in ts:
            why = rows.get(key, {}).get(t, {}).get("skipped")
            if why:
                print(f"note: {SERVER_NAMES[key]}: no {t} row: {why}")
    pweb = rows.get("pweb", {})

    def ratio(a, b, what):
        if a and b and a.get(what) and b.get(what):
            return f"{a[what] / b[what]:.2f}x"
        return "-"

    for t in ts:
        if t == "udp" or t not in pweb:
            continue
        line = (f"pweb-node {t.upper()} / its UDP: q/s {ratio(pweb[t], pweb.get('udp'), 'qps')}, "
                f"q/cpu_s {ratio(pweb[t], pweb.get('udp'), 'q_per_cpu_s')}")
        peer = rows.get("nsd", {}).get(t)
        if peer and "qps" in peer:
            line += (f"; / NSD {t.upper()}: q/s {ratio(pweb[t], peer, 'qps')}, "
                     f"q/cpu_s {ratio(pweb[t], peer, 'q_per_cpu_s')}")
        print(line)
    for key in SERVER_KEYS:
        for t in ts:
            c = rows.get(key, {}).get(t, {})
            if c.get("lost"):
                print(f"note: {SERVER_NAMES[key]} {t}: {c['lost']} queries lost")
            if c.get("cpu_util") is not None and c["cpu_util"] < 0.9:
                print(f"note: {SERVER_NAMES[key]} {t}: server only {c['cpu_util']:.0%} busy "
                      f"(client-bound: compare q/cpu_s rather than q/s)")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Benchmark pweb-node's DNS front end against NSD and Knot.")
    ap.add_argument("--devices", type=int, help="devices in the store (default 100000; --quick 5000)")
    ap.add_argument("--duration", type=int, help="dnsperf -l: seconds per dnsperf run (default 10; --quick 2)")
    ap.add_argument("--queries", type=int, help="query file lines (default 200000; --quick 20000)")
    ap.add_argument("--build-dir", default=str(REPO / "build"), help="CMake build dir (default: repo build/)")
    ap.add_argument("--servers", default="pweb,nsd,knot", help="comma-separated subset of pweb,nsd,knot")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf -c (default 4)")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q (default 100)")
    ap.add_argument("--dnsperf-threads", type=int, default=0, help="dnsperf -T (default: dnsperf's)")
    ap.add_argument("--rounds", type=int,
                    help="dnsperf runs per server, the median q/s run is reported (default 3; --quick 1)")
    ap.add_argument("--idle-wait", type=float,
                    help="before each dnsperf run wait up to this many seconds for the CPUs to be "
                         "idle (other jobs skew the numbers); 0 = don't (default 60; --quick 5)")
    ap.add_argument("--seed", type=int, default=SEED, help="data/query seed")
    ap.add_argument("--start-timeout", type=float, default=START_TIMEOUT,
                    help=f"seconds a server may take to answer after start (default {START_TIMEOUT:.0f})")
    ap.add_argument("--work-dir", help="parent of the temporary directory (default: system temp)")
    ap.add_argument("--results", default=str(HERE / "results" / "latest.json"), help="JSON output path")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--mix", choices=MIXES, default="addresses",
                    help="workload: addresses = A/AAAA/NXDOMAIN (default); records = 90%% of that "
                         "plus 10%% TXT/SRV/wildcard queries at RRsets below 10%% of the devices; "
                         "both = both query files against the same servers (two tables)")
    ap.add_argument("--doh", action="store_true",
                    help="also measure pweb-node's DNS over HTTPS (dnsperf -m doh: HTTP/2 over TLS, "
                         "POST, one persistent connection per dnsperf client) with the address mix, "
                         "printed next to its UDP row")
    ap.add_argument("--cookies", action="store_true",
                    help="also measure pweb-node with DNS cookies off vs on (the address mix with "
                         "EDNS; a learned server cookie in every query), --rounds times each")
    ap.add_argument("--dnssec", action="store_true",
                    help="also: pweb-node --dnssec against Knot pre-signed and Knot mod-onlinesign, "
                         "every query with DO (dnsperf -D); prints its own table (dnssec_rows.py)")
    ap.add_argument("--transports", default="udp",
                    help="comma-separated subset of udp,tcp,dot (dnsperf -m): each server also runs "
                         "the first mix over persistent TCP and DNS-over-TLS connections, one run "
                         "each (--rounds), printed in a TRANSPORTS table (default udp: none)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: 5,000 devices, 20,000 queries, one 2 s run per server")
    args = ap.parse_args(argv)
    if args.devices is None:
        args.devices = 5000 if args.quick else 100_000
    if args.duration is None:
        args.duration = 2 if args.quick else 10
    if args.queries is None:
        args.queries = 20_000 if args.quick else 200_000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.idle_wait is None:
        args.idle_wait = 5.0 if args.quick else 60.0
    keys = []
    for s in args.servers.split(","):
        s = s.strip().lower()
        s = {"pweb-node": "pweb", "knotd": "knot"}.get(s, s)
        if s not in SERVER_KEYS:
            ap.error(f"unknown server {s!r} (choose from pweb, nsd, knot)")
        if s not in keys:
            keys.append(s)
    args.server_keys = keys
    if args.doh and ("pweb" not in keys or args.mix == "records"):
        ap.error("--doh measures pweb-node with the address mix: include pweb in --servers and "
                 "use --mix addresses or both")
    tkeys = []
    for t in args.transports.split(","):
        t = t.strip().lower()
        if t not in TRANSPORTS:
            ap.error(f"unknown transport {t!r} (choose from {', '.join(TRANSPORTS)})")
        if t not in tkeys:
            tkeys.append(t)
    if "udp" not in tkeys:
        tkeys.insert(0, "udp")  # the baseline the others are compared with
    args.transport_keys = tkeys
    if args.devices < 10:
        ap.error("--devices must be at least 10")
    if not 1 <= args.duration <= 3600:
        ap.error("--duration must be 1..3600 s")
    if not 1 <= args.rounds <= 20:
        ap.error("--rounds must be 1..20")
    if not 0 <= args.idle_wait <= 3600:
        ap.error("--idle-wait must be 0..3600 s")
    if args.queries < 100:
        ap.error("--queries must be at least 100")
    return args


def preflight(args) -> None:
    missing = [t for t in ("taskset", "dnsperf") if not shutil.which(t)]
    if missing:
        raise BenchError(f"missing tools on PATH: {', '.join(missing)}")
    if os.cpu_count() and os.cpu_count() < 2:
        raise BenchError("needs at least 2 CPUs (server on CPU 0, dnsperf on CPU 1)")


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)
    try:
        preflight(args)
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pweb-dns-bench-", dir=args.work_dir))
    log(f"work dir {work}")
    results: Dict[str, Dict] = {}
    failed: List[str] = []
    start_failed = False
    try:
        t0 = time.monotonic()
        devices = generate_devices(args.devices, args.seed)
        records = generate_records(devices, args.seed) if args.mix != "addresses" else None
        files = {"devices": work / "devices.txt", "zone": work / "dht.zone"}
        write_device_file(devices, files["devices"])
        write_zone_file(devices, files["zone"], records)
        lines: List[str] = []
        mix = mix_records = None
        if args.mix in ("addresses", "both"):
            lines, mix = generate_queries(devices, args.queries, args.seed)
            files["queries"] = work / "queries.txt"
            files["queries"].write_text("\n".join(lines) + "\n")
        if records:
            rlines, mix_records = generate_record_queries(devices, records, args.queries, args.seed)
            files["queries_records"] = work / "queries-records.txt"
            files["queries_records"].write_text("\n".join(rlines) + "\n")
            lines = lines or rlines
        log(f"generated {len(devices):,} devices ({sum(1 for d in devices if d.ipv6):,} with AAAA"
            + (f", {len(records):,} with {sum(len(v) for v in records.values()):,} RRsets" if records else "")
            + f") and {args.queries:,} queries per mix ({args.mix}) in {time.monotonic() - t0:.1f} s")
        ports: set = set()
        for key in args.server_keys:
            try:
                results[key] = bench_server(key, args, work, files, devices, ports, records)
                for lk, what in (("load", ""), ("load_records", " (records mix)")):
                    load = results[key].get(lk)
                    if load:
                        log(f"{SERVER_NAMES[key]}{what}: {load['qps']:,.0f} q/s, lost {load.get('lost')}, "
                            f"cpu {load['server_cpu_s']:.2f} s")
            except StartError as e:
                start_failed = True
                failed.append(key)
                results[key] = {"server": SERVER_NAMES[key], "error": f"failed to start: {e}"}
                log(f"{SERVER_NAMES[key]}: FAILED TO START: {e}")
            except (BenchError, subprocess.TimeoutExpired, OSError) as e:
                failed.append(key)
                results[key] = {"server": SERVER_NAMES[key], "error": str(e)}
                log(f"{SERVER_NAMES[key]}: FAILED: {e}")
            time.sleep(1.0)
        dnssec_results: Dict[str, Dict] = {}
        dnssec_summary: Dict[str, Dict] = {}
        if args.dnssec and "queries" in files:
            import dnssec_rows
            dnssec_results = dnssec_rows.bench(sys.modules[__name__], args, work, files, devices,
                                               ports)
            dnssec_summary = dnssec_rows.summary(dnssec_results)
            failed += [f"dnssec:{k}" for k, r in dnssec_results.items() if "error" in r]
        rows = summarise(results) if mix else {}
        rows_records = summarise(results, "load_records") if mix_records else {}
        rows_transports = (summarise_transports(results, args.transport_keys)
                           if len(args.transport_keys) > 1 else {})
        meta = {
            "devices": args.devices, "agents": AGENTS, "users": USERS, "seed": args.seed,
            "devices_with_aaaa": sum(1 for d in devices if d.ipv6),
            "queries": len(lines), "workload": args.mix,
            "mix": vars(mix) if mix else None, "mix_records": vars(mix_records) if mix_records else None,
            "devices_with_rrsets": len(records) if records else 0,
            "rrsets": sum(len(v) for v in records.values()) if records else 0,
            "duration": args.duration,
            "clients": args.clients, "outstanding": args.outstanding,
            "dnsperf_threads": args.dnsperf_threads or None,
            "server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU, "clk_tck": CLK_TCK,
            "kernel": platform.release(), "cpu_model": cpu_model(), "cpus": os.cpu_count(),
            "dnsperf_version": _dnsperf_version(), "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "work_dir": str(work) if args.keep else None,
            "transports": args.transport_keys,
            "transports_mix": "addresses" if mix else "records",
        }
        if mix:
            print_table(rows, results, meta)
        if mix_records:
            print_table(rows_records, results, meta, "records")
        rows_doh = summarise({"pweb": results["pweb"]}, "load_doh") if "pweb" in results else {}
        if rows_doh:
            print_doh(rows.get("pweb"), rows_doh["pweb"])
        if results.get("pweb", {}).get("cookies"):
            print_cookie_rows(results["pweb"]["cookies"])
        if dnssec_results:
            import dnssec_rows
            dnssec_rows.print_rows(sys.modules[__name__], dnssec_summary, dnssec_results)
        if rows_transports:
            print_transports(rows_transports, meta)
        out = Path(args.results)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"meta": meta, "summary": rows, "summary_records": rows_records,
                                   "summary_doh": rows_doh,
                                   "summary_transports": rows_transports,
                                   "summary_dnssec": dnssec_summary, "dnssec": dnssec_results,
                                   "servers": results,
                                   "seed_figure": SEED_FIGURE}, indent=2, default=str) + "\n")
        log(f"results written to {out}")
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"bench: FAILED: {', '.join(SERVER_NAMES.get(k, k) for k in failed)} "
              f"(see messages above and {args.results})", file=sys.stderr)
        return 2 if start_failed else 1
    return 0



def _dnsperf_version() -> Optional[str]:
    try:
        out = run_tool(["dnsperf", "-h"]).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"Version\s+(\S+)", out)
    return m.group(1) if m else None


if __name__ == "__main__":
    sys.exit(main())
