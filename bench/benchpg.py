"""A throwaway PostgreSQL 15 for the benchmarks that put pweb-node's store on
PostgreSQL (bench/update --store postgresql, bench/cluster's label-on-two-nodes
section): test/pg_cluster.py's cluster (fsync on, synchronous_commit at its
default, on; both checked), every PostgreSQL process pinned to one CPU."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from benchlib import BenchError, StartError, cpu_ticks, log, process_tree

PG_FIXTURE = Path(__file__).resolve().parent.parent / "test" / "pg_cluster.py"
PSQL = "psql"
PSQL_TIMEOUT = 60.0


class PgMissing(StartError):
    """PostgreSQL 15 or psql is not installed."""


def psql(uri: str, sql: str) -> List[List[str]]:
    """Rows of one statement, tab-separated fields (psql -At)."""
    r = subprocess.run([PSQL, "-X", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", uri, "-c", sql],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=PSQL_TIMEOUT,
                       stdin=subprocess.DEVNULL, env=dict(os.environ, PGCONNECT_TIMEOUT="5"))
    if r.returncode != 0:
        raise BenchError(f"psql {sql!r} failed (status {r.returncode}): {r.stderr.strip()[:300]}")
    return [line.split("\t") for line in r.stdout.splitlines()]


class BenchPg:
    """Started on construction; `cpu`: the CPU every PostgreSQL process runs
    on (the postmaster is pinned, the backends it forks later inherit that),
    None = not pinned. Raises StartError when PostgreSQL is missing, does not
    start, or is not durable (synchronous_commit or fsync off)."""

    def __init__(self, cpu: Optional[str]):
        spec = importlib.util.spec_from_file_location("pweb_pg_cluster", PG_FIXTURE)
        if spec is None or spec.loader is None or not PG_FIXTURE.is_file():
            raise StartError(f"{PG_FIXTURE} missing")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        if not mod.available():
            raise PgMissing(f"PostgreSQL 15 is not installed ({mod.BIN}; Debian package postgresql-15)")
        if not shutil.which(PSQL):
            raise PgMissing("psql not found on PATH (Debian package postgresql-client-15)")
        try:
            self.cluster = mod.PgCluster()
            self.cluster.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            raise StartError(f"PostgreSQL did not start: {e}")
        self.pid = self.cluster.proc.pid
        if cpu is not None:
            for pid in process_tree(self.pid):
                try:
                    os.sched_setaffinity(pid, {int(cpu)})
                except OSError:
                    pass
        try:
            self.uri = self.cluster.create_database()
            names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method", "full_page_writes")
            self.settings: Dict[str, Optional[str]] = {k: psql(self.uri, f"SHOW {k}")[0][0] for k in names}
        except (OSError, subprocess.SubprocessError, BenchError, IndexError) as e:
            self.close()
            raise StartError(f"PostgreSQL: createdb or SHOW failed: {e}")
        self.settings["pinned_cpu"] = cpu
        self.settings["data_dir"] = str(self.cluster.data)
        if self.settings["synchronous_commit"] != "on" or self.settings["fsync"] != "on":
            self.close()
            raise StartError(f"PostgreSQL is not durable: synchronous_commit={self.settings['synchronous_commit']}, "
                             f"fsync={self.settings['fsync']}")
        log(f"PostgreSQL {self.settings['server_version']} on port {self.cluster.port}, CPU {cpu}: "
            f"synchronous_commit={self.settings['synchronous_commit']}, fsync={self.settings['fsync']}, "
            f"wal_sync_method={self.settings['wal_sync_method']}")

    def cpu_ticks(self) -> int:
        """utime+stime of the live PostgreSQL processes."""
        return sum(cpu_ticks(p) or 0 for p in process_tree(self.pid))

    def device_rows(self) -> Dict[str, Tuple[Optional[str], Optional[str]]]:
        """name -> (ipv4, ipv6) of the store's devices table."""
        rows = psql(self.uri, "SELECT name, coalesce(ipv4, ''), coalesce(ipv6, '') FROM devices")
        return {r[0]: (r[1] or None, r[2] or None) for r in rows}

    def close(self) -> None:
        self.cluster.close()
