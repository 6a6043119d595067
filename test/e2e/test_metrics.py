"""GET /metrics: Prometheus text that a real Prometheus parser reads, names as
pweb_<component>_<what>_<unit|total>, and counters that move with real traffic
(DNS over UDP and TCP, DynDNS2 updates, a lookup of another agent)."""
from __future__ import annotations

import re

import dns.rdatatype
import pytest
from prometheus_client.parser import text_string_to_metric_families

from registrar_fixtures import registrar_factory  # noqa: F401

NAME = re.compile(r"^pweb_(node|dns|resolver|dht|gateway|registrar|http)_[a-z0-9]+(_[a-z0-9]+)*$")
UNIT_SUFFIXES = ("_seconds", "_bytes", "_info")

# Every family an agent must expose (the list: queries by type and
# rcode, answer latency, cache hits and misses, DHT lookups and latency,
# gateway-protocol queries, updates by result, devices, peers).
REQUIRED = {
    "pweb_node_build_info": "gauge",
    "pweb_node_start_time_seconds": "gauge",
    "pweb_dns_udp_queries": "counter",
    "pweb_dns_tcp_queries": "counter",
    "pweb_dns_queries": "counter",
    "pweb_dns_responses": "counter",
    "pweb_dns_answer_latency_seconds": "histogram",
    "pweb_dns_cache_hits": "counter",
    "pweb_dns_cache_misses": "counter",
    "pweb_dns_cookies": "counter",
    "pweb_dns_doh_queries": "counter",
    "pweb_resolver_cache_hits": "counter",
    "pweb_resolver_cache_misses": "counter",
    "pweb_resolver_agent_failovers": "counter",
    "pweb_dht_lookups": "counter",
    "pweb_dht_lookup_duration_seconds": "histogram",
    "pweb_dht_known_peers": "gauge",
    "pweb_gateway_server_queries": "counter",
    "pweb_gateway_client_queries": "counter",
    "pweb_registrar_updates": "counter",
    "pweb_registrar_registered_devices": "gauge",
    "pweb_http_requests": "counter",
}


def scrape(r):
    res = r.get("/metrics")
    assert res.status == 200, res
    assert res.content_type.startswith("text/plain; version=0.0.4"), res.content_type
    return res.text


def families(text):
    """{family name: family} as the Prometheus client library parses the page."""
    out = {}
    for fam in text_string_to_metric_families(text):
        assert fam.name not in out, f"family {fam.name} declared twice"
        out[fam.name] = fam
    return out


def value(fams, family, sample=None, **labels):
    fam = fams[family]
    sample = sample or (family + "_total" if fam.type == "counter" else family)
    for s in fam.samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError(f"no sample {sample}{labels} in {family}: {fam.samples}")


def test_names_types_and_help(registrar_factory):  # noqa: F811
    r = registrar_factory.start("metrics-names")
    try:
        text = scrape(r)
        fams = families(text)
        for name, fam in fams.items():
            assert NAME.match(name), f"metric {name!r} is not pweb_<component>_<what>..."
            assert fam.documentation.strip(), f"{name} has no HELP text"
            for s in fam.samples:
                assert NAME.match(s.name), s.name
            if fam.type == "counter":
                # The parser strips _total from the family; every sample must carry it.
                assert all(s.name == name + "_total" for s in fam.samples), fam.samples
            elif fam.type == "histogram":
                assert name.endswith("_seconds"), f"histogram {name} has no unit"
                buckets = [s for s in fam.samples if s.name == name + "_bucket"]
                counts = [s.value for s in buckets]
                assert counts == sorted(counts), f"{name} buckets not cumulative: {counts}"
                assert buckets[-1].labels["le"] == "+Inf"
                assert counts[-1] == value(fams, name, name + "_count")
            else:
                assert fam.type == "gauge", (name, fam.type)
                assert not name.endswith("_total"), f"gauge {name} must not end in _total"
        # Raw text: counters are exposed as <family>_total, and no name appears without HELP.
        for line in text.splitlines():
            if line and not line.startswith("#"):
                assert NAME.match(line.split("{")[0].split(" ")[0]), line
        missing = {n: t for n, t in REQUIRED.items() if n not in fams or fams[n].type != t}
        assert not missing, f"missing or mistyped families: {missing}"
        assert value(fams, "pweb_node_build_info", mode="agent", label="uw") == 1
    finally:
        r.stop()


