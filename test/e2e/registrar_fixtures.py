"""Fixtures and helpers for black-box tests of pweb-node's registration side.

Import the fixtures you need into a test module, e.g.

    from registrar_fixtures import registrar, registrar_factory  # noqa: F401

(pytest finds fixtures that a test module imports). Everything here runs the
real `pweb-node` binary ($PWEB_NODE, as in conftest.py) and talks to it over
loopback HTTP (http.client, Basic auth) and DNS (dnspython, UDP), with a
timeout on every socket operation and a bound on every loop.

This file is shared: other suites may append their own fixtures below, in
their own clearly marked sections. Keep sections independent.
"""
from __future__ import annotations

# ===========================================================================
# Section: pweb-node registration (DynDNS2, JSON device API, ddclient,
# inadyn, kill -9 durability). Used by test_dyndns.py, test_rest_devices.py,
# test_ddclient.py, test_inadyn.py, test_kill9.py.
# ===========================================================================

import base64
import http.client
import ipaddress
import json as _json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import quote

import dns.rcode
import dns.rdatatype
import pytest

from conftest import Node, NodeStartError, node_binary

REG_LABEL = "uw"
REG_ZONE = "dht."
HTTP_TIMEOUT = 10.0          # per HTTP request (an update waits for an fsync)
HTTP_READY_TIMEOUT = 10.0    # /api/v1/status must answer 200 within this
ADMIN_TIMEOUT = 30.0         # `pweb-node user ...`

# Accounts created on every registrar node (before it starts).
REG_USERS: Dict[str, str] = {
    "alice": "alice-Secret-1",
    "bob": "bob-Secret-2",
}
# Added with `user add` only after the node is running.
REG_LATE_USERS: Dict[str, str] = {
    "carol": "carol-Secret-3",
}


# ---------------------------------------------------------------------------
# Admin commands
# ---------------------------------------------------------------------------

def run_user_cmd(data_dir: Path, *args: str, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
    """`pweb-node user ARGS --data-dir DIR`."""
    cmd = [node_binary(), "user", *args, "--data-dir", str(data_dir)]
    return subprocess.run(cmd, input=stdin if stdin is not None else "", stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=ADMIN_TIMEOUT)


def add_user(data_dir: Path, name: str, password: str) -> None:
    """`pweb-node user add NAME --password-stdin`; fails the test unless exit 0."""
    res = run_user_cmd(data_dir, "add", name, "--password-stdin", stdin=password + "\n")
    if res.returncode != 0:
        pytest.fail(f"`pweb-node user add {name} --password-stdin --data-dir {data_dir}` exited "
                    f"{res.returncode}\nstdout: {res.stdout}\nstderr: {res.stderr}", pytrace=False)


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

@dataclass
class HttpResult:
    method: str
    path: str
    status: int
    reason: str
    headers: Dict[str, str]          # lower-case names
    body: bytes
    raw_headers: List[Tuple[str, str]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def lines(self) -> List[str]:
        """Body lines, without CR, without trailing empty lines."""
        out = [l.rstrip("\r") for l in self.text.split("\n")]
        while out and out[-1].strip() == "":
            out.pop()
        return out

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self):
        try:
            return _json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"body is not JSON ({e}): {self!r}") from None

    def __repr__(self) -> str:
        body = self.text if len(self.body) <= 2000 else self.text[:2000] + "...(cut)"
        hdrs = "".join(f"\n  {k}: {v}" for k, v in self.raw_headers)
        return f"<HTTP {self.method} {self.path} -> {self.status} {self.reason}{hdrs}\n{body}>"


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def http_request(port: int, method: str, path: str, *, auth: Optional[Tuple[str, str]] = None,
                 headers: Optional[Mapping[str, str]] = None, body: Union[None, bytes, str] = None,
                 host: str = "127.0.0.1", source: Optional[str] = None,
                 timeout: float = HTTP_TIMEOUT) -> HttpResult:
    """One request on a fresh connection (Connection: close)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    hdrs = {"Connection": "close"}
    if auth is not None:
        hdrs["Authorization"] = basic_auth_header(*auth)
    if headers:
        hdrs.update(headers)
    if isinstance(body, str):
        body = body.encode()
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        raw = list(resp.getheaders())
        return HttpResult(method, path, resp.status, resp.reason,
                          {k.lower(): v for k, v in raw}, data, raw)
    finally:
        conn.close()


def raw_http_exchange(port: int, request: bytes, *, host: str = "127.0.0.1",
                      timeout: float = HTTP_TIMEOUT) -> Tuple[bytes, bool]:
    """Sends `request` as-is (ignoring a reset while sending: the server may
    answer early and close) and reads until EOF or the deadline. Returns
    (bytes read, True if the server closed the connection)."""
    deadline = time.monotonic() + timeout
    buf = b""
    closed = False
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            for i in range(0, len(request), 16384):  # bounded by the request size
                s.sendall(request[i:i + 16384])
        except (BrokenPipeError, ConnectionResetError):
            pass
        for _ in range(100000):  # bounded; each pass reads >= 1 byte or ends
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            buf += chunk
    return buf, closed


def parse_raw_status(data: bytes) -> Optional[int]:
    """Status code of the first response in `data`, or None."""
    line = data.split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    parts = line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def nic_query(params: Union[Mapping[str, str], Sequence[Tuple[str, str]]]) -> str:
    """Query string the way ddclient writes it: commas and colons left raw."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{quote(k)}={quote(v, safe=',:')}" for k, v in items)


