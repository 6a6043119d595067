"""Small DNS client helpers for the pweb-node black-box tests.

Everything here talks to the server over real sockets with explicit timeouts and
bounded loops. Queries are built with dnspython where possible and by hand
(struct) where the point is to send something dnspython would refuse to build.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype

DEFAULT_TIMEOUT = 2.0
# Used when we expect *no* answer: how long we wait before concluding "none".
SILENCE_WAIT = 0.7

HEADER = struct.Struct("!HHHHHH")

FLAG_QR = 0x8000
FLAG_AA = 0x0400
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_RA = 0x0080
FLAG_Z = 0x0040
FLAG_AD = 0x0020
FLAG_CD = 0x0010

EDNS_DO = 0x8000


def family_of(host: str) -> int:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def ipv6_loopback_available() -> "tuple[bool, str]":
    if not socket.has_ipv6:
        return False, "Python built without IPv6"
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError as e:
        return False, f"cannot bind [::1]: {e}"
    return True, ""


def port_free(port: int, hosts: Sequence[str]) -> bool:
    socks = []
    try:
        for host in hosts:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                s = socket.socket(family_of(host), kind)
                socks.append(s)
                if kind == socket.SOCK_STREAM:
                    # ignore TIME_WAIT leftovers; a live listener still conflicts
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for s in socks:
            s.close()


def fmt_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# ---------------------------------------------------------------------------
# Raw transports
# ---------------------------------------------------------------------------

def udp_exchange(wire: bytes, host: str, port: int, timeout: float = DEFAULT_TIMEOUT,
                 match_id: bool = True) -> Optional[bytes]:
    """Sends one datagram, returns the first reply (with the same ID if the
    query has one) or None when nothing arrives within `timeout`."""
    deadline = time.monotonic() + timeout
    with socket.socket(family_of(host), socket.SOCK_DGRAM) as s:
        s.connect((host, port))  # connected: kernel drops replies from other sources
        s.send(wire)
        for _ in range(64):  # bounded: ignore at most 64 stray datagrams
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                return None
            if not match_id or len(wire) < 2 or data[:2] == wire[:2]:
                return data
    return None


def recv_exact(s: socket.socket, n: int, deadline: float) -> Optional[bytes]:
    """Reads exactly n bytes before `deadline`; None on EOF/timeout/reset."""
    buf = b""
    for _ in range(100000):  # bounded; each iteration reads >= 1 byte or returns
        if len(buf) >= n:
            return buf
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            chunk = s.recv(n - len(buf))
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            return None
        if not chunk:
            return None
        buf += chunk
    return None


def tcp_frame(wire: bytes) -> bytes:
    return struct.pack("!H", len(wire)) + wire


def tcp_read_frame(s: socket.socket, deadline: float) -> Optional[bytes]:
    hdr = recv_exact(s, 2, deadline)
    if hdr is None:
        return None
    (n,) = struct.unpack("!H", hdr)
    return recv_exact(s, n, deadline)


def tcp_connect(host: str, port: int, timeout: float = DEFAULT_TIMEOUT) -> socket.socket:
    s = socket.socket(family_of(host), socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect((host, port))
    except Exception:
        s.close()
        raise
    return s


def tcp_exchange(wire: bytes, host: str, port: int,
                 timeout: float = DEFAULT_TIMEOUT) -> Optional[bytes]:
    deadline = time.monotonic() + timeout
    with tcp_connect(host, port, timeout) as s:
        s.sendall(tcp_frame(wire))
        return tcp_read_frame(s, deadline)


def exchange(wire: bytes, host: str, port: int, transport: str,
             timeout: float = DEFAULT_TIMEOUT) -> Optional[bytes]:
    if transport == "udp":
        return udp_exchange(wire, host, port, timeout)
    if transport == "tcp":
        return tcp_exchange(wire, host, port, timeout)
    raise ValueError(transport)


# ---------------------------------------------------------------------------
# Query construction
# ---------------------------------------------------------------------------

def make_query(qname: str, rdtype, rdclass=dns.rdataclass.IN, *, flags: int = 0,
               edns: Optional[int] = None, payload: int = 1232, ednsflags: int = 0,
               options: Optional[Sequence[dns.edns.Option]] = None,
               qid: Optional[int] = None) -> dns.message.QueryMessage:
    """A query; `flags` are the raw header flag bits (RD/CD/AD/Z...) and
    `edns` is None (no OPT) or the EDNS version to send."""
    q = dns.message.make_query(qname, rdtype, rdclass, id=qid, flags=0, use_edns=False)
    if edns is not None:
        # Set EDNS directly: make_query()'s want_dnssec(False) computes
        # `flags & ~DO`, which with dnspython 2.3 on Python 3.11 clears every
        # EDNS flag bit *and the version*.
        q.use_edns(edns, ednsflags, payload, options=list(options or []))
    q.flags = flags
    return q


def build_raw(qid: int = 0x1234, flags: int = 0, qd: Optional[int] = None,
              an: int = 0, ns: int = 0, ar: int = 0, body: bytes = b"",
              questions: Iterable[bytes] = ()) -> bytes:
    questions = list(questions)
    if qd is None:
        qd = len(questions)
    return HEADER.pack(qid, flags, qd, an, ns, ar) + b"".join(questions) + body


def encode_name(name: str) -> bytes:
    """Wire form of a name, labels verbatim (no validation, case kept)."""
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            raw = label.encode("ascii")
            out += bytes([len(raw)]) + raw
    return out + b"\x00"


def raw_question(name: str, qtype: int = 1, qclass: int = 1) -> bytes:
    return encode_name(name) + struct.pack("!HH", qtype, qclass)


def opt_rr(payload: int = 1232, ext_rcode: int = 0, version: int = 0,
           flags: int = 0, rdata: bytes = b"") -> bytes:
    ttl = (ext_rcode << 24) | (version << 16) | flags
    return b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(rdata)) + rdata


# ---------------------------------------------------------------------------
# Response handling
# ---------------------------------------------------------------------------

@dataclass
class Reply:
    wire: bytes
    msg: dns.message.Message

    # header bits straight from the wire (independent of dnspython)
    @property
    def id(self) -> int:
        return HEADER.unpack_from(self.wire)[0]

    @property
    def hflags(self) -> int:
        return HEADER.unpack_from(self.wire)[1]

    @property
    def counts(self):
        return HEADER.unpack_from(self.wire)[2:]

    def flag(self, bit: int) -> bool:
        return bool(self.hflags & bit)

    @property
    def rcode(self) -> int:
        return self.msg.rcode()

    @property
    def opcode(self) -> int:
        return (self.hflags >> 11) & 0xF

    def rrsets(self, section: str = "answer", rdtype=None):
        sec = getattr(self.msg, section)
        if rdtype is None:
            return list(sec)
        return [r for r in sec if r.rdtype == rdtype]

    def records(self, section: str = "answer", rdtype=None):
        """[(owner text, ttl, rdclass, rdtype, rdata text)] flattened."""
        out = []
        for rrset in self.rrsets(section, rdtype):
            for rd in rrset:
                out.append((rrset.name.to_text(), rrset.ttl, rrset.rdclass,
                            rrset.rdtype, rd.to_text()))
        return out

    def describe(self) -> str:
        return (f"rcode={dns.rcode.to_text(self.rcode)} flags={dns.flags.to_text(self.msg.flags)} "
                f"counts={self.counts} len={len(self.wire)}\n{self.msg.to_text()}")

    def __repr__(self) -> str:  # shown by pytest on assertion failures
        return f"<Reply {self.describe()}>"


def parse(wire: bytes) -> Reply:
    return Reply(wire, dns.message.from_wire(wire))


def ask(host: str, port: int, qname: str, rdtype, transport: str = "udp", *,
        rdclass=dns.rdataclass.IN, flags: int = 0, edns: Optional[int] = None,
        payload: int = 1232, ednsflags: int = 0,
        options: Optional[Sequence[dns.edns.Option]] = None,
        timeout: float = DEFAULT_TIMEOUT) -> Reply:
    """Sends a query and returns the parsed reply; fails the test if there is
    none or it does not carry our ID and QR=1."""
    q = make_query(qname, rdtype, rdclass, flags=flags, edns=edns, payload=payload,
                   ednsflags=ednsflags, options=options)
    return ask_wire(host, port, q.to_wire(), transport, timeout=timeout,
                    what=f"{qname} {dns.rdatatype.to_text(dns.rdatatype.RdataType.make(rdtype))}")


def ask_wire(host: str, port: int, wire: bytes, transport: str = "udp", *,
             timeout: float = DEFAULT_TIMEOUT, what: str = "query") -> Reply:
    data = exchange(wire, host, port, transport, timeout)
    assert data is not None, (f"no {transport.upper()} reply from {fmt_hostport(host, port)} "
                              f"to {what} within {timeout}s")
    assert len(data) >= 12, f"reply shorter than a header: {data!r}"
    rep = parse(data)
    assert rep.id == HEADER.unpack_from(wire)[0], f"reply ID {rep.id} != query ID"
    assert rep.flag(FLAG_QR), "reply has QR=0"
    return rep


def soa_of(rep: Reply, section: str = "authority"):
    soas = rep.rrsets(section, dns.rdatatype.SOA)
    return soas


def assert_negative(rep: Reply, rcode: int, zone: str = "dht.", aa: bool = True) -> None:
    """NXDOMAIN / NODATA shape: AA (`aa`), no answer, exactly one SOA of `zone`
    in the authority section with TTL <= SOA MINIMUM (RFC 2308)."""
    assert rep.rcode == rcode, f"expected {dns.rcode.to_text(rcode)}, got {rep!r}"
    assert rep.flag(FLAG_AA) == aa, f"AA {'not ' if aa else ''}set: {rep!r}"
    assert rep.counts[1] == 0, f"answer section not empty: {rep!r}"
    soas = soa_of(rep)
    assert len(soas) == 1 and len(soas[0]) == 1, f"expected one SOA in authority: {rep!r}"
    soa = soas[0]
    assert soa.name == dns.name.from_text(zone), f"SOA owner {soa.name} != {zone}"
    assert soa.ttl <= soa[0].minimum, (f"negative-answer SOA TTL {soa.ttl} > SOA minimum "
                                       f"{soa[0].minimum} (RFC 2308 s3/s5)")

