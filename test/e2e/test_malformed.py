"""Malformed input and unknown opcodes (behaviours 8 and 9)."""
import random
import socket
import struct
import time

import dns.rcode
import dns.rdatatype as T
import pytest

from pweb_dns import (FLAG_QR, FLAG_RD, HEADER, SILENCE_WAIT, build_raw, encode_name, make_query,
                      raw_question, recv_exact, tcp_connect, tcp_frame, tcp_read_frame)

GOOD = "laptop.alice.uw.dht."


def assert_alive(node, transport="udp"):
    rep = node.ask(GOOD, T.A, transport)
    assert rep.rcode == dns.rcode.NOERROR, f"server stopped answering properly: {rep!r}"
    assert node.alive(), "pweb-node process exited"


def raw_header(data):
    qid, flags, qd, an, ns, ar = HEADER.unpack_from(data)
    return qid, flags, (flags >> 11) & 0xF, flags & 0xF


# ---------------------------------------------------------------------------
# no answer at all
# ---------------------------------------------------------------------------

NO_ANSWER = [
    ("empty-datagram", b""),
    ("1-byte", b"\x12"),
    ("11-byte-header", build_raw(qid=0x4242, questions=[raw_question(GOOD)])[:11]),
    ("qr-set-valid-question", build_raw(qid=0x4243, flags=FLAG_QR, questions=[raw_question(GOOD)])),
    ("qr-set-response-shaped", build_raw(qid=0x4244, flags=FLAG_QR | 0x0400, an=1,
                                         questions=[raw_question(GOOD)],
                                         body=b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 99]))),
    ("qr-set-garbage", build_raw(qid=0x4245, flags=FLAG_QR | 0x7800, qd=3) + b"\xff" * 20),
]


@pytest.mark.parametrize("desc,wire", NO_ANSWER, ids=[d for d, _ in NO_ANSWER])
def test_udp_no_answer(node, desc, wire):
    data = node.exchange(wire, "udp", timeout=SILENCE_WAIT)
    assert data is None, f"{desc}: expected no reply, got {data!r}"
    assert_alive(node)


def test_tcp_qr_set_no_answer(node):
    wire = build_raw(qid=0x4343, flags=FLAG_QR, questions=[raw_question(GOOD)])
    with tcp_connect(node.host, node.port) as s:
        s.sendall(tcp_frame(wire))
        data = tcp_read_frame(s, time.monotonic() + SILENCE_WAIT)
        assert data is None, f"QR=1 message over TCP got a reply: {data!r}"
    assert_alive(node, "tcp")


@pytest.mark.parametrize("length", [0, 1, 11])
def test_tcp_short_frame(node, length):
    """A TCP frame shorter than a header: no reply (the server may close)."""
    with tcp_connect(node.host, node.port) as s:
        s.sendall(struct.pack("!H", length) + b"\x55" * length)
        data = tcp_read_frame(s, time.monotonic() + SILENCE_WAIT)
        if data is not None:
            pytest.fail(f"{length}-byte TCP frame got a reply: {data!r}")
    assert_alive(node, "tcp")


# ---------------------------------------------------------------------------
# FORMERR
# ---------------------------------------------------------------------------

FORMERR_STRICT = [
    ("qdcount-0", build_raw(qid=0x5001, flags=FLAG_RD)),
    ("qdcount-2", build_raw(qid=0x5002, flags=FLAG_RD,
                            questions=[raw_question(GOOD), raw_question("phone.alice.uw.dht.")])),
    ("qdcount-2-only-one-present", build_raw(qid=0x5003, qd=2, questions=[raw_question(GOOD)])),
    ("name-runs-past-end", build_raw(qid=0x5004, qd=1, body=b"\x06laptop\x05al")),
    ("name-no-terminator", build_raw(qid=0x5005, qd=1, body=b"\x06laptop\x05alice\x02uw\x03dht")),
    ("no-type-class", build_raw(qid=0x5006, qd=1, body=encode_name(GOOD))),
    ("type-no-class", build_raw(qid=0x5007, qd=1, body=encode_name(GOOD) + b"\x00\x01")),
    ("qdcount-1-empty", build_raw(qid=0x5008, qd=1)),
]

# Invalid names: FORMERR is the right answer, silence is tolerated.
FORMERR_OR_SILENCE = [
    ("label-type-0x40", build_raw(qid=0x5101, qd=1, body=b"\x40" + b"a" * 64 + b"\x03dht\x00\x00\x01\x00\x01")),
    ("label-type-0x80", build_raw(qid=0x5102, qd=1, body=b"\x80abc\x03dht\x00\x00\x01\x00\x01")),
    ("name-over-255", build_raw(qid=0x5103, qd=1,
                                body=(b"\x3f" + b"a" * 63) * 4 + b"\x03dht\x00\x00\x01\x00\x01")),
    ("pointer-loop", build_raw(qid=0x5104, qd=1, body=b"\xc0\x0c\x00\x01\x00\x01")),
    ("pointer-past-end", build_raw(qid=0x5105, qd=1, body=b"\xc3\xff\x00\x01\x00\x01")),
    ("arcount-without-data", build_raw(qid=0x5108, ar=1, questions=[raw_question(GOOD)])),
]


