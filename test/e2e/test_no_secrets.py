"""No secrets in logs: with the most verbose logging and the query log on,
passwords (right and wrong, as sent in HTTP Basic auth, in either form) never
reach the node's log, nor the output of the admin commands."""
from __future__ import annotations

import base64
import subprocess

from conftest import node_binary
from registrar_fixtures import registrar_factory  # noqa: F401

SECRET = "S3cret-Zebra-Pass"
WRONG = "Wr0ng-Giraffe-Guess"


def forms(pw, user="alice"):
    return [pw, base64.b64encode(f"{user}:{pw}".encode()).decode()]


def test_passwords_never_logged(registrar_factory):  # noqa: F811
    r = registrar_factory.start("secrets", users={"alice": SECRET},
                                extra_args=["--log-level", "trace", "--query-log"])
    try:
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.1"}) == [
            "good 192.0.2.1"]
        assert r.nic("alice", {"hostname": "cam.alice.uw"}, password=WRONG).lines == ["badauth"]
        assert r.put_device("alice", "tv.alice.uw", {"ipv4": "192.0.2.2"}).status == 201
        assert r.put_device("alice", "tv.alice.uw", {"ipv4": "192.0.2.3"},
                            password=WRONG).status == 401
        assert r.get("/api/v1/devices?cursor=" + SECRET).status == 200
        # An admin command run with the password on stdin.
        p = subprocess.run([node_binary(), "user", "add", "bob", "--password-stdin",
                            "--data-dir", str(r.data_dir)], input=WRONG + "\n",
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        admin_out = p.stdout + p.stderr
    finally:
        r.stop()
    log = r.node.log_path.read_text(errors="replace")
    # The log is verbose, so the test means something: every request and query is in it.
    assert "event=http " in log and "path=/nic/update" in log, log[-2000:]
    assert "event=query " in log, log[-2000:]
    for secret in forms(SECRET) + forms(WRONG) + forms(WRONG, "bob"):
        assert secret not in log, f"a secret ({secret[:4]}...) is in the node log"
        assert secret not in admin_out, f"a secret ({secret[:4]}...) is in admin output"
