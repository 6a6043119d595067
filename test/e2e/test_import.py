"""`pweb-node device import` (behaviour 16): bad lines are rejected with a
non-zero exit and a message naming the offending label, and then nothing from
that file is imported."""
import dns.rcode
import dns.rdatatype as T
import pytest

# (id, bad line, text the error message must contain or None)
BAD_LINES = [
    ("underscore", "bad_label.alice.uw 192.0.2.1 -", "bad_label"),
    ("leading-hyphen", "-x.alice.uw 192.0.2.2 -", "-x"),
    ("64-char-label", ("l" * 64) + ".alice.uw 192.0.2.3 -", "l" * 64),
    ("64-char-user", "dev." + ("m" * 64) + ".uw 192.0.2.4 -", "m" * 64),
    ("bad-char-in-agent", "dev.alice.u*w 192.0.2.5 -", "u*w"),
    ("non-ascii", "l\u00e4ptop.alice.uw 192.0.2.6 -", None),
    ("empty-label", "dev..uw 192.0.2.7 -", None),
    ("two-labels", "alice.uw 192.0.2.8 -", None),
    ("four-labels", "a.dev.alice.uw 192.0.2.9 -", None),
    ("bad-ipv4", "dev.alice.uw 192.0.2.300 -", None),
    ("bad-ipv6", "dev.alice.uw 192.0.2.10 2001:db8::zz", None),
]


def bad_file(i, line):
    """A good line before and after the bad one: none of them may be imported."""
    return (f"# file {i}\n"
            f"keep{i}a.imp.uw 198.51.100.{i + 1} -\n"
            f"{line}\n"
            f"keep{i}b.imp.uw 198.51.100.{i + 101} -\n")


@pytest.mark.parametrize("i,case", list(enumerate(BAD_LINES)), ids=[c[0] for c in BAD_LINES])
def test_import_rejects(node_factory, i, case):
    cid, line, label = case
    d = node_factory.new_dir(f"imp-{cid}") / "data"
    d.mkdir()
    res = node_factory.import_devices(d, bad_file(i, line))
    out = res.stdout + res.stderr
    assert res.returncode != 0, f"{cid}: import of {line!r} exited 0\n{out}"
    assert out.strip(), f"{cid}: non-zero exit but no error message"
    if label is not None:
        assert label.lower() in out.lower(), f"{cid}: message does not name the label {label!r}: {out!r}"


def test_rejected_files_import_nothing(node_factory):
    """All bad files into one store, then one good file: only the good file's
    devices resolve."""
    d = node_factory.new_dir("imp-all") / "data"
    d.mkdir()
    rejected = []
    for i, (cid, line, _) in enumerate(BAD_LINES):
        res = node_factory.import_devices(d, bad_file(i, line), name=f"bad{i}.txt")
        if res.returncode != 0:  # an accepted file is reported by test_import_rejects
            rejected.append(i)
    assert rejected, "every bad file was accepted"
    good = "final.imp.uw 203.0.113.1 2001:db8::1:1\n"
    res = node_factory.import_devices(d, good, name="good.txt")
    assert res.returncode == 0, res.stdout + res.stderr
    n = node_factory.start("imp-all", devices=None, data_dir=d)
    try:
        rep = n.ask("final.imp.uw.dht.", T.A, "udp")
        assert [r[4] for r in rep.records("answer", T.A)] == ["203.0.113.1"], rep
        leaked = []
        for i in rejected:
            for suffix in ("a", "b"):
                rep = n.ask(f"keep{i}{suffix}.imp.uw.dht.", T.A, "udp")
                if rep.rcode != dns.rcode.NXDOMAIN:
                    leaked.append((BAD_LINES[i][0], f"keep{i}{suffix}", dns.rcode.to_text(rep.rcode)))
        for name in ("bad_label.alice.uw.dht.", "x.alice.uw.dht."):
            rep = n.ask(name, T.A, "udp")
            if rep.rcode != dns.rcode.NXDOMAIN:
                leaked.append(("bad line itself", name, dns.rcode.to_text(rep.rcode)))
        assert not leaked, f"devices imported from rejected files: {leaked}"
    finally:
        n.stop()


def test_import_accepts_variants(node_factory):
    """Comments, blank lines, upper case (names are case-insensitive), a missing
    IPv6 column, '-' for a missing IPv4."""
    d = node_factory.new_dir("imp-good") / "data"
    d.mkdir()
    text = ("# comment line\n"
            "\n"
            "UPPER.Case.UW 192.0.2.101 -\n"
            "two.col.uw 192.0.2.102\n"
            "v6.only.uw - 2001:db8::103\n"
            "x-y.a-b.0-9 192.0.2.104 2001:db8::104\n")
    res = node_factory.import_devices(d, text)
    assert res.returncode == 0, f"import failed: {res.stdout}{res.stderr}"
    n = node_factory.start("imp-good", devices=None, data_dir=d)
    try:
        checks = [("upper.case.uw.dht.", T.A, ["192.0.2.101"]),
                  ("UPPER.CASE.UW.DHT.", T.A, ["192.0.2.101"]),
                  ("two.col.uw.dht.", T.A, ["192.0.2.102"]),
                  ("two.col.uw.dht.", T.AAAA, []),
                  ("v6.only.uw.dht.", T.AAAA, ["2001:db8::103"]),
                  ("v6.only.uw.dht.", T.A, []),
                  ("x-y.a-b.0-9.dht.", T.AAAA, ["2001:db8::104"])]
        for qname, rdtype, want in checks:
            rep = n.ask(qname, rdtype, "udp")
            assert rep.rcode == dns.rcode.NOERROR, f"{qname}: {rep!r}"
            assert [r[4] for r in rep.records("answer", rdtype)] == want, f"{qname}: {rep!r}"
    finally:
        n.stop()
