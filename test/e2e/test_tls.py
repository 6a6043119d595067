"""HTTPS for the HTTP API (--tls-cert/--tls-key): the real pweb-update registers
over https:// trusting only the test's own CA file, curl fetches the status over
TLS, plain HTTP on that port gets no answer, and bad TLS files stop the node
at start with an error that names them."""
from __future__ import annotations

import shutil
import subprocess

import dns.rdatatype
import pytest

from conftest import node_binary
from registrar_fixtures import add_user
from test_http_limits import read_answer
from test_pweb_update import Client

PASSWORD = "alice-Secret-1"


def make_cert(tmp_path, name="node"):
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is not installed (CI installs it): cannot make a test certificate")
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def curl_status(cert, url):
    return subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", str(cert),
                           url + "/api/v1/status"], capture_output=True, text=True, timeout=30)


def test_updates_and_api_over_https(node_factory, tmp_path):
    cert, key = make_cert(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    add_user(data, "alice", PASSWORD)
    node = node_factory.start("tls", devices=None, data_dir=data,
                              extra_args=["--label", "uw", "--tls-cert", str(cert),
                                          "--tls-key", str(key)])
    try:
        url = f"https://127.0.0.1:{node.http_port}"
        for _ in range(100):  # bounded: the node was ready for DNS already
            out = curl_status(cert, url)
            if out.returncode == 0:
                break
        assert out.returncode == 0 and '"label":"uw"' in out.stdout, out
        client = Client(tmp_path)
        run = client.once(url, PASSWORD, extra=["--ca-file", str(cert)])
        assert run.rc == 0, run
        rep = node.ask("laptop.alice.uw.dht.", dns.rdatatype.A)
        assert rep.rcode == 0 and "192.0.2.55" in rep.msg.answer[0].to_text(), rep
        # Without the CA the client refuses the self-signed certificate: it really verifies.
        # (No retries: --once would retry it for ~30 s, which is not what this checks.)
        run = client.once(url, PASSWORD, ip="192.0.2.56", extra=["--retries", "0"])
        assert run.rc != 0 and "certificate" in run.out.lower(), run
        # Plain HTTP to the TLS port is not served.
        out = subprocess.run(["curl", "-sS", "--max-time", "5",
                              f"http://127.0.0.1:{node.http_port}/api/v1/status"],
                             capture_output=True, text=True, timeout=30)
        assert '"label"' not in out.stdout, out
    finally:
        node.stop()


@pytest.mark.parametrize("case", ["key_of_other_cert", "not_pem", "only_cert"])
def test_bad_tls_files_stop_the_start(tmp_path, case):
    cert, key = make_cert(tmp_path, "a")
    other_cert, other_key = make_cert(tmp_path, "b")
    args = {"key_of_other_cert": ["--tls-cert", str(cert), "--tls-key", str(other_key)],
            "not_pem": ["--tls-cert", str(tmp_path / "junk"), "--tls-key", str(key)],
            "only_cert": ["--tls-cert", str(cert)]}[case]
    (tmp_path / "junk").write_text("not a certificate\n")
    p = subprocess.run([node_binary(), "--label", "uw", "--data-dir", str(tmp_path / "d"),
                        "--dns-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                        "--gateway-listen", "127.0.0.1:0", "--dht-port", "0",
                        "--identity-bits", "2048", *args],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p
    err = p.stdout + p.stderr
    assert "tls" in err.lower(), err


def test_request_limits_hold_over_tls(node_factory, tmp_path):
    """The request bounds sit under TLS too: a header flood is answered 431
    inside the TLS session, a request trickled after the handshake is cut with
    408 at its 10 s deadline, and a handshake never finished is dropped."""
    import socket
    import ssl
    import time

    cert, key = make_cert(tmp_path)
    node = node_factory.start("tls-limits", devices=None, data_dir=tmp_path / "d",
                              extra_args=["--label", "uw", "--tls-cert", str(cert),
                                          "--tls-key", str(key)])
    ctx = ssl.create_default_context(cafile=str(cert))

    def tls_connect():
        raw = socket.create_connection(("127.0.0.1", node.http_port), timeout=20)
        return ctx.wrap_socket(raw, server_hostname="127.0.0.1")

    try:
        for _ in range(100):  # bounded: wait for the HTTPS listener
            if curl_status(cert, f"https://127.0.0.1:{node.http_port}").returncode == 0:
                break
        s = tls_connect()
        try:
            s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
            for _ in range(16):
                s.sendall(b"X-A: 1\r\n" * 1024)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass
        answer = read_answer(s)
        s.close()
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]

        s = tls_connect()
        t0 = time.monotonic()
        s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHo")
        answer = read_answer(s)
        took = time.monotonic() - t0
        s.close()
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert 9 <= took <= 13, f"cut after {took:.1f}s"

        raw = socket.create_connection(("127.0.0.1", node.http_port), timeout=20)
        raw.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
        t0 = time.monotonic()
        try:
            rest = raw.recv(100)
        except ConnectionResetError:
            rest = b""
        took = time.monotonic() - t0
        raw.close()
        assert rest == b"" and took <= 13, (rest, took)
    finally:
        node.stop()
