"""ISC's EDNS compliance report (genreport, https://gitlab.isc.org/isc-projects/DNS-Compliance-Testing)
probe by probe, with the real `dig` and the dig flags genreport documents for
each probe, every answer judged by genreport's own rules (re-stated below from
its `process()`), one test per probe; each must be "ok".

Groups: genreport's default EDNS set, its "full" set (header flags, unknown
opcode, TCP, EDNS options), the "common" set (what BIND and dig send) and
the "type" set (a query for every type at the apex). Cookies and NSID: a
client cookie alone must be answered NOERROR (a server cookie or BADCOOKIE
with a server cookie is also ok, as genreport allows); NSID is only reported,
never judged. So the verdicts do not depend on whether the server implements
cookies or NSID.
"""
import re
from dataclasses import dataclass, field
from typing import List, Optional

import pytest

import dnstools

ZONE = "dht."

DO = 0x8000


@dataclass
class Probe:
    name: str
    dig: List[str]          # dig's flags, as genreport's table gives them
    udpsize: int = 0        # EDNS UDP size sent (0: no EDNS)
    eflags: int = 0         # EDNS flags sent
    version: int = 0        # EDNS version sent
    cookie: bool = False    # a client cookie sent
    ignore: bool = False    # TC in the answer is judged, not retried over TCP
    rd: bool = False
    cd: bool = False
    ad: bool = False
    opcode: int = 0
    qtype: Optional[str] = "SOA"  # None: header only

    def args(self) -> List[str]:
        out = list(self.dig)
        if self.udpsize and not any(a.startswith("+bufsize") for a in out):
            out.append(f"+bufsize={self.udpsize}")
        if self.qtype:
            out += [ZONE, self.qtype]
        return out


def _p(name, dig, **kw):
    return Probe(name, dig.split(), **kw)


PLAIN = "+noedns +noad +norec"
E0 = "+edns=0 +nocookie +noad +norec"
E1 = "+edns=1 +noednsneg +nocookie +noad +norec"
COOKIE = "+cookie=0102030405060708"

PROBES = [
    # genreport's default (EDNS) group, "dns" being the plain query.
    _p("dns", PLAIN),
    _p("edns", E0, udpsize=4096),
    _p("edns1", E1, udpsize=4096, version=1),
    _p("edns@512", E0 + " +dnssec +ignore +bufsize=512", udpsize=512, eflags=DO, ignore=True,
       qtype="DNSKEY"),
    _p("ednsopt", E0 + " +ednsopt=100", udpsize=4096),
    _p("edns1opt", E1 + " +ednsopt=100", udpsize=4096, version=1),
    _p("do", E0 + " +dnssec", udpsize=4096, eflags=DO),
    _p("ednsflags", E0 + " +ednsflags=0x0080", udpsize=4096, eflags=0x0080),
    _p("optlist", "+edns=0 +noad +norec +nsid +subnet=0.0.0.0/0 +expire " + COOKIE,
       udpsize=4096, cookie=True),
    _p("ednstcp", E0 + " +dnssec +bufsize=512 +tcp", udpsize=512, eflags=DO, qtype="DNSKEY"),
    # The full group.
    _p("aa", PLAIN + " +aaflag"),
    _p("ad", "+noedns +ad +norec", ad=True),
    _p("cd", PLAIN + " +cd", cd=True),
    _p("ra", PLAIN + " +raflag"),
    _p("rd", "+noedns +noad +rec", rd=True),
    _p("tc", PLAIN + " +tcflag"),
    _p("zflag", PLAIN + " +zflag"),
    _p("opcode", PLAIN + " +header-only +opcode=15", opcode=15, qtype=None),
    _p("opcodeflg", "+noedns +header-only +opcode=15 +tcflag +rec +raflag +cd +ad +aaflag +zflag",
       opcode=15, rd=True, cd=True, ad=True, qtype=None),
    _p("type666", PLAIN, qtype="TYPE666"),
    _p("tcp", PLAIN + " +tcp"),
    _p("edns1do", E1 + " +dnssec", udpsize=4096, eflags=DO, version=1),
    _p("ednsnsid", E0 + " +nsid", udpsize=4096),
    _p("ednscookie", "+edns=0 +noad +norec " + COOKIE, udpsize=4096, cookie=True),
    _p("ednsexpire", E0 + " +expire", udpsize=4096),
    _p("ednssubnet", E0 + " +subnet=0.0.0.0/0", udpsize=4096),
    _p("edns1nsid", E1 + " +nsid", udpsize=4096, version=1),
    _p("edns1cookie", "+edns=1 +noednsneg +noad +norec " + COOKIE, udpsize=4096, version=1,
       cookie=True),
    _p("edns1expire", E1 + " +expire", udpsize=4096, version=1),
    _p("edns1subnet", E1 + " +subnet=0.0.0.0/0", udpsize=4096, version=1),
    # The common group: what BIND and dig send.
    _p("bind11", "+edns=0 +noad +norec +dnssec " + COOKIE, udpsize=4096, eflags=DO, cookie=True),
    _p("dig11", "+edns=0 +ad +rec " + COOKIE, udpsize=4096, cookie=True, rd=True, ad=True),
]

# The type group: every type genreport asks for at the apex (by number, which
# every dig understands).
TYPES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
         25, 26, 27, 28, 29, 30, 33, 35, 36, 37, 38, 39, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51,
         52, 53, 55, 59, 60, 61, 99, 104, 105, 106, 107, 108, 109, 256, 257, 258, 259, 32769, 1000]
PROBES += [_p(f"TYPE{t}", PLAIN, qtype=f"TYPE{t}") for t in TYPES]

