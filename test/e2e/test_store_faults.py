"""A full disk or a read-only data dir: updates are refused (DynDNS2 `dnserr`,
JSON API 503) and change nothing, DNS keeps answering from memory, and once
the disk has room again (or is writable again) updates succeed. The data dir
is a small tmpfs of the test's own; mounting needs root (CI runs as root),
elsewhere the test is skipped and says so."""
from __future__ import annotations

import os
import subprocess

import dns.rdatatype
import pytest

from registrar_fixtures import REG_LABEL, REG_USERS, Registrar, add_user


def mount_tmpfs(path, size="8m"):
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("SKIPPED: needs root to mount a small tmpfs as the data dir; "
                    "disk-full handling was NOT tested")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"SKIPPED: cannot mount a tmpfs here ({r.stderr.strip()}); "
                    "disk-full handling was NOT tested")


def umount(path):
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def fill(path):
    """Writes a filler file until the file system is full (bounded by its size)."""
    filler = path / "filler"
    # Unbuffered: a buffered file would flush its tail again on close and raise ENOSPC there.
    with open(filler, "wb", buffering=0) as f:
        block = b"\0" * (64 << 10)
        for _ in range(10_000):
            try:
                f.write(block)
            except OSError:
                break
    return filler


def assert_refused_and_unchanged(r, ip):
    assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": ip}) == ["dnserr"]
    res = r.put_device("alice", "cam.alice.uw", {"ipv4": ip})
    assert res.status == 503, res
    assert "error" in res.json(), res
    # Nothing changed: DNS still answers the last acknowledged address.
    assert r.addrs("cam.alice.uw", dns.rdatatype.A) == (0, ["192.0.2.1"])


def start_registrar(node_factory, mnt, name):
    """A registrar with its data dir under `mnt`, alice's cam.alice.uw at 192.0.2.1."""
    data = mnt / "data"
    data.mkdir()
    add_user(data, "alice", REG_USERS["alice"])
    node = node_factory.start(name, devices=None, data_dir=data,
                              extra_args=["--label", REG_LABEL])
    r = Registrar(node, {"alice": REG_USERS["alice"]})
    try:
        r.wait_http_ready()
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.1"}) == [
            "good 192.0.2.1"]
    except BaseException:
        r.stop()
        raise
    return r


@pytest.fixture
def faulty(node_factory, tmp_path):
    """A registrar whose data dir is a tmpfs mount: (registrar, mount point)."""
    mnt = tmp_path / "mnt"
    mount_tmpfs(mnt)
    r = None
    try:
        r = start_registrar(node_factory, mnt, "faults")
        yield r, mnt
    finally:
        if r is not None:
            r.stop()
        umount(mnt)


def test_disk_full_refuses_updates_keeps_answering(faulty):
    r, mnt = faulty
    filler = fill(mnt)
    assert_refused_and_unchanged(r, "192.0.2.2")
    # Many more refused updates: the node neither crashes nor stops answering.
    for i in range(20):
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": f"192.0.2.{10 + i}"}) == [
            "dnserr"]
    assert r.addrs("cam.alice.uw", dns.rdatatype.A) == (0, ["192.0.2.1"])
    filler.unlink()
    assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.3"}) == [
        "good 192.0.2.3"]
    assert r.addrs("cam.alice.uw", dns.rdatatype.A) == (0, ["192.0.2.3"])


