"""What the benchmarks under bench/ share: errors, logging, CPU pinning, free
loopback ports, process CPU time, log tails, and a raw DNS query builder."""
from __future__ import annotations

import os
import random
import socket
import struct
import sys
from pathlib import Path
from typing import Dict, List, Optional

QTYPE = {"A": 1, "NS": 2, "SOA": 6, "TXT": 16, "AAAA": 28, "SRV": 33}


class BenchError(Exception):
    """A failure that ends one system's run (or the whole benchmark)."""


class StartError(BenchError):
    """A server did not start or did not answer."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def pinned(cmd: List[str], cpu: str) -> List[str]:
    return ["taskset", "-c", cpu] + cmd


def fmt(v, spec: str, none: str = "-") -> str:
    return none if v is None else format(v, spec)


def build_query(qid: int, name: str, qtype: str) -> bytes:
    wire = bytearray(struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0))
    for label in name.rstrip(".").split("."):
        wire.append(len(label))
        wire += label.encode("ascii")
    wire.append(0)
    wire += struct.pack("!HH", QTYPE[qtype], 1)
    return bytes(wire)


def _skip_name(msg: bytes, off: int) -> int:
    for _ in range(128):  # bounded: at most 127 labels + pointer
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n
    raise ValueError("name too long")


def cpu_ticks(pid: int) -> Optional[int]:
    """utime+stime of a whole process (all its threads), in clock ticks."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def free_port(taken: set) -> int:
    """A port free for UDP and TCP on 127.0.0.1, below the ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(20000, 32000)
        if port in taken:
            continue
        socks = []
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(socket.AF_INET, kind)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            taken.add(port)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise BenchError("no free loopback port found")


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + l for l in text[-lines:]) or "    (empty log)"


def cpu_model() -> Optional[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _children_map() -> Dict[int, List[int]]:
    kids: Dict[int, List[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(root: int) -> List[int]:
    """root and all its descendants (NSD forks a server child and xfrd; the
    PostgreSQL postmaster its backends)."""
    kids = _children_map()
    out, todo = [], [root]
    while todo and len(out) < 10000:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out
