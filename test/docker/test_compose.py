"""The user path of README's "Cluster with docker compose", against real containers.

docker compose brings up agents uw, ut, mit and a standalone gateway (see
conftest.py); devices are registered with the real pweb-update client from the
host build, and every agent and the gateway is asked with the real dig, over
UDP and TCP, for the registered addresses. Then ut is stopped (the others keep
answering) and started again (its devices, kept in its named volume, answer
again).
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import List, Tuple

import pytest

from conftest import Compose, run

DATA_DIR = "/var/lib/pweb"
AGENTS = ("uw", "ut", "mit")
EVERYONE = ("gateway",) + AGENTS
# A device of another agent needs the DHT (converging just after start-up) and
# a gateway-protocol round trip; its own agent answers from memory.
ANSWER_TIMEOUT = 60
DIG_TIMEOUT = 15
UPDATE_TIMEOUT = 120


def dig(port: int, name: str, tcp: bool) -> Tuple[str, List[str], str]:
    """(rcode or why there is none, A addresses in the answer, dig's output)."""
    cmd = ["dig", "@127.0.0.1", "-p", str(port), name, "A", "+time=2", "+tries=1",
           "+noall", "+comments", "+answer"] + (["+tcp"] if tcp else [])
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=DIG_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "dig hung", [], ""
    m = re.search(r"status: (\w+)", p.stdout)
    rcode = m.group(1) if m else f"no answer (dig exit {p.returncode})"
    addrs = [f[4] for f in (line.split() for line in p.stdout.splitlines()
                            if line and not line.startswith(";"))
             if len(f) >= 5 and f[3] == "A"]
    return rcode, addrs, p.stdout.strip()


def expect_address(cluster: Compose, service: str, name: str, address: str,
                   timeout: float = ANSWER_TIMEOUT) -> float:
    """Asks `service` over UDP, then TCP, until both give exactly `address`;
    returns the seconds it took, fails (with dig's last output) after `timeout`."""
    port = cluster.dns_port(service)
    name = name + ".dht"  # the zone every node serves, as a user types it
    started = time.monotonic()
    for tcp in (False, True):
        proto = "TCP" if tcp else "UDP"
        while True:
            rcode, addrs, out = dig(port, name, tcp)
            if rcode == "NOERROR" and addrs == [address]:
                break
            if time.monotonic() - started > timeout:
                pytest.fail(f"{service} (127.0.0.1:{port}/{proto}) did not answer {name} A "
                            f"{address} within {timeout:.0f} s; last: {rcode} {addrs}\n{out}",
                            pytrace=False)
            time.sleep(0.5)
    return time.monotonic() - started


def expect_everywhere(cluster: Compose, services, name: str, address: str) -> None:
    took = {s: round(expect_address(cluster, s, name, address), 1) for s in services}
    print(f"{name} -> {address}: seconds until answered over UDP+TCP {took}")


def password_file(cluster: Compose, user: str) -> Path:
    path = cluster.tmp / f"password-{user}"
    if not path.exists():
        path.write_text(cluster.passwords[user] + "\n")  # type: ignore[attr-defined]
        path.chmod(0o600)
    return path


def register(cluster: Compose, update: str, service: str, user: str, device: str,
             address: str) -> None:
    """One update with the real pweb-update client, as a laptop would send it."""
    cmd = [update, "--server", f"http://127.0.0.1:{cluster.http_port(service)}",
           "--user", user, "--password-file", str(password_file(cluster, user)),
           "--device", device, "--ip", address, "--once",
           "--state-file", str(cluster.tmp / f"state-{device}")]
    p = run(cmd, UPDATE_TIMEOUT, check=False)
    assert p.returncode == 0 and "event=updated" in p.stdout, \
        f"pweb-update for {device} at {service} exited {p.returncode}:\n{p.stdout}"


def users(cluster: Compose, service: str) -> List[str]:
    out = cluster("exec", "-T", service, "pweb-node", "user", "list", "--data-dir", DATA_DIR,
                  timeout=60).stdout
    return sorted(out.split())


@pytest.fixture(scope="module")
def update(prerequisites) -> str:
    return prerequisites["update"]


def test_users_come_from_the_env_file(cluster):
    for agent in AGENTS:
        assert users(cluster, agent) == ["alice", "carol"], f"users on {agent}"


def test_register_with_pweb_update_and_resolve_everywhere(cluster, update):
    register(cluster, update, "uw", "alice", "laptop.alice.uw", "192.0.2.10")
    # From its own agent, the two others (DHT + gateway protocol) and the gateway.
    expect_everywhere(cluster, EVERYONE, "laptop.alice.uw", "192.0.2.10")


def test_user_added_with_compose_exec(cluster, update):
    # The README's way to add a user to a running agent: no restart needed.
    p = cluster("exec", "-T", "uw", "pweb-node", "user", "add", "bob", "--password-stdin",
                "--data-dir", DATA_DIR, input="b0b-pw\n", timeout=60)
    assert "added user bob" in p.stdout
    assert "bob" in users(cluster, "uw")
    cluster.passwords["bob"] = "b0b-pw"  # type: ignore[attr-defined]
    register(cluster, update, "uw", "bob", "nas.bob.uw", "192.0.2.40")
    expect_everywhere(cluster, ("uw", "gateway"), "nas.bob.uw", "192.0.2.40")


def test_agent_stopped_then_started(cluster, update):
    register(cluster, update, "uw", "alice", "tablet.alice.uw", "192.0.2.11")
    register(cluster, update, "ut", "alice", "desktop.alice.ut", "192.0.2.20")
    register(cluster, update, "mit", "carol", "phone.carol.mit", "192.0.2.30")
    for name, address in (("tablet.alice.uw", "192.0.2.11"), ("desktop.alice.ut", "192.0.2.20"),
                          ("phone.carol.mit", "192.0.2.30")):
        expect_everywhere(cluster, EVERYONE, name, address)

    cluster("stop", "ut", timeout=120)
    st = cluster.state("ut")
    assert not st.get("Running"), f"ut still running after `stop`: {st}"

    live = ("uw", "mit", "gateway")
    expect_everywhere(cluster, live, "tablet.alice.uw", "192.0.2.11")
    expect_everywhere(cluster, live, "phone.carol.mit", "192.0.2.30")
    # Nothing cached anywhere: answered through the DHT and the live agents only.
    register(cluster, update, "mit", "carol", "watch.carol.mit", "192.0.2.31")
    expect_everywhere(cluster, live, "watch.carol.mit", "192.0.2.31")
    register(cluster, update, "uw", "alice", "phone.alice.uw", "192.0.2.12")
    expect_everywhere(cluster, ("mit", "gateway"), "phone.alice.uw", "192.0.2.12")

    cluster("start", "ut", timeout=120)
    took = cluster.wait_healthy(["ut"])
    print(f"ut healthy {took:.0f} s after `start`")
    # ut's store and accounts survived in its named volume ...
    expect_address(cluster, "ut", "desktop.alice.ut", "192.0.2.20")
    assert users(cluster, "ut") == ["alice", "carol"]
    # ... it is back in the DHT (asks for a device registered while it was down) ...
    expect_address(cluster, "ut", "watch.carol.mit", "192.0.2.31")
    # ... and the others reach it again.
    register(cluster, update, "ut", "alice", "laptop.alice.ut", "192.0.2.21")
    expect_everywhere(cluster, EVERYONE, "laptop.alice.ut", "192.0.2.21")


def test_passwords_never_in_the_logs(cluster):
    logs = cluster("logs", "--no-color", timeout=60).stdout
    assert "pweb-entrypoint: user alice added" in logs
    for password in cluster.passwords.values():  # type: ignore[attr-defined]
        assert password not in logs, "a password appears in the container logs"
    # (Whether PID 1 still holds PWEB_USERS in its environment is not checked here:
    # pweb-node carries a file capability, so its /proc/1/environ is unreadable even
    # to root in the container without CAP_SYS_PTRACE.)