@pytest.fixture
def ext4_registrar(node_factory, tmp_path):
    """A registrar whose data dir is an ext4 image mounted errors=remount-ro, so
    the kernel can be told to force it read-only under the running node, as it
    does on a disk error: (registrar, sysfs trigger)."""
    if os.geteuid() != 0:
        pytest.skip("SKIPPED: needs root for a loop-mounted ext4 data dir; "
                    "read-only handling was NOT tested")
    img, mnt = tmp_path / "ext4.img", tmp_path / "ext4"
    mnt.mkdir()
    with open(img, "wb") as f:
        f.truncate(32 << 20)
    for cmd in (["mkfs.ext4", "-q", "-F", str(img)],
                ["mount", "-o", "loop,errors=remount-ro", str(img), str(mnt)]):
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            pytest.skip(f"SKIPPED: {' '.join(cmd[:2])} failed here ({p.stderr.strip()}); "
                        "read-only handling was NOT tested")
    r = None
    try:
        dev = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(mnt)], capture_output=True,
                             text=True, timeout=30).stdout.strip()
        trigger = f"/sys/fs/ext4/{os.path.basename(dev)}/trigger_fs_error"
        if not os.path.exists(trigger):
            pytest.skip(f"SKIPPED: no {trigger} in this kernel; read-only handling was NOT tested")
        r = start_registrar(node_factory, mnt, "faults-ro")
        yield r, trigger
    finally:
        if r is not None:
            r.stop()
        umount(mnt)


def test_read_only_data_dir_refuses_updates_keeps_answering(ext4_registrar):
    r, trigger = ext4_registrar
    with open(trigger, "w") as f:
        f.write("pweb test: force read-only\n")
    assert_refused_and_unchanged(r, "192.0.2.4")
    for i in range(20):
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": f"192.0.2.{10 + i}"}) == [
            "dnserr"]
    # Reads still work: the crawler listing and DNS.
    assert r.get("/api/v1/devices").status == 200
    assert r.addrs("cam.alice.uw", dns.rdatatype.A) == (0, ["192.0.2.1"])


# ---------------------------------------------------------------------------
# A damaged store refuses to start (exit 2), names the file and what is wrong,
# and writes nothing; --fresh-store sets it aside (never deleted) and starts.
# ---------------------------------------------------------------------------

import shutil
import sqlite3
import time

from conftest import free_port, node_binary

START_TIMEOUT = 60.0
MANY_DEVICES = "".join(f"d{i}.alice.uw 192.0.2.{i % 250 + 1} 2001:db8::{i:x}\n"
                       for i in range(3000))


@pytest.fixture(scope="module")
def used_data_dir(node_factory, tmp_path_factory):
    """A data dir as a registrar leaves it after a clean stop: its identity,
    user alice, 3000 devices plus cam.alice.uw. Tests damage copies of it."""
    base = tmp_path_factory.mktemp("used-store")
    data = base / "data"
    data.mkdir()
    add_user(data, "alice", REG_USERS["alice"])
    assert node_factory.import_devices(data, MANY_DEVICES).returncode == 0
    node = node_factory.start("used-store", devices=None, data_dir=data,
                              extra_args=["--label", REG_LABEL])
    r = Registrar(node, {"alice": REG_USERS["alice"]})
    try:
        r.wait_http_ready()
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.1"}) == [
            "good 192.0.2.1"]
    finally:
        assert r.stop()[0] == 0
    assert (data / "identity.pem").exists() and (data / "identity.crt").exists()
    assert not (data / "pweb.db-wal").exists()
    return data


def files_of(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.is_file()}


def node_cmd(data, *extra):
    return [node_binary(), "--data-dir", str(data), "--label", REG_LABEL,
            "--dns-listen", f"127.0.0.1:{free_port()}", "--http-listen",
            f"127.0.0.1:{free_port()}", "--dht-port", "0", "--gateway-listen", "127.0.0.1:0",
            "--identity-bits", "2048", *extra]


def run_refused(cmd, data):
    """Runs `cmd` (which must refuse the store); returns its output. Every
    file in the data dir is byte for byte as before, and none was added."""
    before = files_of(data)
    p = subprocess.run(cmd, input="pw\n", capture_output=True, text=True, timeout=START_TIMEOUT)
    out = p.stdout + p.stderr
    assert p.returncode == 2, f"exit {p.returncode}, expected 2 (damaged store)\n{out}"
    assert files_of(data) == before, f"the data dir changed\n{out}"
    return out


