"""The real Debian `inadyn` (2.10) against pweb-node's /nic/update and
/checkip, through a `custom {}` provider section. inadyn missing = test
FAILURE (CI installs it: `apt-get install -y inadyn`).

What inadyn 2.10 does (from its source and man page, checked here):
- `ddns-server`/`checkip-server` take `host[:port]`; `ssl = false` turns off
  HTTPS for the update, but a custom checkip-server needs its own
  `checkip-ssl = false` (default true).
- It sends `GET <ddns-path with %h %i expanded> HTTP/1.0` with
  `Host: <server without port>`, Basic auth, and reads until the server
  closes the connection. ',' and ':' in the path are percent-encoded.
- The update counts as successful on HTTP 200 with a body containing
  "good", "nochg", "OK", "true" or "updated"; 401/403 = auth failure.
- It rejects loopback/zero/link-local/multicast addresses from checkip unless
  `verify-address = false` (global option), so the /checkip test needs it.
"""
import pytest

from registrar_fixtures import registrar_factory, require_tool, run_client  # noqa: F401

INADYN_TIMEOUT = 60.0


def write_conf(path, reg, *, password=None, hostnames=("laptop.alice.uw",), checkip=True,
               checkip_cmd=None, global_lines=()):
    port = reg.http_port
    password = password if password is not None else reg.users["alice"]
    hosts = ", ".join(f'"{h}"' for h in hostnames)
    lines = ["# written by test_inadyn.py", "period = 60", *global_lines, "",
             "custom pweb {",
             "    username       = alice",
             f'    password       = "{password}"',
             "    ssl            = false",
             f'    ddns-server    = "127.0.0.1:{port}"',
             '    ddns-path      = "/nic/update?hostname=%h&myip=%i"']
    if checkip:
        lines += [f'    checkip-server = "127.0.0.1:{port}"',
                  '    checkip-path   = "/checkip"',
                  "    checkip-ssl    = false"]
    if checkip_cmd:
        lines += [f'    checkip-command = "{checkip_cmd}"']
    lines += [f"    hostname       = {{ {hosts} }}", "}"]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    path.chmod(0o600)
    return text


def run_inadyn(tmp_path, conf, *extra):
    exe = require_tool("inadyn", "inadyn")
    cache = tmp_path / "cache"
    cache.mkdir(exist_ok=True)
    cmd = [exe, "--once", "--foreground", "--no-pidfile", f"--cache-dir={cache}",
           f"--config={conf}", "--loglevel=debug", *extra]
    rc, out = run_client(cmd, INADYN_TIMEOUT, cwd=tmp_path)
    return rc, f"$ {' '.join(cmd)}\n(exit {rc})\n{out}"


@pytest.fixture
def inode(registrar_factory, request):
    r = registrar_factory.start("inadyn-" + request.node.name[:40].replace("[", "-").strip("]"))
    yield r
    r.stop()


def test_inadyn_check_config(inode, tmp_path):
    conf = tmp_path / "inadyn.conf"
    text = write_conf(conf, inode, global_lines=["verify-address = false"])
    exe = require_tool("inadyn", "inadyn")
    rc, out = run_client([exe, "--check-config", f"--config={conf}"], 30, cwd=tmp_path)
    assert rc == 0, f"inadyn --check-config rejected the config:\n{text}\n{out}"


def test_inadyn_checkip_command(inode, tmp_path):
    """The update path alone: the address comes from a command."""
    r = inode
    conf = tmp_path / "inadyn.conf"
    text = write_conf(conf, r, checkip=False, checkip_cmd="/bin/echo 192.0.2.88")
    rc, out = run_inadyn(tmp_path, conf)
    info = f"\n--- config ---\n{text}--- inadyn ---\n{out}"
    assert rc != -9, "inadyn timed out" + info
    assert "Successful alias table update for laptop.alice.uw" in out, (
        "inadyn did not report success" + info)
    assert rc == 0, "inadyn exited non-zero" + info
    r.assert_dig("laptop.alice.uw", "192.0.2.88")
    r.assert_dns("laptop.alice.uw", v4="192.0.2.88", v6=None)


def test_inadyn_checkip_server(inode, tmp_path):
    """The address comes from pweb-node's /checkip (127.0.0.1: loopback, hence
    `verify-address = false`)."""
    r = inode
    conf = tmp_path / "inadyn.conf"
    text = write_conf(conf, r, global_lines=["verify-address = false"])
    rc, out = run_inadyn(tmp_path, conf)
    info = f"\n--- config ---\n{text}--- inadyn ---\n{out}"
    assert rc != -9, "inadyn timed out" + info
    assert "Successful alias table update for laptop.alice.uw" in out, (
        "inadyn did not report success" + info)
    assert "127.0.0.1" in out, info
    r.assert_dig("laptop.alice.uw", "127.0.0.1")
    r.assert_dns("laptop.alice.uw", v4="127.0.0.1", v6=None)


def test_inadyn_two_hostnames(inode, tmp_path):
    """inadyn sends one request per hostname."""
    r = inode
    conf = tmp_path / "inadyn.conf"
    text = write_conf(conf, r, checkip=False, checkip_cmd="/bin/echo 192.0.2.89",
                      hostnames=("laptop.alice.uw", "phone.alice.uw"))
    rc, out = run_inadyn(tmp_path, conf)
    info = f"\n--- config ---\n{text}--- inadyn ---\n{out}"
    assert rc != -9, "inadyn timed out" + info
    for h in ("laptop.alice.uw", "phone.alice.uw"):
        assert f"Successful alias table update for {h}" in out, f"no success for {h}" + info
        r.assert_dig(h, "192.0.2.89")


def test_inadyn_forced_repeat_nochg(inode, tmp_path):
    r = inode
    conf = tmp_path / "inadyn.conf"
    text = write_conf(conf, r, checkip=False, checkip_cmd="/bin/echo 192.0.2.90")
    rc, out = run_inadyn(tmp_path, conf)
    assert "Successful alias table update" in out, out
    rc, out = run_inadyn(tmp_path, conf, "--force")
    info = f"\n--- config ---\n{text}--- inadyn (2nd, --force) ---\n{out}"
    assert rc != -9, "inadyn timed out" + info
    assert "nochg" in out, "expected a nochg answer" + info
    assert "Successful alias table update for laptop.alice.uw" in out, info
    r.assert_dns("laptop.alice.uw", v4="192.0.2.90")


def test_inadyn_wrong_password(inode, tmp_path):
    r = inode
    assert r.nic_ok("alice", {"hostname": "laptop.alice.uw", "myip": "192.0.2.91"}) == ["good 192.0.2.91"]
    conf = tmp_path / "inadyn.conf"
    text = write_conf(conf, r, password="not-the-password", checkip=False,
                      checkip_cmd="/bin/echo 192.0.2.92")
    rc, out = run_inadyn(tmp_path, conf)
    info = f"\n--- config ---\n{text}--- inadyn ---\n{out}"
    assert rc != -9, "inadyn timed out" + info
    assert "Successful alias table update" not in out, "inadyn reported success" + info
    assert rc != 0, "inadyn exited 0 after a failed update" + info
    assert "badauth" in out, "the server's badauth answer is not in inadyn's log" + info
    r.assert_dns("laptop.alice.uw", v4="192.0.2.91")
