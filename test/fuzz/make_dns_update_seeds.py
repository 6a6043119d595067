#!/usr/bin/python3
"""Writes TSIG-signed RFC 2136 UPDATE seeds for fuzz_dns_update into corpus/dns_update/:
some built by dnspython, some captured from nsupdate (bind9-dnsutils) sent to a
loopback socket that answers like a server. Key: the fuzz target's fixed key.
Prints each seed as hex too, for the unit-test fixtures."""
import base64
import pathlib
import socket
import subprocess
import sys

import dns.message
import dns.rcode
import dns.rdataclass
import dns.tsig
import dns.tsigkeyring
import dns.update

KEY_NAME = "tok1."
SECRET = b"0123456789abcdef0123456789abcdef"  # raw bytes, as the node will hold them
ZONE = "dyn.example.org."
OUT = pathlib.Path(__file__).parent / "corpus" / "dns_update"
KEYRING = dns.tsigkeyring.from_text({KEY_NAME: base64.b64encode(SECRET).decode()})


def dnspython_seeds():
    alg = dns.tsig.HMAC_SHA256
    u = dns.update.UpdateMessage(ZONE, keyring=KEYRING, keyname=KEY_NAME, keyalgorithm=alg)
    u.present("laptop.alice.uw")                        # name in use
    u.absent("new.alice.uw")                            # name not in use
    u.present("laptop.alice.uw", "A")                   # RRset exists
    u.present("laptop.alice.uw", "A", "192.0.2.1")      # RRset exists, value dependent
    u.absent("laptop.alice.uw", "AAAA")                 # RRset does not exist
    u.add("laptop.alice.uw", 300, "A", "192.0.2.2")     # add
    u.delete("laptop.alice.uw", "AAAA")                 # delete RRset
    u.delete("old.alice.uw")                            # delete all RRsets at a name
    u.delete("laptop.alice.uw", "A", "192.0.2.1")       # delete one RR
    yield "dnspython_all_forms", u.to_wire()

    u = dns.update.UpdateMessage(ZONE, keyring=KEYRING, keyname=KEY_NAME, keyalgorithm=alg)
    u.add("_acme-challenge.laptop.alice.uw", 60, "TXT", '"LHDhK3oGRvkiefQnx7OOczTY5Tic_xZ6HcMOc_gmtsw"')
    yield "dnspython_acme_txt", u.to_wire()

    u = dns.update.UpdateMessage(ZONE, keyring=KEYRING, keyname=KEY_NAME, keyalgorithm=alg)
    u.replace("www.laptop.alice.uw", 120, "CNAME", "laptop.alice.uw")
    u.add("_http._tcp.laptop.alice.uw", 120, "SRV", "10 5 80 laptop.alice.uw")
    yield "dnspython_cname_srv", u.to_wire()


def nsupdate_seed(commands):
    """Runs nsupdate against a loopback socket; answers each request signed, so
    nsupdate exits cleanly; returns the first UPDATE it sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    port = sock.getsockname()[1]
    script = f"server 127.0.0.1 {port}\nzone {ZONE}\n{commands}\nsend\n"
    proc = subprocess.Popen(
        ["nsupdate", "-t", "5", "-y", f"hmac-sha256:{KEY_NAME.rstrip('.')}:{base64.b64encode(SECRET).decode()}"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write(script)
    proc.stdin.flush()
    wire, peer = sock.recvfrom(65535)
    req = dns.message.from_wire(wire, keyring=KEYRING)  # also checks nsupdate's MAC
    if not req.had_tsig:
        sys.exit("nsupdate sent no TSIG")
    resp = dns.message.make_response(req)
    sock.sendto(resp.to_wire(), peer)
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush the closed pipe
    out, err = proc.communicate(timeout=15)
    sock.close()
    if proc.returncode != 0:
        sys.exit(f"nsupdate failed: {err}")
    return wire


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = list(dnspython_seeds())
    seeds.append(("nsupdate_add_a_txt", nsupdate_seed(
        "prereq yxdomain laptop.alice.uw.dyn.example.org.\n"
        "update add laptop.alice.uw.dyn.example.org. 300 A 192.0.2.7\n"
        "update add laptop.alice.uw.dyn.example.org. 300 TXT \"hello\"")))
    seeds.append(("nsupdate_delete", nsupdate_seed(
        "prereq nxrrset laptop.alice.uw.dyn.example.org. AAAA\n"
        "update delete laptop.alice.uw.dyn.example.org. A 192.0.2.7\n"
        "update delete www.laptop.alice.uw.dyn.example.org.")))
    for name, wire in seeds:
        (OUT / name).write_bytes(wire)
        print(f"{name} {wire.hex()}")


if __name__ == "__main__":
    main()
