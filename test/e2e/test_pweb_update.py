"""The `pweb-update` client, black-box: the real binary ($PWEB_UPDATE, default
/work/main/build/registrar/updater/pweb-update) against a real `pweb-node
--label uw` (users from registrar_fixtures.py), and against a small scripted
DynDNS2 server in this file (to see exactly which requests the client sends,
and to play answers the real node gives rarely: 911, 5xx, numhost...).

Contract: /tmp/contract3.md. A missing binary is a test failure, never a skip.
Every child process runs with a timeout; every wait loop is bounded.
"""
from __future__ import annotations

import base64
import os
import shutil
import signal
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest

from conftest import free_port
from registrar_fixtures import registrar_factory  # noqa: F401

DEFAULT_BIN = "/work/main/build/registrar/updater/pweb-update"
RUN_TIMEOUT = 60.0  # any single pweb-update run in these tests
DEVICE = "laptop.alice.uw"

# Exit codes documented in `pweb-update --help`.
EXIT_OK, EXIT_USAGE, EXIT_TEMPORARY = 0, 2, 3
EXIT_BADAUTH, EXIT_NOHOST, EXIT_NOTFQDN, EXIT_NUMHOST, EXIT_ABUSE, EXIT_REJECTED = 4, 5, 6, 7, 8, 9


def update_binary() -> str:
    path = os.environ.get("PWEB_UPDATE", DEFAULT_BIN)
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        pytest.fail(f"pweb-update binary not found or not executable: {path!r}. Build it "
                    f"(cmake --build build --target pweb-update) or point PWEB_UPDATE at it.",
                    pytrace=False)
    return path


# ---------------------------------------------------------------------------
# Running the client
# ---------------------------------------------------------------------------

class Run:
    def __init__(self, cmd: List[str], rc: int, out: str, elapsed: float):
        self.cmd, self.rc, self.out, self.elapsed = cmd, rc, out, elapsed

    def events(self, name: str) -> List[str]:
        return [l for l in self.out.splitlines() if f"event={name} " in l + " "]

    def __repr__(self) -> str:
        return (f"\n$ {' '.join(self.cmd)}\n(exit {self.rc} after {self.elapsed:.1f}s)\n"
                f"{self.out}")