def set_schema_version(data, version):
    con = sqlite3.connect(str(data / "pweb.db"))
    con.execute("UPDATE meta SET value=? WHERE key='schema_version'", (version,))
    con.commit()
    con.close()
    assert not (data / "pweb.db-wal").exists()


def junk_page(data):
    db = data / "pweb.db"
    size = db.stat().st_size
    assert size >= 20 * 4096, size
    with open(db, "r+b") as f:
        f.seek(size // 2 // 4096 * 4096)
        f.write(b"\xa5" * 4096)


DAMAGES = {
    "truncated-to-0": (lambda d: os.truncate(d / "pweb.db", 0), "pweb.db is empty (0 bytes)"),
    "deleted": (lambda d: (d / "pweb.db").unlink(),
                "pweb.db is missing, but the data dir holds this node's identity"),
    "truncated-half": (lambda d: os.truncate(d / "pweb.db",
                                             (d / "pweb.db").stat().st_size // 2 // 4096 * 4096),
                       "pweb.db is truncated"),
    "junk-page": (junk_page, "pweb.db is corrupt"),
    "schema-3": (lambda d: set_schema_version(d, "3"),
                 "pweb.db has schema version 3; this build reads schema version 2"),
    "schema-text": (lambda d: set_schema_version(d, "two"),
                    "pweb.db has schema version 'two', which is not a number; this build reads "
                    "schema version 2"),
}


@pytest.fixture(params=sorted(DAMAGES))
def damaged(request, used_data_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(used_data_dir, data)
    damage, message = DAMAGES[request.param]
    damage(data)
    return data, message


def test_damaged_store_refuses_to_start_and_changes_nothing(damaged):
    data, message = damaged
    out = run_refused(node_cmd(data), data)
    assert "event=store_damaged" in out and str(data / "pweb.db") in out, out
    assert message in out, out
    assert "--fresh-store" in out, out


def test_admin_commands_refuse_a_damaged_store(damaged):
    data, message = damaged
    for args in (["user", "add", "dave", "--password-stdin"], ["user", "list"],
                 ["device", "list"]):
        out = run_refused([node_binary(), *args, "--data-dir", str(data)], data)
        assert message in out, f"{args}: {out}"


def test_fresh_store_sets_the_damaged_store_aside_and_starts(damaged, node_factory):
    data, message = damaged
    kept = (data / "pweb.db").read_bytes() if (data / "pweb.db").exists() else None
    t0 = int(time.time())
    node = node_factory.start("fresh-store", devices=None, data_dir=data,
                              extra_args=["--label", REG_LABEL, "--fresh-store"])
    try:
        r = Registrar(node, {})
        r.wait_http_ready()
        log = node.log_text()
        assert "event=store_set_aside" in log and message in log, log
        aside = sorted(data.glob("pweb.db.damaged-*"))
        if kept is None:  # deleted: nothing to keep
            assert not aside, aside
        else:
            assert [p.name for p in aside] == [aside[0].name], aside
            assert int(aside[0].name.split("-")[-1]) >= t0, aside
            assert aside[0].read_bytes() == kept
            assert str(aside[0]) in log, log
        assert r.status()["devices"] == 0  # a fresh store
        assert r.addrs("cam.alice.uw", dns.rdatatype.A)[0] != 0  # NXDOMAIN: gone
    finally:
        node.stop()


def test_fresh_store_leaves_a_sound_store_alone(used_data_dir, node_factory, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(used_data_dir, data)
    node = node_factory.start("sound-store", devices=None, data_dir=data,
                              extra_args=["--label", REG_LABEL, "--fresh-store"])
    try:
        r = Registrar(node, {"alice": REG_USERS["alice"]})
        r.wait_http_ready()
        assert r.addrs("cam.alice.uw", dns.rdatatype.A) == (0, ["192.0.2.1"])
        assert not list(data.glob("pweb.db.damaged-*"))
    finally:
        node.stop()
