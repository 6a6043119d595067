"""A throwaway PostgreSQL 15 cluster for integration tests (Debian's packages).

    with PgCluster() as pg:
        uri = pg.create_database()     # postgresql://pweb@127.0.0.1:PORT/t_1
        pg.stop(); pg.start()          # PostgreSQL down, and back

initdb runs as `nobody` when the tests run as root (initdb refuses root),
in a directory of its own under /tmp (a pytest tmp_path is closed to
`nobody`), with trust authentication on loopback; the server dies with the test run
(fast shutdown on exit, bounded). `available()` says whether the binaries
are installed; a test without them should skip saying so, loudly.
"""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "pweb"


def available() -> bool:
    return all((BIN / b).exists() for b in ("initdb", "postgres", "pg_isready", "createdb"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self):
        if not available():
            raise RuntimeError(f"PostgreSQL 15 is not installed ({BIN})")
        self.dir = Path(tempfile.mkdtemp(prefix="pweb-pg-"))
        self.data = self.dir / "data"
        self.port = _free_port()
        self.proc = None
        self._dbs = 0
        self._as = {}
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.dir, nobody.pw_uid, nobody.pw_gid)
            self._as = {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}
        with open(self.dir / "initdb.log", "wb") as log:
            subprocess.run([str(BIN / "initdb"), "-D", str(self.data), "-U", USER, "-A", "trust",
                            "-E", "UTF8", "--locale=C", "--no-sync"],
                           stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120,
                           **self._as)

    def uri(self, db: str) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{db}"

    def start(self):
        if self.proc is not None:
            return
        log = open(self.dir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "postgres"), "-D", str(self.data), "-k", str(self.dir), "-p", str(self.port),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on", "-c", "max_connections=200"],
            stdout=log, stderr=subprocess.STDOUT, **self._as)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            ready = subprocess.run([str(BIN / "pg_isready"), "-q", "-h", "127.0.0.1",
                                    "-p", str(self.port), "-t", "1"], timeout=10)
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"PostgreSQL did not start on port {self.port}; see {self.dir}/server.log")

    def stop(self):
        """Fast shutdown: sessions are cut, data is kept."""
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
        self.proc = None

    def create_database(self) -> str:
        self._dbs += 1
        name = f"t_{self._dbs}"
        subprocess.run([str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", USER,
                        name], check=True, timeout=30)
        return self.uri(name)

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