# ---------------------------------------------------------------------------
# A node with a label, users, and helpers
# ---------------------------------------------------------------------------

def dns_name(device: str) -> str:
    return device.rstrip(".") + "." + REG_ZONE


def canon_ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


class Registrar:
    """A running `pweb-node --label uw` plus client helpers."""

    def __init__(self, node: Node, users: Dict[str, str]):
        self.node = node
        self.users = dict(users)

    # -- basics ---------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.node.data_dir

    @property
    def http_port(self) -> int:
        return self.node.http_port

    @property
    def db_path(self) -> Path:
        return self.node.data_dir / "pweb.db"

    def add_user(self, name: str, password: str) -> None:
        add_user(self.data_dir, name, password)
        self.users[name] = password

    def creds(self, user: str) -> Tuple[str, str]:
        return (user, self.users[user])

    # -- HTTP -----------------------------------------------------------------
    def request(self, method: str, path: str, **kw) -> HttpResult:
        return http_request(self.http_port, method, path, **kw)

    def get(self, path: str, **kw) -> HttpResult:
        return self.request("GET", path, **kw)

    def nic(self, user: Optional[str], params, password: Optional[str] = None,
            **kw) -> HttpResult:
        """GET /nic/update?PARAMS as `user` (its registered password unless
        `password` is given; user None = no Authorization header)."""
        auth = None
        if user is not None:
            auth = (user, password if password is not None else self.users[user])
        qs = nic_query(params) if not isinstance(params, str) else params
        return self.get("/nic/update" + ("?" + qs if qs else ""), auth=auth, **kw)

    def nic_ok(self, user: str, params, **kw) -> List[str]:
        """An update that must be answered 200 text/plain; returns its lines."""
        r = self.nic(user, params, **kw)
        assert r.status == 200, f"expected HTTP 200: {r!r}"
        assert r.content_type.startswith("text/plain"), f"expected text/plain: {r!r}"
        return r.lines

    def device_path(self, name: str) -> str:
        return "/api/v1/devices/" + quote(name, safe="")

    def put_device(self, user: Optional[str], name: str, body, password: Optional[str] = None,
                   **kw) -> HttpResult:
        auth = None if user is None else (user, password if password is not None else self.users[user])
        data = body if isinstance(body, (bytes, str)) else _json.dumps(body)
        return self.request("PUT", self.device_path(name), auth=auth, body=data,
                            headers={"Content-Type": "application/json"}, **kw)

    def get_device(self, user: Optional[str], name: str, password: Optional[str] = None,
                   **kw) -> HttpResult:
        auth = None if user is None else (user, password if password is not None else self.users[user])
        return self.request("GET", self.device_path(name), auth=auth, **kw)

    def delete_device(self, user: Optional[str], name: str, password: Optional[str] = None,
                      **kw) -> HttpResult:
        auth = None if user is None else (user, password if password is not None else self.users[user])
        return self.request("DELETE", self.device_path(name), auth=auth, **kw)

    def status(self) -> dict:
        r = self.get("/api/v1/status")
        assert r.status == 200, r
        return r.json()

    def list_all(self, limit: Optional[int] = None, since: Optional[int] = None,
                 max_pages: int = 1000) -> Tuple[List[dict], List[HttpResult]]:
        """Follows next_cursor through the crawler listing (bounded)."""
        devices: List[dict] = []
        pages: List[HttpResult] = []
        cursor = None
        for _ in range(max_pages):
            q = []
            if limit is not None:
                q.append(f"limit={limit}")
            if since is not None:
                q.append(f"since={since}")
            if cursor is not None:
                q.append("cursor=" + quote(cursor, safe=""))
            r = self.get("/api/v1/devices" + ("?" + "&".join(q) if q else ""))
            assert r.status == 200, r
            assert r.content_type.startswith("application/json"), r
            doc = r.json()
            assert isinstance(doc.get("devices"), list) and "next_cursor" in doc, r
            pages.append(r)
            devices += doc["devices"]
            cursor = doc["next_cursor"]
            if cursor is None:
                return devices, pages
        raise AssertionError(f"listing did not end within {max_pages} pages")

    # -- DNS ------------------------------------------------------------------
    def ask(self, device: str, rdtype):
        return self.node.ask(dns_name(device), rdtype, "udp")

    def addrs(self, device: str, rdtype) -> Tuple[int, List[str]]:
        """(rcode, sorted addresses of type rdtype in the answer)."""
        rep = self.ask(device, rdtype)
        out = sorted(canon_ip(r[4]) for r in rep.records("answer", rdtype))
        return rep.rcode, out

    def assert_dns(self, device: str, v4: Union[None, str, bool] = False,
                   v6: Union[None, str, bool] = False) -> None:
        """v4/v6: an address = exactly that record; None = NOERROR without
        records of that type (NODATA); False = not checked."""
        for rdtype, want in ((dns.rdatatype.A, v4), (dns.rdatatype.AAAA, v6)):
            if want is False:
                continue
            rep = self.ask(device, rdtype)
            got = sorted(canon_ip(r[4]) for r in rep.records("answer", rdtype))
            tname = dns.rdatatype.to_text(rdtype)
            if want is None:
                assert rep.rcode == dns.rcode.NOERROR and not got, (
                    f"{device} {tname}: expected NODATA (NOERROR, no {tname}), got {rep!r}")
            else:
                assert rep.rcode == dns.rcode.NOERROR and got == [canon_ip(want)], (
                    f"{device} {tname}: expected {want}, got {rep!r}")

    def dig(self, device: str, rdtype: str = "A") -> List[str]:
        """Addresses the real `dig` gets for the device (fails on no answer
        or a status other than NOERROR)."""
        import dnstools
        res = dnstools.run("dig", self.node.host, self.node.port, ["+norec", dns_name(device), rdtype])
        assert res.status == "NOERROR", f"dig {device} {rdtype}: {res!r}"
        return sorted(canon_ip(rec[4].strip()) for rec in res.records("ANSWER", rdtype))

    def assert_dig(self, device: str, v4: str) -> None:
        got = self.dig(device, "A")
        assert got == [canon_ip(v4)], f"dig {dns_name(device)} A: expected {v4}, got {got}"

    def assert_nxdomain(self, device: str) -> None:
        rep = self.ask(device, dns.rdatatype.A)
        assert rep.rcode == dns.rcode.NXDOMAIN, f"{device}: expected NXDOMAIN, got {rep!r}"

    # -- process ----------------------------------------------------------------
    def wait_http_ready(self, timeout: float = HTTP_READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        for _ in range(1000):
            if not self.node.alive():
                raise NodeStartError(f"{self.node.name}: exited before HTTP was ready\n"
                                     f"{self.node.log_tail()}")
            if time.monotonic() > deadline:
                break
            try:
                r = http_request(self.http_port, "GET", "/api/v1/status", timeout=1.0)
                if r.status == 200:
                    return
                last = f"status {r.status}"
            except OSError as e:
                last = str(e)
            time.sleep(0.05)
        raise NodeStartError(f"{self.node.name}: GET /api/v1/status not 200 within {timeout}s "
                             f"({last})\n{self.node.log_tail()}")

    def kill9(self) -> None:
        """SIGKILL the node (by pid: only the process we started)."""
        self.node._kill()

    def restart(self) -> None:
        """Starts the node again on the same data dir (new ports)."""
        try:
            self.node.start()
            self.wait_http_ready()
        except NodeStartError as e:
            pytest.fail(str(e), pytrace=False)

    def stop(self):
        return self.node.stop()

    def __repr__(self) -> str:
        return f"<Registrar {self.node!r} http={self.http_port}>"


class RegistrarFactory:
    def __init__(self, node_factory):
        self.node_factory = node_factory

    def start(self, name: str, users: Optional[Dict[str, str]] = None,
              late_users: Optional[Dict[str, str]] = None, extra_args: Sequence[str] = (),
              **kw) -> Registrar:
        """A fresh data dir; `users` added before start, `late_users` after."""
        users = dict(REG_USERS if users is None else users)
        late_users = dict(REG_LATE_USERS if late_users is None else late_users)
        data_dir = self.node_factory.new_dir(name + "-data") / "data"
        data_dir.mkdir()
        for u, pw in users.items():
            add_user(data_dir, u, pw)
        node = self.node_factory.start(name, devices=None, data_dir=data_dir,
                                       extra_args=["--label", REG_LABEL, *extra_args], **kw)
        reg = Registrar(node, users)
        try:
            reg.wait_http_ready()
        except NodeStartError as e:
            node.stop()
            pytest.fail(str(e), pytrace=False)
        for u, pw in late_users.items():
            reg.add_user(u, pw)
        return reg


@pytest.fixture(scope="session")
def registrar_factory(node_factory):
    return RegistrarFactory(node_factory)


@pytest.fixture(scope="session")
def registrar(registrar_factory):
    """The shared registration node: label uw, users alice and bob added
    before start, carol after. Tests use their own device names on it."""
    reg = registrar_factory.start("registrar")
    yield reg
    reg.stop()


def require_tool(name: str, package: str) -> str:
    """Path of an external client; a missing one FAILS the test (CI installs it)."""
    path = shutil.which(name)
    for d in ("/usr/bin", "/usr/sbin", "/sbin", "/bin"):
        if path:
            break
        cand = os.path.join(d, name)
        if os.access(cand, os.X_OK):
            path = cand
    if not path:
        pytest.fail(f"`{name}` is not installed: apt-get install -y {package} "
                    f"(DEBIAN_FRONTEND=noninteractive). Not skipped on purpose.", pytrace=False)
    return path


def run_client(cmd: Sequence[str], timeout: float, cwd: Optional[Path] = None,
               env: Optional[Mapping[str, str]] = None) -> Tuple[int, str]:
    """Runs an external client with a timeout; returns (exit code or -9 on
    timeout, combined output). The child gets its own session and is killed
    (by pid) when it overruns."""
    p = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, cwd=cwd, env=dict(env) if env else None,
                         start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate(timeout=5)
        return -9, out.decode("utf-8", "replace") + f"\n*** killed after {timeout}s timeout ***"

# ===========================================================================
# End of section: pweb-node registration.
# ===========================================================================
