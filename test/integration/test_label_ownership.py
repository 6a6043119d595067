"""Who owns an agent label, against a foreign OpenDHT node (pweb-dht-forger, a
C++ program: python3-opendht can neither sign a value nor set its type) that
publishes validly signed records under its own key: a backdated one for a live
label (takeover) and one for a label no agent holds yet (squatting).

Without trust anchors a new agent follows neither claimant of the live label
(SERVFAIL with EDE 24 "agent label contested", event=label_contested) until its
operator pins one, and the real agent of the squatted label refuses to start,
saying how to resolve it. With a federation CA (--trust-anchor on every node)
the forged records are dropped: the real agents claim their labels and are
followed."""
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

import cluster as cluster_mod
from cluster import poll

UW_DEVICES = {"laptop.alice.uw": "192.0.2.10"}
MIT_DEVICES = {"desk.bob.mit": "198.51.100.7"}


def forger_binary() -> str:
    default = Path(cluster_mod.binary()).parent.parent / "test" / "pweb-dht-forger"
    path = os.environ.get("PWEB_DHT_FORGER", str(default))
    assert os.access(path, os.X_OK), f"pweb-dht-forger not found at {path!r}: build it or set " \
                                     f"PWEB_DHT_FORGER"
    return path


class Forger:
    """The foreign node, alive (refreshing its records) until closed."""

    def __init__(self, network_id: int, bootstrap: int, ca_dir, records):
        self.proc = subprocess.Popen(
            [forger_binary(), str(network_id), str(bootstrap), str(ca_dir) if ca_dir else "-",
             *records],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            start_new_session=True)
        cluster_mod.STARTED.append(self.proc)
        self.lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line.strip())
            if line.strip() == "ready":
                break
        assert self.lines and self.lines[-1] == "ready", self.lines
        assert not [ln for ln in self.lines if ln.startswith("failed")], self.lines
        self.key = self.lines[0].split()[1]

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def key_id(node) -> str:
    m = re.search(r"event=dht_started .*key_id=([0-9a-f]{40})", node.log_text())
    assert m, node.tail()
    return m.group(1)


def start_refused(node, pattern: str) -> str:
    """Starts `node`, which must exit 3 (label refused) with `pattern` in its log."""
    node.start(wait=False)
    node.proc.wait(timeout=60)
    log = node.log_text()
    assert node.proc.returncode == 3, f"{node.name} exited {node.proc.returncode}:\n{node.tail()}"
    assert "event=label_refused" in log and re.search(pattern, log), node.tail()
    return log


def admin(args):
    r = subprocess.run([cluster_mod.binary(), *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"{args} exited {r.returncode}:\n{r.stdout}{r.stderr}"
    return r.stdout


def test_without_anchors_takeover_is_contested_and_squatting_needs_a_pin(make_cluster):
    c = make_cluster(ttl=1, timeout=3.0)
    uw = c.add("uw", UW_DEVICES)
    forger = Forger(c.network_id, uw.dht, None, ["uw:5555:40", "mit:6666:1"])
    try:
        # A new agent sees two keys for "uw" and follows neither.
        cmu = c.add("cmu", {})
        d = cmu.dig("laptop.alice.uw.dht")
        assert d.status == "SERVFAIL", d
        full = subprocess.run(["dig", "+time=3", "+tries=1", "@127.0.0.1", "-p", str(cmu.dns),
                               "laptop.alice.uw.dht", "A"], capture_output=True, text=True,
                              timeout=20).stdout
        assert "EDE: 24 (Invalid Data): (agent label contested: signed by several keys)" in full, full
        assert poll(lambda: re.search(r"event=label_contested label=uw keys=\S*" + key_id(uw),
                                      cmu.log_text()), 5), cmu.tail()
        assert forger.key in re.search(r"event=label_contested label=uw keys=(\S+)",
                                       cmu.log_text()).group(1)
        status, body = cmu.get("/api/v1/resolve/laptop.alice.uw")
        assert status == 502 and "contested" in str(body), (status, body)
        status, metrics = cmu.get("/metrics", json_body=False)
        assert re.search(r'pweb_dht_lookups_total\{result="contested"\} [1-9]', metrics)
        status, body = cmu.get("/api/v1/agents/uw")
        assert status == 503 and "contested" in body.get("error", ""), (status, body)

        # The squatted label: its real agent refuses to start, saying what to do.
        mit = c.add("mit", MIT_DEVICES, start=False)
        log = start_refused(mit, r"held in the DHT by key " + forger.key)
        assert "pweb-node pin add mit" in log
        # Its operator pins its own key (the log named it): it claims the label.
        admin(["pin", "add", "mit", key_id(mit), "--data-dir", str(mit.data)])
        assert "operator" in admin(["pin", "list", "--data-dir", str(mit.data)])
        mit.start()
        # cmu's operator pins uw's real key: followed within seconds, no restart.
        admin(["pin", "add", "uw", key_id(uw), "--data-dir", str(cmu.data)])
        assert poll(lambda: cmu.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"]),
                    15), cmu.tail()
    finally:
        forger.close()


def test_with_trust_anchors_forged_records_are_dropped(make_cluster, tmp_path):
    ca = tmp_path / "ca"
    admin(["ca", "init", "--out", str(ca)])
    anchor = ["--trust-anchor", str(ca / "ca.crt")]
    c = make_cluster(ttl=1, timeout=3.0)

    def certified(label, devices):
        n = c.add(label, devices, extra=anchor, start=False)
        # First start: no label certificate yet, and the error says how to get one.
        start_refused(n, r"pweb-node ca sign --ca CA_DIR --label " + label)
        admin(["ca", "sign", "--ca", str(ca), "--label", label, "--data-dir", str(n.data)])
        n.start()
        return n

    uw = certified("uw", UW_DEVICES)
    # The forger's certificates come from its own CA (same name, other key).
    forger = Forger(c.network_id, uw.dht, tmp_path / "forger-ca", ["uw:5555:40", "mit:6666:1"])
    try:
        mit = certified("mit", MIT_DEVICES)  # the squatter does not block the claim
        cmu = certified("cmu", {})
        assert poll(lambda: cmu.address("laptop.alice.uw.dht") == ("NOERROR", ["192.0.2.10"]),
                    15), cmu.tail()
        assert cmu.address("desk.bob.mit.dht") == ("NOERROR", ["198.51.100.7"])
        assert "event=label_contested" not in cmu.log_text()
        status, metrics = cmu.get("/metrics", json_body=False)
        assert re.search(r'pweb_dht_records_rejected_total\{reason="uncertified"\} [1-9]',
                         metrics), metrics
        # The same DHT seen by a node without anchors: "uw" is contested there.
        plain = c.add("eth", {})
        assert plain.dig("laptop.alice.uw.dht").status == "SERVFAIL"
        assert mit.alive() and uw.alive()
    finally:
        forger.close()
