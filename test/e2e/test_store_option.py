"""--store: a malformed value is a configuration error naming the option; a
PostgreSQL that cannot be reached stops the start within a bounded time with
the reason (never the password); the admin commands use the same store as
the node. Real PostgreSQL 15 (test/pg_cluster.py); without it the PostgreSQL
cases are SKIPPED, loudly."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import node_binary

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import pg_cluster  # noqa: E402


def run(*args: str, stdin: str = "", timeout: float = 30.0) -> subprocess.CompletedProcess:
    return subprocess.run([node_binary(), *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("value", ["mysql://u@h/db", "postgresql", "sqlite:/x"])
def test_malformed_store_is_a_config_error(tmp_path, value):
    r = run("--label", "uw", "--data-dir", str(tmp_path), "--store", value,
            "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
    assert r.returncode == 2, r
    assert "--store" in r.stdout + r.stderr, r


def test_unreachable_postgresql_stops_the_start_quickly_without_the_password(tmp_path):
    uri = f"postgresql://pweb:hunter2secret@127.0.0.1:{closed_port()}/pweb"
    t0 = time.monotonic()
    r = run("--label", "uw", "--data-dir", str(tmp_path), "--store", uri,
            "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", timeout=60)
    took = time.monotonic() - t0
    assert r.returncode != 0, r
    out = r.stdout + r.stderr
    assert "127.0.0.1" in out, out
    assert "hunter2secret" not in out, out
    assert took < 20, f"took {took:.1f} s"
    r = run("user", "list", "--data-dir", str(tmp_path), "--store", uri)
    assert r.returncode == 1 and "hunter2secret" not in r.stdout + r.stderr, r


def test_admin_commands_use_the_postgresql_store(tmp_path):
    if not pg_cluster.available():
        pytest.skip("SKIPPED: PostgreSQL 15 is not installed (apt-get install postgresql-15)")
    with pg_cluster.PgCluster() as pg:
        uri = pg.create_database()
        r = run("user", "add", "alice", "--password-stdin", "--data-dir", str(tmp_path / "a"),
                "--store", uri, stdin="pw-of-alice\n")
        assert r.returncode == 0, r
        devices = tmp_path / "devices.txt"
        devices.write_text("laptop.alice.uw 192.0.2.1\n")
        r = run("device", "import", str(devices), "--data-dir", str(tmp_path / "a"), "--store", uri)
        assert r.returncode == 0, r
        # Another data dir, the same store: the same users and devices.
        r = run("user", "list", "--data-dir", str(tmp_path / "b"), "--store", uri)
        assert r.returncode == 0 and r.stdout.split() == ["alice"], r
        r = run("device", "list", "--data-dir", str(tmp_path / "b"), "--store", uri)
        assert r.returncode == 0 and r.stdout.startswith("laptop.alice.uw 192.0.2.1 "), r
        # The SQLite store of that data dir is another store.
        r = run("user", "list", "--data-dir", str(tmp_path / "b"))
        assert r.returncode == 0 and r.stdout.strip() == "", r