class Client:
    """Builds and runs pweb-update command lines for one test (its own
    password file, state directory and HOME)."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        self.state = tmp_path / "state" / DEVICE

    def password_file(self, password: str, name: str = "password") -> Path:
        p = self.tmp / name
        p.write_text(password + "\n")
        os.chmod(p, 0o600)
        return p

    def env(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("STATE_DIRECTORY", "XDG_STATE_HOME")}
        env["HOME"] = str(self.home)
        return env

    def args(self, server: str, password: str, device: str = DEVICE, user: str = "alice",
             ip: Optional[str] = "192.0.2.55", state: Optional[Path] = None,
             extra: Sequence[str] = ()) -> List[str]:
        cmd = [update_binary(), "--server", server, "--user", user,
               "--password-file", str(self.password_file(password)), "--device", device,
               "--state-file", str(state or self.state), "--timeout", "5"]
        if ip is not None:
            cmd += ["--ip", ip]
        return cmd + list(extra)

    def run(self, cmd: List[str], stdin: Optional[str] = None,
            timeout: float = RUN_TIMEOUT, env: Optional[Dict[str, str]] = None) -> Run:
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, input=stdin if stdin is not None else "",
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=timeout, env=env or self.env())
            return Run(cmd, p.returncode, p.stdout, time.monotonic() - t0)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            pytest.fail(f"pweb-update did not end within {timeout}s{Run(cmd, -9, out, timeout)!r}",
                        pytrace=False)

    def once(self, server: str, password: str, **kw) -> Run:
        return self.run(self.args(server, password, extra=["--once", *kw.pop("extra", ())], **kw))

    def start_daemon(self, cmd: List[str], log: Path) -> subprocess.Popen:
        with open(log, "wb") as f:
            return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                    env=self.env(), start_new_session=True)


def stop_daemon(p: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10.0) -> Tuple[Optional[int], float]:
    """Sends `sig` (by pid: only our child) and waits; (exit code or None if it
    had to be killed, seconds taken)."""
    t0 = time.monotonic()
    if p.poll() is None:
        p.send_signal(sig)
    try:
        return p.wait(timeout=timeout), time.monotonic() - t0
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)
        return None, time.monotonic() - t0


def wait_until(pred, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / step) + 2):
        if pred():
            return True
        if time.monotonic() > deadline:
            break
        time.sleep(step)
    return bool(pred())


@pytest.fixture
def client(tmp_path) -> Client:
    return Client(tmp_path)


@pytest.fixture(scope="module")
def agent(registrar_factory):
    """A `pweb-node --label uw` of its own (users alice, bob; carol added after start)."""
    reg = registrar_factory.start("pweb-update")
    yield reg
    reg.stop()


def server_url(reg) -> str:
    return f"http://127.0.0.1:{reg.http_port}"


# ---------------------------------------------------------------------------
# A scripted DynDNS2 server that records what it is sent
# ---------------------------------------------------------------------------

class Recorded:
    def __init__(self, path: str, query: Dict[str, List[str]], headers: Dict[str, str]):
        self.path, self.query, self.headers = path, query, headers

    def __repr__(self) -> str:
        return f"<GET {self.path} {self.query} auth={'authorization' in self.headers}>"


class FakeDynServer:
    """`/nic/update` answers from `answers` in order ((status, body); the last
    one repeats; the default is `good MYIP`); `/checkip` answers the next of
    `checkip` (the last one repeats)."""

    def __init__(self, answers: Sequence[Tuple[int, str]] = (), checkip: Sequence[str] = ("192.0.2.1",),
                 tls: Optional[Tuple[Path, Path]] = None):
        self.answers = list(answers)
        self.checkip = list(checkip)
        self.requests: List[Recorded] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def do_GET(self):
                parts = urlsplit(self.path)
                rec = Recorded(parts.path, parse_qs(parts.query),
                               {k.lower(): v for k, v in self.headers.items()})
                with outer.lock:
                    outer.requests.append(rec)
                    if parts.path == "/checkip":
                        addr = outer.checkip.pop(0) if len(outer.checkip) > 1 else outer.checkip[0]
                        status, ctype = 200, "text/html"
                        body = ("<html><head><title>Current IP Check</title></head><body>Current IP "
                                f"Address: {addr}</body></html>\n")
                    elif parts.path == "/nic/update":
                        ctype = "text/plain"
                        if outer.answers:
                            status, body = (outer.answers.pop(0) if len(outer.answers) > 1
                                            else outer.answers[0])
                        else:
                            status, body = 200, f"good {rec.query.get('myip', ['?'])[0]}\n"
                    else:
                        status, ctype, body = 404, "text/plain", "not found\n"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

        self.port = free_port()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def nic(self) -> List[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.path == "/nic/update"]

    def paths(self) -> List[str]:
        with self.lock:
            return [r.path for r in self.requests]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def fake_factory():
    servers: List[FakeDynServer] = []

    def make(*a, **kw) -> FakeDynServer:
        s = FakeDynServer(*a, **kw)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


FAKE_PW = "fake-Secret-9"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def test_help_documents_options_and_exit_codes(client):
    r = client.run([update_binary(), "--help"])
    assert r.rc == 0, r
    for word in ("--server", "--user", "--password-file", "--device", "--ip", "--interval",
                 "--once", "--retries", "--timeout", "--state-file", "Exit codes", "badauth",
                 "nohost", "abuse"):
        assert word in r.out, f"--help does not mention {word}{r!r}"
    assert "--password " not in r.out and "--password=" not in r.out, r


def test_password_is_never_accepted_on_the_command_line(client):
    secret = "Cmdline-Secret-77"
    cmd = client.args("http://127.0.0.1:9", "x") + ["--password", secret, "--once"]
    r = client.run(cmd)
    assert r.rc == EXIT_USAGE, r
    assert "never accepted on the command line" in r.out, r
    assert secret not in r.out, r
    # A stray value (e.g. a password pasted by mistake) is not echoed either.
    r = client.run(client.args("http://127.0.0.1:9", "x") + [secret, "--once"])
    assert r.rc == EXIT_USAGE, r
    assert secret not in r.out, r


def test_bad_device_name_names_the_label(client):
    r = client.run(client.args("http://127.0.0.1:9", "x", device="lap_top.alice.uw") + ["--once"])
    assert r.rc == EXIT_USAGE, r
    assert "'lap_top'" in r.out, r
    r = client.run(client.args("http://127.0.0.1:9", "x", device="laptop.alice") + ["--once"])
    assert r.rc == EXIT_USAGE and "device.user.agent" in r.out, r
    r = client.run(client.args("http://127.0.0.1:9", "x", device="laptop.bob.uw") + ["--once"])
    assert r.rc == EXIT_USAGE and "'bob'" in r.out, r


@pytest.mark.parametrize("server,why", [
    ("127.0.0.1:8053", "http://"),
    ("ftp://127.0.0.1", "scheme"),
    ("http://alice:pw@127.0.0.1", "credentials"),
])
def test_bad_server_url(client, server, why):
    r = client.run(client.args(server, "x") + ["--once"])
    assert r.rc == EXIT_USAGE and why in r.out, r


def test_bad_ip_and_empty_password_file(client):
    r = client.run(client.args("http://127.0.0.1:9", "x", ip="192.0.2") + ["--once"])
    assert r.rc == EXIT_USAGE and "--ip" in r.out, r
    cmd = client.args("http://127.0.0.1:9", "") + ["--once"]
    r = client.run(cmd)
    assert r.rc == EXIT_USAGE and "empty" in r.out, r
    cmd[cmd.index("--password-file") + 1] = str(client.tmp / "missing")
    r = client.run(cmd)
    assert r.rc == EXIT_USAGE and "missing" in r.out, r


# ---------------------------------------------------------------------------
# Against the real pweb-node
# ---------------------------------------------------------------------------

def test_once_registers_the_address(agent, client):
    pw = agent.users["alice"]
    r = client.once(server_url(agent), pw, ip="192.0.2.55")
    assert r.rc == EXIT_OK, r
    agent.assert_dns(DEVICE, v4="192.0.2.55", v6=None)
    agent.assert_dig(DEVICE, "192.0.2.55")
    assert len(r.events("updated")) == 1 and "answer=good" in r.out, r
    assert pw not in r.out, r
    state = client.state.read_text()
    assert "address=192.0.2.55" in state and f"device={DEVICE}" in state, state
    assert (client.state.stat().st_mode & 0o077) == 0

    # Same address again: nothing is sent (the client never needs the server's nochg).
    r2 = client.once(server_url(agent), pw, ip="192.0.2.55")
    assert r2.rc == EXIT_OK, r2
    assert r2.events("updated") == [] and len(r2.events("unchanged")) == 1, r2
    assert "update_sent=false" in r2.out, r2
    # A new address is sent.
    r3 = client.once(server_url(agent), pw, ip="192.0.2.56")
    assert r3.rc == EXIT_OK and len(r3.events("updated")) == 1, r3
    agent.assert_dns(DEVICE, v4="192.0.2.56")


def test_second_run_with_the_node_down_sends_nothing(client, registrar_factory):
    """Proof that an unchanged address sends no request: the second run
    succeeds although its node is no longer running."""
    reg = registrar_factory.start("pweb-update-once")
    url = server_url(reg)
    r = client.once(url, reg.users["alice"], device="pc.alice.uw", ip="192.0.2.60")
    assert r.rc == EXIT_OK, r
    reg.assert_dns("pc.alice.uw", v4="192.0.2.60")
    reg.stop()
    r2 = client.once(url, reg.users["alice"], device="pc.alice.uw", ip="192.0.2.60")
    assert r2.rc == EXIT_OK and r2.events("unchanged") and not r2.events("retry"), r2


def test_ipv6_literal(agent, client):
    r = client.once(server_url(agent), agent.users["alice"], device="v6.alice.uw",
                    ip="2001:DB8::0:55")
    assert r.rc == EXIT_OK, r
    agent.assert_dns("v6.alice.uw", v4=None, v6="2001:db8::55")


def test_wrong_password_is_badauth(agent, client):
    wrong = "Not-Alices-Password-1"
    r = client.once(server_url(agent), wrong, device="bad.alice.uw")
    assert r.rc == EXIT_BADAUTH, r
    assert "badauth" in r.out and "password" in r.out, r
    assert wrong not in r.out, r
    assert len(r.events("fatal")) == 1 and not r.events("retry"), r
    assert not client.state.exists()
    agent.assert_nxdomain("bad.alice.uw")


def test_unknown_user_is_badauth(agent, client):
    r = client.once(server_url(agent), "whatever", user="mallory", device="x.mallory.uw")
    assert r.rc == EXIT_BADAUTH and "badauth" in r.out, r


def test_repeated_wrong_passwords_end_in_abuse(client, registrar_factory):
    """The node blocks an address after too many failed logins (HTTP 429
    `abuse`): the client stops at once with its own exit code."""
    reg = registrar_factory.start("pweb-update-abuse")
    try:
        codes = []
        for _ in range(30):  # the node blocks after about 10
            r = client.once(server_url(reg), "Wrong-Password-0", device="x.alice.uw")
            codes.append(r.rc)
            if r.rc != EXIT_BADAUTH:
                break
        assert r.rc == EXIT_ABUSE, f"exit codes {codes}{r!r}"
        assert "abuse" in r.events("fatal")[0] and not r.events("retry"), r
    finally:
        reg.stop()


def test_another_agent_label_is_nohost(agent, client):
    r = client.once(server_url(agent), agent.users["alice"], device="laptop.alice.ux")
    assert r.rc == EXIT_NOHOST and "nohost" in r.out, r


def test_user_added_while_running(agent, client):
    r = client.once(server_url(agent), agent.users["carol"], user="carol", device="tab.carol.uw",
                    ip="192.0.2.61")
    assert r.rc == EXIT_OK, r
    agent.assert_dns("tab.carol.uw", v4="192.0.2.61")


def test_auto_ip_asks_checkip(agent, client):
    r = client.once(server_url(agent), agent.users["alice"], device="auto.alice.uw", ip="auto")
    assert r.rc == EXIT_OK, r
    assert "address=127.0.0.1" in r.out, r
    agent.assert_dns("auto.alice.uw", v4="127.0.0.1")


def test_default_ip_is_auto_and_password_from_stdin(agent, client):
    cmd = client.args(server_url(agent), "unused", device="stdin.alice.uw", ip=None) + ["--once"]
    cmd[cmd.index("--password-file") + 1] = "-"
    r = client.run(cmd, stdin=agent.users["alice"] + "\n")
    assert r.rc == EXIT_OK, r
    agent.assert_dns("stdin.alice.uw", v4="127.0.0.1")


def test_default_state_file_location(agent, client):
    cmd = client.args(server_url(agent), agent.users["alice"], device="xdg.alice.uw",
                      ip="192.0.2.62") + ["--once"]
    i = cmd.index("--state-file")
    del cmd[i:i + 2]
    env = client.env()
    env["XDG_STATE_HOME"] = str(client.tmp / "xdg")
    r = client.run(cmd, env=env)
    assert r.rc == EXIT_OK, r
    assert "address=192.0.2.62" in (client.tmp / "xdg" / "pweb-update" / "xdg.alice.uw").read_text()
    del env["XDG_STATE_HOME"]  # then ~/.local/state
    r = client.run(cmd, env=env)
    assert r.rc == EXIT_OK and r.events("updated"), r
    assert (client.home / ".local" / "state" / "pweb-update" / "xdg.alice.uw").is_file()


def test_interface_without_global_address(agent, client):
    r = client.once(server_url(agent), agent.users["alice"], device="lo.alice.uw", ip="if:lo",
                    extra=["--retries", "0"])
    assert r.rc == EXIT_TEMPORARY, r
    assert "no global address" in r.out, r
    r = client.once(server_url(agent), agent.users["alice"], device="lo.alice.uw",
                    ip="if:nosuchif0", extra=["--retries", "0"])
    assert r.rc == EXIT_TEMPORARY and "no interface 'nosuchif0'" in r.out, r


def test_server_down_retries_then_fails(client):
    port = free_port()  # nothing listens there
    r = client.once(f"http://127.0.0.1:{port}", "pw", extra=["--retries", "2", "--retry-delay", "0.2"])
    assert r.rc == EXIT_TEMPORARY, r
    assert len(r.events("retry")) == 2 and len(r.events("gave_up")) == 1, r
    assert "cannot connect" in r.out, r
    assert r.elapsed < 10, r
    # The default schedule: one retry after about 5 s (+-20 %).
    r = client.once(f"http://127.0.0.1:{port}", "pw", extra=["--retries", "1"])
    assert r.rc == EXIT_TEMPORARY and len(r.events("retry")) == 1, r
    assert 3.5 < r.elapsed < 15, r


def test_silent_server_times_out(client):
    """A server that accepts connections but never answers: the read timeout
    (--timeout) ends each attempt."""
    import socket
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))
        s.listen(16)  # never accepts: the kernel completes the handshake, nobody answers
        cmd = client.args(f"http://127.0.0.1:{port}", "pw") + ["--once", "--retries", "1",
                                                               "--retry-delay", "0.1"]
        cmd[cmd.index("--timeout") + 1] = "1"
        r = client.run(cmd, timeout=30)
    assert r.rc == EXIT_TEMPORARY, r
    assert "within 1 s" in r.out and len(r.events("retry")) == 1, r
    assert 1.5 < r.elapsed < 10, r


def test_daemon_updates_and_stops_on_sigterm(agent, client):
    cmd = client.args(server_url(agent), agent.users["alice"], device="daemon.alice.uw", ip="auto",
                      extra=["--interval", "1"])
    log = client.tmp / "daemon.log"
    p = client.start_daemon(cmd, log)
    try:
        ok = wait_until(lambda: "event=updated" in log.read_text(), 15)
        assert ok, f"no update within 15 s\n{log.read_text()}"
        agent.assert_dns("daemon.alice.uw", v4="127.0.0.1")
        time.sleep(1.5)  # at least one more check: unchanged, so no second update
        assert p.poll() is None, log.read_text()
    finally:
        rc, took = stop_daemon(p)
    text = log.read_text()
    assert rc == 0, f"exit {rc} after SIGTERM\n{text}"
    assert took < 5, f"took {took:.1f}s to stop\n{text}"
    assert text.count("event=updated") == 1 and "event=stopped signal=SIGTERM" in text, text


# ---------------------------------------------------------------------------
# Against the scripted server
# ---------------------------------------------------------------------------

def test_request_shape(fake_factory, client):
    srv = fake_factory(checkip=["198.51.100.9"])
    r = client.once(srv.url, FAKE_PW, ip="auto")
    assert r.rc == EXIT_OK, r
    assert srv.paths() == ["/checkip", "/nic/update"], srv.requests
    check, nic = srv.requests
    assert "authorization" not in check.headers, "credentials sent to /checkip"
    # Credentials up front, on the first request (no 401 round trip).
    auth = nic.headers.get("authorization", "")
    assert auth == "Basic " + base64.b64encode(f"alice:{FAKE_PW}".encode()).decode(), nic.headers
    assert nic.headers.get("user-agent", "").startswith("pweb-update/"), nic.headers
    assert nic.query == {"hostname": [DEVICE], "myip": ["198.51.100.9"]}, nic.query


def test_unchanged_address_sends_no_update(fake_factory, client):
    srv = fake_factory()
    assert client.once(srv.url, FAKE_PW, ip="192.0.2.70").rc == EXIT_OK
    r = client.once(srv.url, FAKE_PW, ip="192.0.2.70")
    assert r.rc == EXIT_OK, r
    assert len(srv.nic()) == 1, srv.requests
    # A new address, or another server, does send one.
    assert client.once(srv.url, FAKE_PW, ip="192.0.2.71").rc == EXIT_OK
    assert len(srv.nic()) == 2
    other = fake_factory()
    assert client.once(other.url, FAKE_PW, ip="192.0.2.71").rc == EXIT_OK
    assert len(other.nic()) == 1


@pytest.mark.parametrize("answers", [
    [(200, "911\n"), (200, "good 192.0.2.55\n")],
    [(200, "dnserr\n"), (200, "good 192.0.2.55\n")],
    [(503, "busy\n"), (500, "oops\n"), (200, "good 192.0.2.55\n")],
    [(200, "<html>captive portal</html>\n"), (200, "nochg 192.0.2.55\n")],
])
def test_temporary_failures_are_retried(fake_factory, client, answers):
    srv = fake_factory(answers=answers)
    r = client.once(srv.url, FAKE_PW, extra=["--retry-delay", "0.1"])
    assert r.rc == EXIT_OK, r
    assert len(srv.nic()) == len(answers), srv.requests
    assert len(r.events("retry")) == len(answers) - 1, r
    assert "address=192.0.2.55" in client.state.read_text()


def test_temporary_failures_give_up_after_retries(fake_factory, client):
    srv = fake_factory(answers=[(200, "911\n")])
    r = client.once(srv.url, FAKE_PW, extra=["--retry-delay", "0.1", "--retries", "3"])
    assert r.rc == EXIT_TEMPORARY, r
    assert len(srv.nic()) == 4, srv.requests
    assert "911" in r.events("gave_up")[0], r
    assert not client.state.exists()


@pytest.mark.parametrize("status,body,code,word", [
    (200, "badauth\n", EXIT_BADAUTH, "badauth"),
    (401, "badauth\n", EXIT_BADAUTH, "badauth"),
    (200, "nohost\n", EXIT_NOHOST, "nohost"),
    (200, "notfqdn\n", EXIT_NOTFQDN, "notfqdn"),
    (200, "numhost\n", EXIT_NUMHOST, "numhost"),
    (429, "abuse\n", EXIT_ABUSE, "abuse"),
    (400, "myip 'x' is not an IPv4 or IPv6 address\n", EXIT_REJECTED, "is not an IPv4"),
    (404, "not found\n", EXIT_REJECTED, "404"),
])
def test_fatal_answers_stop_at_once(fake_factory, client, status, body, code, word):
    srv = fake_factory(answers=[(status, body)])
    r = client.once(srv.url, FAKE_PW, extra=["--retry-delay", "0.1"])
    assert r.rc == code, r
    assert word in r.events("fatal")[0], r
    assert len(srv.nic()) == 1 and not r.events("retry"), srv.requests


def test_daemon_follows_address_changes(fake_factory, client):
    srv = fake_factory(checkip=["192.0.2.80", "192.0.2.80", "192.0.2.81"])
    cmd = client.args(srv.url, FAKE_PW, ip="auto", extra=["--interval", "1"])
    log = client.tmp / "daemon.log"
    p = client.start_daemon(cmd, log)
    try:
        ok = wait_until(lambda: len(srv.nic()) >= 2, 15)
        assert ok, f"{srv.requests}\n{log.read_text()}"
    finally:
        rc, _ = stop_daemon(p, signal.SIGINT)
    sent = [n.query["myip"][0] for n in srv.nic()]
    assert sent == ["192.0.2.80", "192.0.2.81"], f"{sent}\n{log.read_text()}"
    assert srv.paths().count("/checkip") >= 3
    assert rc == 0, log.read_text()


def test_daemon_fatal_answer_stops_it(fake_factory, client):
    srv = fake_factory(answers=[(200, "badauth\n")])
    cmd = client.args(srv.url, FAKE_PW, extra=["--interval", "1"])
    r = client.run(cmd, timeout=20)
    assert r.rc == EXIT_BADAUTH, r


def test_sigterm_during_retry_wait(fake_factory, client):
    srv = fake_factory(answers=[(503, "busy\n")])
    cmd = client.args(srv.url, FAKE_PW, extra=["--retry-delay", "60"])
    log = client.tmp / "daemon.log"
    p = client.start_daemon(cmd, log)
    try:
        assert wait_until(lambda: "event=retry" in log.read_text(), 10), log.read_text()
    finally:
        rc, took = stop_daemon(p)
    assert rc == 0 and took < 3, f"exit {rc} after {took:.1f}s\n{log.read_text()}"


# ---------------------------------------------------------------------------
# https
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tls_cert(tmp_path_factory):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.fail("openssl is not installed (apt-get install openssl)", pytrace=False)
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    res = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                          "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                          "-addext", "subjectAltName=IP:127.0.0.1"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert res.returncode == 0, res.stdout
    return cert, key


def test_https_with_a_private_ca(fake_factory, client, tls_cert):
    srv = fake_factory(checkip=["203.0.113.5"], tls=tls_cert)
    r = client.once(srv.url, FAKE_PW, ip="auto", extra=["--ca-file", str(tls_cert[0])])
    assert r.rc == EXIT_OK, r
    assert [n.query["myip"][0] for n in srv.nic()] == ["203.0.113.5"]


def test_https_untrusted_certificate_is_not_accepted(fake_factory, client, tls_cert):
    srv = fake_factory(tls=tls_cert)
    r = client.once(srv.url, FAKE_PW, extra=["--retries", "0"])
    assert r.rc == EXIT_TEMPORARY, r
    assert "not trusted" in r.out, r
    assert srv.nic() == []