OPCODES = {"QUERY": 0, "IQUERY": 1, "STATUS": 2, "NOTIFY": 4, "UPDATE": 5}


@dataclass
class Reply:
    """What genreport reads of the (last) response, from dig's text."""
    opcode: int = -1
    rcode: str = ""
    flags: set = field(default_factory=set)
    z: bool = False
    counts: dict = field(default_factory=dict)
    opt: bool = False
    version: int = 0
    do: bool = False
    mbz: bool = False
    options: List[str] = field(default_factory=list)
    seensoa: bool = False
    size: int = 0


def read_reply(text: str) -> Optional[Reply]:
    lines = text.splitlines()
    starts = [i for i, l in enumerate(lines) if "->>HEADER<<-" in l]
    if not starts:
        return None
    r = Reply()
    block = lines[starts[-1]:]
    m = re.search(r"opcode:\s*(\w+),\s*status:\s*(\w+)", block[0])
    op = m.group(1)
    r.opcode = OPCODES.get(op, int(op[8:]) if op.startswith("RESERVED") else -1)
    r.rcode = m.group(2)
    section = None
    for line in block[1:]:
        if line.startswith(";; flags:"):
            head, _, rest = line[len(";; flags:"):].partition(";")
            r.flags = set(head.split())
            r.z = "MBZ" in rest
            r.counts = {k: int(v) for k, v in re.findall(r"(QUERY|ANSWER|AUTHORITY|ADDITIONAL):"
                                                          r"\s*(\d+)", line)}
        elif line.startswith(";; OPT PSEUDOSECTION"):
            r.opt = True
            section = "OPT"
        elif line.startswith("; EDNS:"):
            vm = re.search(r"version:\s*(\d+)", line)
            r.version = int(vm.group(1)) if vm else 0
            fm = re.search(r"flags:([^;]*);", line)
            r.do = bool(fm and "do" in fm.group(1).split())
            r.mbz = "MBZ" in line
        elif section == "OPT" and line.startswith("; ") and ":" in line:
            r.options.append(line[2:].split(":", 1)[0].strip())
        m2 = re.match(r"^;; (QUESTION|ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
        if m2:
            section = m2.group(1)
            continue
        if not line.strip():
            section = None if section != "OPT" else section
            continue
        if section == "ANSWER" and not line.startswith(";"):
            parts = line.split()
            if len(parts) > 3 and parts[3] == "SOA" and parts[0].lower() == ZONE:
                r.seensoa = True
        sm = re.search(r"MSG SIZE\s+rcvd:\s*(\d+)", line)
        if sm:
            r.size = int(sm.group(1))
    return r


def judge(p: Probe, r: Reply) -> List[str]:
    """genreport's verdict tags for one answer; empty means "ok"."""
    bad = []
    c = r.counts
    if p.opcode:
        for sec, tag in (("QUERY", "question"), ("ANSWER", "answer"),
                         ("AUTHORITY", "authority"), ("ADDITIONAL", "additional")):
            if c.get(sec, 0):
                bad.append(f"non-empty-{tag}-section")
    if r.opcode != p.opcode:
        bad.append(f"opcode{r.opcode}")
    server_cookie = "COOKIE" in r.options
    if p.version == 0:
        if p.opcode == 0 and r.rcode != "NOERROR" and not (
                p.cookie and r.rcode == "BADCOOKIE" and server_cookie):
            bad.append(r.rcode)
        if p.opcode != 0 and r.rcode != "NOTIMP":
            bad.append(r.rcode)
    elif r.rcode != "BADVERS":
        bad.append(r.rcode)
    if r.opt and r.version != 0:
        bad.append("version-not-zero")
    if r.opt and ((r.version < p.version and r.rcode != "BADVERS") or
                  (r.version >= p.version and r.rcode == "BADVERS")):
        bad.append("badversion")
    if not r.opt and p.udpsize:
        bad.append("noopt")
    if r.opt and not p.udpsize:
        bad.append("opt")
    if p.qtype == "SOA":
        if p.version == 0 and not p.ignore and not r.seensoa and r.rcode == "NOERROR":
            bad.append("nosoa")
        if r.seensoa and (p.version != 0 or r.rcode != "NOERROR"):
            bad.append("soa")
    if "OPT=100" in r.options:
        bad.append("echoed")
    if r.opt and (p.eflags & DO) and not r.do:
        bad.append("nodo")
    aa, ra, rd, ad, cd = (f in r.flags for f in ("aa", "ra", "rd", "ad", "cd"))
    if not aa and p.version == 0 and r.rcode == "NOERROR" and p.opcode == 0:
        bad.append("noaa")
    if aa and p.opcode:
        bad.append("aa")
    if ra and p.opcode:
        bad.append("ra")
    if rd and (p.opcode or not p.rd):
        bad.append("rd")
    if not rd and p.rd and p.opcode == 0:
        bad.append("nord")
    if ad and (p.opcode or (not p.ad and not (p.eflags & DO))):
        bad.append("ad")
    if cd and (p.opcode or not p.cd):
        bad.append("cd")
    if r.z:
        bad.append("z")
    if r.mbz:
        bad.append("mbz")
    if p.ignore and r.size > (p.udpsize or 512):
        bad.append("toobig")
    return bad


@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_genreport_probe(node, probe):
    res = dnstools.run("dig", node.host, node.port, probe.args())
    reply = read_reply(res.text)
    assert reply is not None, f"no answer to {probe.name}: {res!r}"
    verdict = judge(probe, reply)
    assert verdict == [], f"genreport would say {probe.name}={','.join(verdict)}: {res!r}"
