#!/usr/bin/env python3
"""bench/cluster: cross-agent resolution through a cluster of pweb-node agents.

Starts N agents on loopback (node 0 first, the rest bootstrapping from it),
each with D devices, then asks one node (B) for devices of the OTHER agents:

  cold   every query a distinct name never asked before (answer caches cold;
         each agent's record was looked up once beforehand, so this is
         DNS -> resolver -> gateway QUERY -> other agent, per query)
  warm   the same names again (answered from B's caches)
  local  B's own devices, in the same run, for the warm/local ratio

with dnsperf (throughput, loss), a sequential client for latency percentiles,
the first query per agent from a node that never asked (agent lookup = DHT +
gateway connect + QUERY), and the time for a new agent to become resolvable.
Prints the table beside the 2013 pWeb DNS Gateway's 7,084 queries/s.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SEED_QPS = 7084  # pWeb DNS Gateway, 2013: gateway + agent, one thread


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


cluster_mod = _load("cluster", ROOT / "test" / "integration" / "cluster.py")  # the node harness
dnsbench = _load("dnsbench", ROOT / "bench" / "dns" / "run.py")  # dnsperf output parser


def log(msg: str) -> None:
    print(f"[cluster] {msg}", file=sys.stderr, flush=True)


def query_bytes(qid: int, name: str) -> bytes:
    return dnsbench.build_query(qid, name, "A")


def timed_query(sock: socket.socket, port: int, qid: int, name: str, timeout: float) -> Optional[float]:
    """Seconds until the reply with our id (any rcode), or None on timeout."""
    sock.settimeout(timeout)
    t0 = time.perf_counter()
    sock.sendto(query_bytes(qid, name), ("127.0.0.1", port))
    while True:
        try:
            data, _ = sock.recvfrom(4096)
        except socket.timeout:
            return None
        if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == qid:
            return time.perf_counter() - t0


def percentiles(samples: Sequence[float]) -> Dict[str, Optional[float]]:
    if not samples:
        return {"p50": None, "p90": None, "p99": None, "max": None, "n": 0}
    s = sorted(samples)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))]
    return {"p50": pick(0.50) * 1e3, "p90": pick(0.90) * 1e3, "p99": pick(0.99) * 1e3,
            "max": s[-1] * 1e3, "n": len(s)}


def latency_sample(port: int, names: Sequence[str], timeout: float = 3.0) -> Dict:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    times, lost = [], 0
    for i, name in enumerate(names):
        t = timed_query(sock, port, (i % 65535) + 1, name, timeout)
        if t is None:
            lost += 1
        else:
            times.append(t)
    sock.close()
    out = percentiles(times)
    out["lost"] = lost
    return out


def dnsperf(port: int, names: Sequence[str], work: Path, tag: str, args, once: bool) -> Dict:
    """`once`: each name asked exactly once (cold); else the file loops for the time limit."""
    qfile = work / f"{tag}.queries"
    qfile.write_text("".join(f"{n} A\n" for n in names))
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", str(qfile),
           "-l", str(args.seconds), "-c", str(args.clients), "-q", str(args.outstanding), "-t", "5"]
    if once:
        cmd += ["-n", "1"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60)
    (work / f"{tag}.dnsperf.txt").write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        raise RuntimeError(f"dnsperf failed ({tag}): {out.stderr[-500:]}")
    r = dnsbench.parse_dnsperf(out.stdout)
    return r


def check_answers(node, expect: Dict[str, str], count: int) -> None:
    """Spot-checks that B answers the right addresses before trusting any speed."""
    for name in random.Random(1).sample(sorted(expect), min(count, len(expect))):
        got = node.address(name + ".dht")
        if got != ("NOERROR", [expect[name]]):
            raise RuntimeError(f"wrong answer for {name}: {got}, expected {expect[name]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=10, help="agents (2-50)")
    ap.add_argument("--devices", type=int, default=20000, help="devices per agent")
    ap.add_argument("--seconds", type=float, default=20, help="limit of each dnsperf phase")
    ap.add_argument("--clients", type=int, default=4, help="dnsperf -c (as bench/dns)")
    ap.add_argument("--outstanding", type=int, default=100, help="dnsperf -q (as bench/dns)")
    ap.add_argument("--sample", type=int, default=2000, help="queries per latency sample")
    ap.add_argument("--build-dir", default=str(ROOT / "build"))
    ap.add_argument("--quick", action="store_true", help="3 nodes, few devices: a smoke run")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    if args.quick:
        args.nodes, args.devices, args.seconds, args.sample = 3, 3000, 2, 300
    if not 2 <= args.nodes <= 50:
        ap.error("--nodes must be 2..50")
    binary = Path(args.build_dir) / "node" / "pweb-node"
    if not binary.is_file():
        print(f"pweb-node not found at {binary}", file=sys.stderr)
        return 2
    if shutil.which("dnsperf") is None:
        print("dnsperf is not installed (apt-get install dnsperf)", file=sys.stderr)
        return 2
    import os
    os.environ["PWEB_NODE"] = str(binary)

    work = Path(tempfile.mkdtemp(prefix="pweb-bench-cluster-"))
    cluster = cluster_mod.Cluster(work, ttl=3600, timeout=2.0)
    result: Dict[str, object] = {"nodes": args.nodes, "devices_per_node": args.devices,
                                 "pinning": "none: nodes and dnsperf share both cores"}
    try:
        rng = random.Random(7)
        addr = {}
        labels = [f"a{i}" for i in range(args.nodes)]
        t0 = time.monotonic()
        for i, label in enumerate(labels):
            devs = {}
            for j in range(args.devices):
                name = f"d{j}.u{j % 100}.{label}"
                devs[name] = f"10.{i}.{j // 250}.{j % 250 + 1}"
            addr.update(devs)
            cluster.add(label, devs)
        cluster.wait_converged(60 + 2 * args.nodes)
        result["start_s"] = round(time.monotonic() - t0, 1)
        log(f"{args.nodes} agents with {args.devices} devices each up in {result['start_s']} s")
        b = cluster.nodes[0]
        check_answers(b, addr, 30)

        # Agent lookups: the first query per agent from a node that never asked.
        fresh = cluster.add("probe", {})
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        agent_ms = []
        for i, label in enumerate(labels):
            t = timed_query(sock, fresh.dns, i + 1, f"d0.u0.{label}.dht", 3.0)
            if t is not None:
                agent_ms.append(t)
        sock.close()
        result["agent_lookup"] = percentiles(agent_ms)

        remote = [n for n in addr if not n.endswith("." + labels[0])]
        rng.shuffle(remote)
        sample_cold = remote[: args.sample]
        load = [n + ".dht" for n in remote[args.sample:]]
        local = [n + ".dht" for n in addr if n.endswith("." + labels[0])]
        result["cold_latency"] = latency_sample(b.dns, [n + ".dht" for n in sample_cold])
        result["cold"] = dnsperf(b.dns, load, work, "cold", args, once=True)
        result["warm"] = dnsperf(b.dns, load, work, "warm", args, once=False)
        result["local"] = dnsperf(b.dns, local, work, "local", args, once=False)
        result["warm_latency"] = latency_sample(b.dns, [n + ".dht" for n in sample_cold])
        check_answers(b, addr, 30)

        # A new agent: from spawn until B's DHT has its record, and until B answers it.
        t0 = time.monotonic()
        newbie = cluster.add("newbie", {"laptop.alice.newbie": "192.0.2.77"}, start=False)
        newbie.start(cluster.first_dht, wait=False)
        seen = cluster_mod.poll(lambda: b.get("/api/v1/agents/newbie", timeout=5)[0] == 200, 30, 0.05)
        result["new_agent_record_s"] = round(time.monotonic() - t0, 3) if seen else None
        ok = cluster_mod.poll(lambda: b.address("laptop.alice.newbie.dht") == ("NOERROR", ["192.0.2.77"]),
                              30, 0.05)
        result["new_agent_answer_s"] = round(time.monotonic() - t0, 3) if ok else None
        if not ok:
            raise RuntimeError("the new agent never became resolvable at B")
    except Exception as e:  # noqa: BLE001 - report and fail
        print(f"bench/cluster failed: {e}\n{cluster.logs()[-4000:]}", file=sys.stderr)
        return 1
    finally:
        cluster.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print_table(result)
    out = HERE / ("result-quick.json" if args.quick else "result.json")
    out.write_text(json.dumps(result, indent=2))
    log(f"wrote {out}")
    return 0


def print_table(r: Dict) -> None:
    f = lambda v, spec=",.0f": "-" if v is None else format(v, spec)
    cold, warm, local = r["cold"], r["warm"], r["local"]
    ratio = (warm.get("qps") or 0) / (local.get("qps") or 1)
    al = r["agent_lookup"]
    print()
    print(f"bench/cluster: {r['nodes']} agents x {r['devices_per_node']:,} devices, loopback, "
          f"{r['pinning']}")
    print(f"{'measure':44} {'value':>14} {'target':>16} {'':>5}")
    rows = [
        ("cold cache, cross-agent queries/s", f(cold.get("qps")), "> 50,000",
         (cold.get("qps") or 0) > 50000),
        ("  lost (cold)", f(cold.get("lost")), "0", cold.get("lost") == 0),
        ("warm cache, cross-agent queries/s", f(warm.get("qps")), "", None),
        ("local answers queries/s (same node)", f(local.get("qps")), "", None),
        ("warm / local", f(ratio, ".2f"), "~1.0", ratio >= 0.9),
        ("cold latency p50 / p99 ms",
         f"{f(r['cold_latency']['p50'], '.2f')} / {f(r['cold_latency']['p99'], '.2f')}", "", None),
        ("warm latency p50 / p99 ms",
         f"{f(r['warm_latency']['p50'], '.2f')} / {f(r['warm_latency']['p99'], '.2f')}", "", None),
        ("agent lookup p50 / p99 ms (first query)", f"{f(al['p50'], '.1f')} / {f(al['p99'], '.1f')}",
         "p99 < 50", al["p99"] is not None and al["p99"] < 50),
        ("new agent: record visible / answered (s)",
         f"{f(r['new_agent_record_s'], '.2f')} / {f(r['new_agent_answer_s'], '.2f')}", "", None),
        ("seed (2013 DNS Gateway + agent) queries/s", f(SEED_QPS), "", None),
        ("cold cache / seed", f((cold.get("qps") or 0) / SEED_QPS, ".1f") + "x", "", None),
    ]
    for name, value, target, ok in rows:
        mark = "" if ok is None else ("ok" if ok else "MISS")
        print(f"{name:44} {value:>14} {target:>16} {mark:>5}")
    print()


if __name__ == "__main__":
    sys.exit(main())
