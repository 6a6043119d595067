"""`pweb-node identity new|export|import` with the real binary: a label's
identity moves from one data dir to another as one bundle, the node started on
the copy uses the same DHT key, and a bad bundle or another identity in the
target is refused with nothing written."""
import os
import re
import stat
import subprocess
from pathlib import Path

from conftest import node_binary

SHARED = ("identity.pem", "identity.crt")
CMD_TIMEOUT = 120  # identity new makes an RSA key


def identity(*args, stdin: str = None) -> subprocess.CompletedProcess:
    return subprocess.run([node_binary(), "identity", *args], input=stdin, capture_output=True,
                          text=True, timeout=CMD_TIMEOUT)


def export(data_dir: Path) -> subprocess.CompletedProcess:
    return identity("export", "--data-dir", str(data_dir))


def import_(data_dir: Path, bundle: str, *extra: str) -> subprocess.CompletedProcess:
    return identity("import", "--data-dir", str(data_dir), *extra, stdin=bundle)


def files_of(data_dir: Path) -> dict:
    if not data_dir.exists():
        return {}
    return {p.name: p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file()}


def key_id(log: str) -> str:
    m = re.search(r"event=dht_started .*key_id=([0-9a-f]+)", log)
    assert m, f"no event=dht_started key_id= in the log:\n{log[-3000:]}"
    return m.group(1)


def test_export_from_a_node_import_into_a_fresh_dir(node_factory):
    first = node_factory.start("ident-a", extra_args=["--log-level", "info"])
    first_key = key_id(first.log_text())
    rc, _ = first.stop()
    assert rc == 0
    out = export(first.data_dir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pweb-identity-bundle 1\n")
    assert "token.key" in out.stderr and "absent" in out.stderr, out.stderr  # no token made

    target = node_factory.new_dir("ident-b") / "data"
    done = import_(target, out.stdout)
    assert done.returncode == 0, done.stderr
    for name in SHARED:
        assert (target / name).read_bytes() == (first.data_dir / name).read_bytes(), name
        assert stat.S_IMODE(os.stat(target / name).st_mode) == 0o600, name
    assert not (target / "identity.pins").exists()  # per node, not carried
    assert not [p for p in target.iterdir() if "tmp" in p.name]

    # A node on the copy claims with the same key, on the default store.
    second = node_factory.start("ident-b-node", devices=None, data_dir=target,
                                extra_args=["--log-level", "info"])
    assert key_id(second.log_text()) == first_key
    rc, _ = second.stop()
    assert rc == 0

    again = import_(target, out.stdout)
    assert again.returncode == 0 and "nothing changed" in again.stdout, again


def test_malformed_bundles_write_nothing(node_factory):
    source = node_factory.new_dir("ident-src") / "data"
    assert identity("new", "--data-dir", str(source), "--identity-bits", "2048").returncode == 0
    bundle = export(source).stdout
    other = node_factory.new_dir("ident-other") / "data"
    assert identity("new", "--data-dir", str(other), "--identity-bits", "2048").returncode == 0
    other_cert = (other / "identity.crt").read_text()
    mixed = bundle.replace((source / "identity.crt").read_text(), other_cert)
    assert mixed != bundle
    cases = {
        "truncated": (bundle[: len(bundle) // 2], "truncated"),
        "cut before the end line": (bundle[: bundle.rindex("end ")], "truncated"),
        "empty": ("", "empty"),
        "not a bundle": ("hello\n", "not a pweb identity bundle"),
        "key of another certificate": (mixed, "not the certificate's key"),
        "damaged token key": (re.sub(r"(BEGIN PWEB TOKEN KEY-----\n)", r"\1xx", bundle),
                              "token.key"),
    }
    for name, (text, why) in cases.items():
        target = node_factory.new_dir("ident-bad") / "data"
        res = import_(target, text)
        assert res.returncode != 0, f"{name}: accepted"
        assert why in res.stderr and "nothing written" in res.stderr, f"{name}: {res.stderr}"
        assert files_of(target) == {}, f"{name}: wrote {list(files_of(target))}"


def test_another_identity_needs_force(node_factory):
    a = node_factory.new_dir("ident-fa") / "data"
    b = node_factory.new_dir("ident-fb") / "data"
    for d in (a, b):
        made = identity("new", "--data-dir", str(d), "--identity-bits", "2048")
        assert made.returncode == 0, made.stderr
        assert (d / "token.key").stat().st_size == 32
    bundle_b = export(b).stdout
    assert "PWEB TOKEN KEY" in bundle_b
    before = files_of(a)

    refused = import_(a, bundle_b)
    assert refused.returncode != 0
    assert "another identity" in refused.stderr and "--force" in refused.stderr, refused.stderr
    assert files_of(a) == before  # nothing written

    forced = import_(a, bundle_b, "--force")
    assert forced.returncode == 0, forced.stderr
    for name in SHARED + ("token.key",):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert export(a).stdout == bundle_b
