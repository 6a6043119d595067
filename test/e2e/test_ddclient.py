"""The real Debian `ddclient` (3.10) against pweb-node's /nic/update and
/checkip. ddclient missing = test FAILURE (CI installs it:
`DEBIAN_FRONTEND=noninteractive apt-get install -y ddclient`).

Each test gets its own node (users alice, bob) and its own config + cache
file; ddclient runs once in the foreground (`-daemon=0 -foreground`) with a
timeout, and its output is shown when a test fails.
"""
import os

import pytest

from registrar_fixtures import registrar_factory, require_tool, run_client  # noqa: F401

DDCLIENT_TIMEOUT = 60.0


def write_conf(path, port, body_lines, login="alice", password=None, reg=None):
    password = password if password is not None else reg.users[login]
    text = "\n".join([
        "# written by test_ddclient.py",
        "daemon=0",
        "syslog=no",
        "ssl=no",
        "timeout=10",
        "protocol=dyndns2",
        f"server=127.0.0.1:{port}",
        f"login={login}",
        f"password={password}",
        *body_lines,
    ]) + "\n"
    path.write_text(text)
    os.chmod(path, 0o600)  # ddclient complains about readable password files
    return text


def run_ddclient(tmp_path, conf, cache, *extra):
    exe = require_tool("ddclient", "ddclient")
    cmd = [exe, "-daemon=0", "-foreground", "-file", str(conf), "-cache", str(cache),
           "-verbose", "-noquiet", "-debug", *extra]
    rc, out = run_client(cmd, DDCLIENT_TIMEOUT, cwd=tmp_path)
    return rc, f"$ {' '.join(cmd)}\n(exit {rc})\n{out}"


@pytest.fixture
def ddnode(registrar_factory, request):
    r = registrar_factory.start("ddclient-" + request.node.name[:40].replace("[", "-").strip("]"))
    yield r
    r.stop()


def test_ddclient_use_ip(ddnode, tmp_path):
    r = ddnode
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = write_conf(conf, r.http_port, ["use=ip, ip=192.0.2.77", "laptop.alice.uw"], reg=r)
    rc, out = run_ddclient(tmp_path, conf, cache)
    info = f"\n--- config ---\n{text}--- ddclient ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "FAILED" not in out, "ddclient reported a failure" + info
    assert "SUCCESS" in out, "ddclient did not report SUCCESS" + info
    r.assert_dig("laptop.alice.uw", "192.0.2.77")
    r.assert_dns("laptop.alice.uw", v4="192.0.2.77", v6=None)
    # what was stored is what ddclient believes
    assert "192.0.2.77" in cache.read_text(), "cache lacks the address" + info


def test_ddclient_several_hosts_one_request(ddnode, tmp_path):
    """ddclient groups hosts with the same login into one request and parses
    the answer line by line."""
    r = ddnode
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = write_conf(conf, r.http_port,
                      ["use=ip, ip=192.0.2.78", "laptop.alice.uw,phone.alice.uw"], reg=r)
    rc, out = run_ddclient(tmp_path, conf, cache)
    info = f"\n--- config ---\n{text}--- ddclient ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "FAILED" not in out, "ddclient reported a failure" + info
    assert out.count("SUCCESS") >= 2, "expected SUCCESS for both hosts" + info
    r.assert_dig("laptop.alice.uw", "192.0.2.78")
    r.assert_dig("phone.alice.uw", "192.0.2.78")


def test_ddclient_use_web_checkip(ddnode, tmp_path):
    """use=web: ddclient asks /checkip for its address (127.0.0.1 here)."""
    r = ddnode
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = write_conf(conf, r.http_port,
                      [f"use=web, web=http://127.0.0.1:{r.http_port}/checkip", "laptop.alice.uw"],
                      reg=r)
    rc, out = run_ddclient(tmp_path, conf, cache)
    info = f"\n--- config ---\n{text}--- ddclient ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "FAILED" not in out, "ddclient reported a failure" + info
    assert "SUCCESS" in out, "ddclient did not report SUCCESS" + info
    r.assert_dig("laptop.alice.uw", "127.0.0.1")


def test_ddclient_force_nochg(ddnode, tmp_path):
    """A forced repeat is answered `nochg`, which ddclient accepts."""
    r = ddnode
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = write_conf(conf, r.http_port, ["use=ip, ip=192.0.2.79", "laptop.alice.uw"], reg=r)
    rc, out1 = run_ddclient(tmp_path, conf, cache)
    assert "SUCCESS" in out1, out1
    rc, out = run_ddclient(tmp_path, conf, cache, "-force")
    info = f"\n--- config ---\n{text}--- ddclient (2nd, -force) ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "nochg" in out.lower(), "expected a nochg answer" + info
    assert "FAILED" not in out, "ddclient reported a failure" + info
    r.assert_dns("laptop.alice.uw", v4="192.0.2.79")


def test_ddclient_wrong_password(ddnode, tmp_path):
    r = ddnode
    assert r.nic_ok("alice", {"hostname": "laptop.alice.uw", "myip": "192.0.2.80"}) == ["good 192.0.2.80"]
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = write_conf(conf, r.http_port, ["use=ip, ip=192.0.2.81", "laptop.alice.uw"],
                      password="not-the-password", reg=r)
    rc, out = run_ddclient(tmp_path, conf, cache)
    info = f"\n--- config ---\n{text}--- ddclient ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "SUCCESS" not in out, "ddclient reported SUCCESS with a wrong password" + info
    assert "badauth" in out.lower() or "authorization failed" in out.lower(), (
        "ddclient did not report the auth failure" + info)
    r.assert_dns("laptop.alice.uw", v4="192.0.2.80")


def test_ddclient_nohost(ddnode, tmp_path):
    r = ddnode
    conf, cache = tmp_path / "ddclient.conf", tmp_path / "ddclient.cache"
    text = write_conf(conf, r.http_port, ["use=ip, ip=192.0.2.82", "laptop.bob.uw"], reg=r)
    rc, out = run_ddclient(tmp_path, conf, cache)
    info = f"\n--- config ---\n{text}--- ddclient ---\n{out}"
    assert rc != -9, "ddclient timed out" + info
    assert "nohost" in out.lower(), "ddclient did not report nohost" + info
    r.assert_nxdomain("laptop.bob.uw")
