"""DNS over TCP specifics (behaviour 13): pipelining, partial frames, idle
timeout."""
import select
import socket
import time

import dns.rcode
import dns.rdatatype as T
import pytest

from pweb_dns import make_query, parse, tcp_connect, tcp_frame, tcp_read_frame

IDLE_LIMIT = 35.0  # the server's idle timeout is assumed to be <= 30 s

MIX = [
    ("laptop.alice.uw.dht.", T.A, dns.rcode.NOERROR, ["192.0.2.10"]),
    ("laptop.alice.uw.dht.", T.AAAA, dns.rcode.NOERROR, ["2001:db8::10"]),
    ("phone.alice.uw.dht.", T.A, dns.rcode.NOERROR, ["192.0.2.11"]),
    ("desk.bob.ut.dht.", T.A, dns.rcode.NOERROR, ["192.0.2.20"]),
    ("nosuch.alice.uw.dht.", T.A, dns.rcode.NXDOMAIN, []),
    ("example.com.", T.A, dns.rcode.REFUSED, []),
    ("phone.alice.uw.dht.", T.AAAA, dns.rcode.NOERROR, []),
]


def answers(msg):
    return [rd.to_text() for rrset in msg.answer for rd in rrset]


def test_pipelined_queries(node):
    n = 20
    expected = {}
    blob = b""
    for i in range(n):
        qname, rdtype, rcode, addrs = MIX[i % len(MIX)]
        qid = 0x7000 + i
        wire = make_query(qname, rdtype, qid=qid).to_wire()
        expected[qid] = (qname, rcode, addrs)
        blob += tcp_frame(wire)
    got = {}
    with tcp_connect(node.host, node.port) as s:
        s.sendall(blob)  # all 20 back to back, before reading anything
        deadline = time.monotonic() + 5.0
        for _ in range(n):
            data = tcp_read_frame(s, deadline)
            assert data is not None, f"only {len(got)} of {n} pipelined responses arrived"
            rep = parse(data)
            assert rep.id in expected, f"response with unknown ID {rep.id}"
            assert rep.id not in got, f"duplicate response for ID {rep.id}"
            got[rep.id] = rep
    for qid, (qname, rcode, addrs) in expected.items():
        rep = got[qid]
        assert rep.msg.question[0].name.to_text() == qname, f"ID {qid}: answer for wrong question"
        assert rep.rcode == rcode, f"ID {qid} {qname}: {rep!r}"
        assert answers(rep.msg) == addrs, f"ID {qid} {qname}: {rep!r}"


def test_sequential_queries_one_connection(node):
    with tcp_connect(node.host, node.port) as s:
        for i in range(10):
            qname, rdtype, rcode, addrs = MIX[i % len(MIX)]
            wire = make_query(qname, rdtype, qid=0x7100 + i).to_wire()
            s.sendall(tcp_frame(wire))
            data = tcp_read_frame(s, time.monotonic() + 2.0)
            assert data is not None, f"no response to query #{i} on a reused connection"
            rep = parse(data)
            assert rep.id == 0x7100 + i and rep.rcode == rcode and answers(rep.msg) == addrs


def test_partial_frame_then_rest(node):
    wire = make_query("laptop.alice.uw.dht.", T.A, qid=0x7201).to_wire()
    frame = tcp_frame(wire)
    with tcp_connect(node.host, node.port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(frame[:9])
        time.sleep(0.5)
        s.sendall(frame[9:])
        data = tcp_read_frame(s, time.monotonic() + 2.0)
    assert data is not None, "no answer after a frame was sent in two parts"
    rep = parse(data)
    assert rep.id == 0x7201 and answers(rep.msg) == ["192.0.2.10"]


def test_split_length_prefix_and_byte_by_byte(node):
    wire = make_query("desk.bob.ut.dht.", T.A, qid=0x7202).to_wire()
    frame = tcp_frame(wire)
    with tcp_connect(node.host, node.port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(frame[:1])
        time.sleep(0.3)
        for b in frame[1:]:
            s.sendall(bytes([b]))
            time.sleep(0.005)
        data = tcp_read_frame(s, time.monotonic() + 2.0)
    assert data is not None, "no answer to a frame sent byte by byte"
    rep = parse(data)
    assert rep.id == 0x7202 and answers(rep.msg) == ["192.0.2.20"]


def test_frame_boundary_inside_second_query(node):
    f1 = tcp_frame(make_query("laptop.alice.uw.dht.", T.A, qid=0x7301).to_wire())
    f2 = tcp_frame(make_query("phone.alice.uw.dht.", T.A, qid=0x7302).to_wire())
    with tcp_connect(node.host, node.port) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(f1 + f2[:7])
        time.sleep(0.3)
        s.sendall(f2[7:])
        deadline = time.monotonic() + 3.0
        reps = [tcp_read_frame(s, deadline) for _ in range(2)]
    assert all(r is not None for r in reps), "missing response"
    ids = sorted(parse(r).id for r in reps)
    assert ids == [0x7301, 0x7302]


def test_many_concurrent_connections(node):
    socks = []
    try:
        for _ in range(20):
            socks.append(tcp_connect(node.host, node.port))
        for i, s in enumerate(socks):
            s.sendall(tcp_frame(make_query("laptop.alice.uw.dht.", T.A, qid=0x7400 + i).to_wire()))
        deadline = time.monotonic() + 5.0
        for i, s in enumerate(socks):
            data = tcp_read_frame(s, deadline)
            assert data is not None, f"connection #{i} of 20 got no answer"
            assert parse(data).id == 0x7400 + i
    finally:
        for s in socks:
            s.close()


def _wait_closed(socks, limit):
    """Waits until every socket sees EOF/reset; returns {index: seconds}."""
    t0 = time.monotonic()
    closed = {}
    for _ in range(10000):
        open_ = [s for i, s in enumerate(socks) if i not in closed]
        left = limit - (time.monotonic() - t0)
        if not open_ or left <= 0:
            break
        r, _, _ = select.select(open_, [], [], min(left, 1.0))
        for s in r:
            i = socks.index(s)
            try:
                data = s.recv(4096)
            except (ConnectionResetError, OSError):
                data = b""
            if not data:
                closed[i] = time.monotonic() - t0
    return closed


@pytest.mark.slow
def test_idle_connections_closed(node):
    """A connection that never sends anything, and one that went idle after a
    query, are both closed by the server within IDLE_LIMIT seconds."""
    fresh = tcp_connect(node.host, node.port)
    used = tcp_connect(node.host, node.port)
    try:
        used.sendall(tcp_frame(make_query("laptop.alice.uw.dht.", T.A, qid=0x7501).to_wire()))
        assert tcp_read_frame(used, time.monotonic() + 2.0) is not None
        closed = _wait_closed([fresh, used], IDLE_LIMIT)
    finally:
        fresh.close()
        used.close()
    print(f"idle close after: {closed}")
    assert 0 in closed, f"idle connection (nothing sent) still open after {IDLE_LIMIT}s"
    assert 1 in closed, f"idle connection (after one query) still open after {IDLE_LIMIT}s"
    assert node.ask("laptop.alice.uw.dht.", T.A, "tcp").rcode == dns.rcode.NOERROR
