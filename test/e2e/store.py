"""The device store every test node is filled with (via `device import`)."""

LONG_DEVICE = "d" * 63
LONG_USER = "u" * 63
LONG_AGENT = "a" * 62 + "9"
LONG_NAME = f"{LONG_DEVICE}.{LONG_USER}.{LONG_AGENT}"

# (device name, IPv4 or None, IPv6 or None)
DEVICES = [
    ("laptop.alice.uw", "192.0.2.10", "2001:db8::10"),
    ("phone.alice.uw", "192.0.2.11", None),
    ("desk.bob.ut", "192.0.2.20", None),
    ("tablet.carol.uv", None, "2001:db8::30"),
    (LONG_NAME, "192.0.2.63", "2001:db8::63"),
]

FIXTURE_STORE_TEXT = "# pweb-node e2e fixture store\n\n" + "".join(
    f"{name} {v4 or '-'} {v6 or '-'}\n" for name, v4, v6 in DEVICES
)

TTL = 60