def test_counters_move_with_traffic(registrar_factory):  # noqa: F811
    r = registrar_factory.start("metrics-move")
    try:
        before = families(scrape(r))
        # Updates: good, nochg, badauth (wrong password), notfqdn.
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.10"}) == [
            "good 192.0.2.10"]
        assert r.nic_ok("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.10"}) == [
            "nochg 192.0.2.10"]
        assert r.nic("alice", {"hostname": "cam.alice.uw", "myip": "192.0.2.11"},
                     password="wrong").lines == ["badauth"]
        assert r.nic_ok("alice", {"hostname": "not a name", "myip": "192.0.2.11"}) == ["notfqdn"]
        # DNS: 5 A over UDP, 2 AAAA over UDP, 3 A over TCP, 1 NXDOMAIN, 1 for another agent.
        for _ in range(5):
            assert r.ask("cam.alice.uw", dns.rdatatype.A).rcode == 0
        for _ in range(2):
            assert r.ask("cam.alice.uw", dns.rdatatype.AAAA).rcode == 0
        for _ in range(3):
            assert r.node.ask("cam.alice.uw.dht.", dns.rdatatype.A, "tcp").rcode == 0
        assert r.ask("nothere.alice.uw", dns.rdatatype.A).rcode == 3
        # No such agent in this one-node DHT: a DHT lookup, then NXDOMAIN.
        assert r.ask("laptop.bob.mit", dns.rdatatype.A).rcode in (2, 3)
        after = families(scrape(r))

        def delta(family, sample=None, **labels):
            return (value(after, family, sample, **labels)
                    - value(before, family, sample, **labels))

        assert delta("pweb_registrar_updates", result="good") == 1
        assert delta("pweb_registrar_updates", result="nochg") == 1
        assert delta("pweb_registrar_updates", result="badauth") == 1
        assert delta("pweb_registrar_updates", result="notfqdn") == 1
        assert value(after, "pweb_registrar_registered_devices") == 1
        assert delta("pweb_registrar_commits") >= 1
        assert delta("pweb_dns_udp_queries") == 9
        assert delta("pweb_dns_tcp_queries") == 3
        assert delta("pweb_dns_queries", type="A") == 10
        assert delta("pweb_dns_queries", type="AAAA") == 2
        assert delta("pweb_dns_responses", rcode="NOERROR") == 10
        assert delta("pweb_dns_responses", rcode="NXDOMAIN") + delta(
            "pweb_dns_responses", rcode="SERVFAIL") == 2
        lat = "pweb_dns_answer_latency_seconds"
        assert delta(lat, lat + "_count") == 12
        assert delta(lat, lat + "_sum") > 0
        assert delta("pweb_dns_cache_misses") == 1
        assert delta("pweb_resolver_cache_misses") == 1
        assert delta("pweb_dht_lookups", result="absent") + delta(
            "pweb_dht_lookups", result="failed") == 1
        dl = "pweb_dht_lookup_duration_seconds"
        assert delta(dl, dl + "_count") == 1
        # The scrape before, and the 4 updates (2xx: good, nochg, badauth, notfqdn).
        assert delta("pweb_http_requests", code="2xx") >= 5
        # Asked again: now from the DNS worker's cache, no second lookup.
        assert r.ask("laptop.bob.mit", dns.rdatatype.A).rcode in (2, 3)
        again = families(scrape(r))
        assert value(again, "pweb_dns_cache_hits") - value(after, "pweb_dns_cache_hits") == 1
        assert value(again, "pweb_dht_lookups", result="absent") == value(
            after, "pweb_dht_lookups", result="absent")
    finally:
        r.stop()
