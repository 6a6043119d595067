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
    with open(filler, "wb") as f:
        block = b"\0" * (64 << 10)
        for _ in range(10_000):
            try:
                f.write(block)
                f.flush()
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
