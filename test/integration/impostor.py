"""A stranger that took an agent's gateway port: it speaks the DNS-Gateway
protocol (v1/v2, plain, or inside TLS with its own self-signed certificate)
and answers every name with 6.6.6.6. Runs in its own thread; counts queries."""
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

FORGED = bytes([6, 6, 6, 6])


def self_signed(directory: Path, name: str):
    """A fresh RSA key and self-signed certificate (openssl(1)); returns (cert, key)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def key_id(cert: Path) -> str:
    """SHA-1 of the certificate's DER SubjectPublicKeyInfo: OpenDHT's key id."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                         check=True, capture_output=True, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         check=True, capture_output=True, timeout=30).stdout
    import hashlib
    return hashlib.sha1(der).hexdigest()


class Impostor:
    def __init__(self, port: int, tls_cert: Path = None, tls_key: Path = None):
        self.queries = 0
        self.connections = 0
        self._ctx = None
        if tls_cert:
            self._ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ctx.load_cert_chain(str(tls_cert), str(tls_key))
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        try:
            if self._ctx:
                conn = self._ctx.wrap_socket(conn, server_side=True)
            version = self._read(conn, 2)
            (v,) = struct.unpack("!H", version)
            if v not in (1, 2):
                # Speaks v2 like an older agent: a v3 client comes back with 2
                # (and a TLS ClientHello gets garbage).
                conn.sendall(struct.pack("!H", 2))
                return
            conn.sendall(version)
            while not self._stop.is_set():
                kind, serial, length = struct.unpack("!HHH", self._read(conn, 6))
                self._read(conn, length)
                self.queries += 1
                if v == 1:
                    conn.sendall(struct.pack("!HHBB", 2, serial, 0, 4) + FORGED)
                else:
                    conn.sendall(struct.pack("!HHBIB", 3, serial, 0, 3600, 1) + FORGED + b"\0")
        except (OSError, ValueError, ssl.SSLError):
            pass
        finally:
            conn.close()

    @staticmethod
    def _read(conn, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = conn.recv(n - len(out))
            if not chunk:
                raise ValueError("closed")
            out += chunk
        return out