def check_formerr(data, wire, desc):
    assert data is not None, f"{desc}: expected FORMERR, got no reply"
    assert len(data) >= 12, f"{desc}: reply shorter than a header: {data!r}"
    qid, flags, opcode, rcode = raw_header(data)
    assert qid == HEADER.unpack_from(wire)[0], f"{desc}: ID not echoed"
    assert flags & FLAG_QR, f"{desc}: QR=0 in reply"
    assert opcode == 0
    assert rcode == dns.rcode.FORMERR, f"{desc}: expected FORMERR, got rcode {rcode}: {data!r}"


@pytest.mark.parametrize("desc,wire", FORMERR_STRICT, ids=[d for d, _ in FORMERR_STRICT])
def test_formerr(node, transport, desc, wire):
    data = node.exchange(wire, transport)
    check_formerr(data, wire, desc)
    assert_alive(node, transport)


@pytest.mark.parametrize("desc,wire", FORMERR_OR_SILENCE, ids=[d for d, _ in FORMERR_OR_SILENCE])
def test_formerr_or_silence(node, transport, desc, wire):
    data = node.exchange(wire, transport, timeout=SILENCE_WAIT if transport == "udp" else 2.0)
    if data is not None:
        check_formerr(data, wire, desc)
    assert_alive(node, transport)


def test_garbage_udp(node):
    """Seeded random datagrams: each gets FORMERR (or NOTIMP/REFUSED when the
    random bits happen to form such a query) or nothing; the server survives."""
    rng = random.Random(20240601)
    bad = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((node.host, node.port))
        for i in range(300):
            n = rng.choice([rng.randint(1, 40), rng.randint(12, 600)])
            pkt = bytearray(rng.getrandbits(8) for _ in range(n))
            if i % 2 == 0 and n >= 12:  # half of them look like queries: QR=0, opcode 0
                pkt[2] &= 0x07
            s.send(bytes(pkt))
            if i % 20 == 0:
                time.sleep(0.01)
        deadline = time.monotonic() + 1.0
        for _ in range(400):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data = s.recv(65535)
            except socket.timeout:
                break
            if len(data) < 12 or not data[2] & 0x80 or (data[3] & 0xF) not in (
                    dns.rcode.FORMERR, dns.rcode.NOTIMP, dns.rcode.REFUSED):
                bad.append(data[:40])
    assert not bad, f"unexpected replies to garbage: {bad[:5]!r}"
    assert_alive(node)


def test_garbage_tcp(node):
    rng = random.Random(77)
    for _ in range(5):
        with tcp_connect(node.host, node.port) as s:
            for _ in range(4):
                n = rng.randint(12, 200)
                s.sendall(tcp_frame(bytes(rng.getrandbits(8) for _ in range(n))))
            # read whatever comes (or the close), bounded
            deadline = time.monotonic() + 0.5
            for _ in range(10):
                if tcp_read_frame(s, deadline) is None:
                    break
    # a garbage length prefix announcing a long frame that never arrives
    with tcp_connect(node.host, node.port) as s:
        s.sendall(b"\xff\xff" + b"\x00" * 100)
    assert_alive(node, "tcp")
    assert_alive(node, "udp")


# ---------------------------------------------------------------------------
# 9. opcodes
# ---------------------------------------------------------------------------

def query_with_opcode(opcode, qid):
    q = make_query(GOOD, T.A, qid=qid, flags=FLAG_RD)
    wire = bytearray(q.to_wire())
    wire[2] = (wire[2] & 0x87) | (opcode << 3)
    return bytes(wire)


@pytest.mark.parametrize("opcode", [1, 2, 3, 7, 8, 14, 15])
def test_unknown_opcode_notimp(node, transport, opcode):
    wire = query_with_opcode(opcode, 0x6000 + opcode)
    data = node.exchange(wire, transport)
    assert data is not None, f"opcode {opcode}: no reply (expected NOTIMP)"
    qid, flags, op, rcode = raw_header(data)
    assert qid == 0x6000 + opcode and flags & FLAG_QR
    assert op == opcode, f"opcode not echoed: sent {opcode}, got {op}"
    assert rcode == dns.rcode.NOTIMP, f"opcode {opcode}: expected NOTIMP, got rcode {rcode}"
    assert_alive(node, transport)


@pytest.mark.parametrize("opcode", [4, 5, 6])
def test_notify_update_dso_not_answered_as_query(node, transport, opcode):
    """NOTIFY/UPDATE/DSO are not supported: NOTIMP (or REFUSED/NOTAUTH) - never
    an answer with data."""
    wire = query_with_opcode(opcode, 0x6100 + opcode)
    data = node.exchange(wire, transport, timeout=SILENCE_WAIT if transport == "udp" else 2.0)
    if data is not None:
        qid, flags, op, rcode = raw_header(data)
        assert op == opcode, f"opcode not echoed: sent {opcode}, got {op}"
        assert rcode in (dns.rcode.NOTIMP, dns.rcode.REFUSED, dns.rcode.NOTAUTH, dns.rcode.FORMERR), rcode
        assert HEADER.unpack_from(data)[3] == 0, "no answer records expected"
    assert_alive(node, transport)
