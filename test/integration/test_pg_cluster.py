"""The PostgreSQL fixture of the integration tests (test/pg_cluster.py) itself:
it starts, hands out databases, stops and starts again with the data kept."""
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))

import pg_cluster  # noqa: E402

PSQL = pg_cluster.BIN / "psql"


def psql(uri: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PSQL), "-X", "-qAt", "-d", uri, "-c", sql],
                          capture_output=True, text=True, timeout=30)


def test_cluster_starts_stops_and_keeps_data():
    if not pg_cluster.available():
        pytest.skip("SKIPPED: PostgreSQL 15 not installed (/usr/lib/postgresql/15)")
    with pg_cluster.PgCluster() as pg:
        uri = pg.create_database()
        assert uri.startswith("postgresql://pweb@127.0.0.1:")
        assert psql(uri, "CREATE TABLE t(x int); INSERT INTO t VALUES (7)").returncode == 0
        assert pg.create_database() != uri  # each test its own
        pg.stop()
        assert psql(uri + "?connect_timeout=2", "SELECT 1").returncode != 0
        pg.start()
        assert psql(uri, "SELECT x FROM t").stdout.strip() == "7"
