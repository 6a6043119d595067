"""Process lifecycle: SIGTERM ends the node with exit code 0 within a few
seconds, even with an open client connection."""
import time

import dns.rcode
import dns.rdatatype as T

from pweb_dns import make_query, tcp_connect, tcp_frame, tcp_read_frame
from pweb_dns import port_free

STOP_LIMIT = 5.0


def test_sigterm_exits_zero(node_factory):
    n = node_factory.start("sigterm")
    assert n.ask("laptop.alice.uw.dht.", T.A, "udp").rcode == dns.rcode.NOERROR
    conn = tcp_connect(n.host, n.port)  # an open, idle TCP client
    try:
        conn.sendall(tcp_frame(make_query("laptop.alice.uw.dht.", T.A, qid=9).to_wire()))
        assert tcp_read_frame(conn, time.monotonic() + 2.0) is not None
        rc, took = n.stop(timeout=STOP_LIMIT)
    finally:
        conn.close()
    assert rc is not None, f"still running {STOP_LIMIT}s after SIGTERM (killed)\n{n.log_tail()}"
    assert rc == 0, f"exit code {rc} after SIGTERM\n{n.log_tail()}"
    print(f"stopped in {took:.2f}s")
    assert port_free(n.port, n.listen_hosts), "DNS port still bound after exit"


def test_sigterm_right_after_start(node_factory):
    n = node_factory.start("sigterm-early")
    rc, took = n.stop(timeout=STOP_LIMIT)
    assert rc == 0, f"exit code {rc} after SIGTERM (None = had to be killed)\n{n.log_tail()}"
