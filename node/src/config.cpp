#include "pweb/node/config.hpp"

#include <CLI/CLI.hpp>
#include <charconv>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/name_servers.hpp"
#include "pweb/registrar/names.hpp"
#include "pweb/registrar/store.hpp"

namespace pweb::node {
namespace {
// Serve-stale beyond a week serves answers long dead (RFC 8767 suggests 1 to 3 days).
constexpr std::uint32_t kMaxStale = 7 * 86400;
}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text) {
  HostPort hp;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    hp.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return std::nullopt;
    hp.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
  }
  if (hp.host.empty() || port.empty()) return std::nullopt;
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535) return std::nullopt;
  hp.port = static_cast<std::uint16_t>(value);
  return hp;
}

std::optional<HostPort> parse_agent_address(std::string_view text) {
  const auto at = text.find('@');
  auto hp = parse_host_port(text.substr(0, at));
  if (!hp || at == std::string_view::npos) return hp;
  const auto key = text.substr(at + 1);
  if (key.size() != 40 || key.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return std::nullopt;
  }
  hp->key_id = std::string(key);
  return hp;
}

namespace {

// A CLI11 validator for host:port values.
const CLI::Validator kHostPort(
    [](std::string& value) -> std::string {
      if (parse_host_port(value)) return {};
      return "'" + value + "' is not host:port (use [addr]:port for IPv6)";
    },
    "HOST:PORT", "host:port");

const CLI::Validator kAgentAddress(
    [](std::string& value) -> std::string {
      if (parse_agent_address(value)) return {};
      return "'" + value +
             "' is not host:port or host:port@KEYID (KEYID: 40 lowercase hex digits; "
             "[addr]:port for IPv6)";
    },
    "HOST:PORT[@KEYID]", "agent address");

const CLI::Validator kLabel(
    [](std::string& value) -> std::string {
      if (auto err = registrar::label_error(value)) return *err;
      return {};
    },
    "LABEL", "agent label");

}  // namespace

void add_node_options(CLI::App& app, NodeConfig& cfg) {
  // A misspelt key in the file is an error, not a silently ignored setting.
  app.allow_config_extras(CLI::config_extras_mode::error);
  app.set_config("--config", "",
                 "Read options from a TOML/INI file (same names as the options; default: none)");
  app.add_option(
         "--label", cfg.label,
         "This Home Agent's label (e.g. uw); none with --home-agent = gateway mode (default: none)")
      ->check(kLabel);
  app.add_option("--data-dir", cfg.data_dir, "Directory for the device store and identity")
      ->capture_default_str();
  app.add_option("--store", cfg.store,
                 "Where devices, users and tokens are kept: sqlite (pweb.db in --data-dir) or "
                 "postgresql://USER@HOST:PORT/DB (a libpq URI; several nodes of one label may "
                 "share it)")
      ->capture_default_str();
  app.add_option("--dns-listen", cfg.dns_listen, "DNS listen address, UDP and TCP (repeatable)")
      ->check(kHostPort)
      ->capture_default_str();
  app.add_option("--http-listen", cfg.http_listen, "HTTP API listen address")
      ->check(kHostPort)
      ->capture_default_str();
  app.add_option("--gateway-listen", cfg.gateway_listen, "DNS-Gateway protocol listen address")
      ->check(kHostPort)
      ->capture_default_str();
  app.add_option("--dht-port", cfg.dht_port, "OpenDHT UDP port (0 = any free port)")
      ->capture_default_str();
  app.add_option("--identity-bits", cfg.identity_bits,
                 "RSA size of the DHT identity, when it is first made in --data-dir")
      ->check(CLI::Range(2048u, 8192u))
      ->capture_default_str();
  app.add_option("--bootstrap", cfg.bootstrap,
                 "DHT nodes to join, host:port,... (default: none, a new DHT)")
      ->delimiter(',')
      ->check(kHostPort);
  app.add_option("--network-id", cfg.network_id,
                 "DHT network id (use a private one for test clusters)")
      ->capture_default_str();
  app.add_option("--suffix", cfg.suffix, "Zone served authoritatively (repeatable)")
      ->capture_default_str();
  app.add_option("--ns", cfg.ns,
                 "A name server of the zone, NAME or NAME=ADDR (repeatable; a name once per "
                 "address family): the apex NS records, the same on every node given the same "
                 "list; names inside the zone need an address (served, and glue), names outside "
                 "must have none. SOA MNAME: the first (default: none, then ns<N>.<zone>, one "
                 "per --dns-listen)")
      ->type_name("NAME[=ADDR]");
  app.add_option("--soa-contact", cfg.soa_contact,
                 "The zone's contact mailbox for the SOA record, e.g. hostmaster@example.org "
                 "(default: hostmaster.<zone>)");
  app.add_option("--ttl", cfg.ttl, "TTL of device records and negative answers, seconds")
      ->check(CLI::Range(0u, 86400u))
      ->capture_default_str();
  app.add_option("--min-ttl", cfg.min_ttl,
                 "Lowest TTL a device or an RRset may have, seconds (RFC 2136 adds are raised "
                 "to it)")
      ->check(CLI::Range(0u, 86400u))
      ->capture_default_str();
  app.add_option("--timeout", cfg.timeout, "Timeout of remote lookups, seconds")
      ->check(CLI::Range(0.01, 60.0))
      ->capture_default_str();
  app.add_option("--stale-max", cfg.stale_max,
                 "Serve-stale (RFC 8767): when no node of another agent answers, its last "
                 "answer is served (TTL 30, EDE 3) if it expired at most this many seconds ago; "
                 "0 = never, at most 604800 (7 days)")
      ->check(CLI::Range(0u, kMaxStale))
      ->capture_default_str();
  app.add_option("--threads", cfg.threads, "DNS worker threads (0 = one per core)")
      ->check(CLI::Range(0u, 256u))
      ->capture_default_str();
  app.add_option("--home-agent", cfg.home_agent,
                 "Gateway mode: agents to forward to, host:port[@KEYID],... (default: none, an "
                 "agent). With @KEYID (the agent's key id) the link is TLS and only an agent "
                 "holding that key is believed")
      ->delimiter(',')
      ->check(kAgentAddress);
  app.add_option("--log-level", cfg.log_level, "trace, debug, info, warn, error, critical, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}))
      ->capture_default_str();
  app.add_option("--tls-cert", cfg.tls_cert,
                 "PEM certificate (chain) for HTTPS on --http-listen (default: none, plain HTTP)")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-key", cfg.tls_key, "PEM private key for --tls-cert (default: none)")
      ->check(CLI::ExistingFile);
  app.add_option("--dot-listen", cfg.dot_listen,
                 "DNS over TLS (RFC 7858) listen address, e.g. 0.0.0.0:853, with the "
                 "certificate of --tls-cert/--tls-key (repeatable; default: none)")
      ->check(kHostPort);
  app.add_option("--http-max-per-client", cfg.http_max_per_client,
                 "HTTP connections one client address may hold at once (more are answered 503); "
                 "0 = no limit, e.g. behind a reverse proxy")
      ->check(CLI::Range(0u, 100000u))
      ->capture_default_str();
  app.add_option("--gateway-tls", cfg.gateway_tls,
                 "Ask other agents over TLS and believe only the key that signed their DHT "
                 "record; false = plain v2, unauthenticated (benchmarks, old agents only)")
      ->capture_default_str();
  app.add_option("--gateway-max-per-client", cfg.gateway_max_per_client,
                 "Gateway-protocol connections one client address may hold at once (more are "
                 "closed at once); 0 = no limit")
      ->check(CLI::Range(0u, 100000u))
      ->capture_default_str();
  app.add_option("--gateway-idle-timeout", cfg.gateway_idle_timeout,
                 "Seconds a gateway-protocol connection may stay silent with no query in "
                 "flight before it is closed")
      ->check(CLI::Range(1u, 86400u))
      ->capture_default_str();
  app.add_option("--rrl-rate", cfg.rrl_rate,
                 "Response rate limit: UDP answers per second per client prefix (/24, /56) and "
                 "kind of answer; 0 = off")
      ->check(CLI::Range(0u, 1000000u))
      ->capture_default_str();
  app.add_option("--rrl-slip", cfg.rrl_slip,
                 "Over the rate limit, every Nth answer goes out truncated (TC) instead of "
                 "dropped; 0 = drop all")
      ->check(CLI::Range(0u, 10u))
      ->capture_default_str();
  app.add_option("--cookie-secret", cfg.cookie_secret,
                 "File with the DNS cookie secret (RFC 9018): 32 hex digits (16 bytes), the same "
                 "on every node serving one name behind anycast, so that each accepts the "
                 "others' server cookies (default: none, a random secret per start)")
      ->check(CLI::ExistingFile);
  app.add_option("--nsid", cfg.nsid,
                 "Name server identifier (RFC 5001) sent to queries that ask for it, e.g. the "
                 "host name of this node behind anycast (default: none)");
  app.add_option("--trust-anchor", cfg.trust_anchor,
                 "PEM CA certificate of the agent federation (repeatable): agent records count "
                 "only if that CA certified their key for their label (default: none, trust on "
                 "first use)")
      ->check(CLI::ExistingFile);
  app.add_flag("--dnssec", cfg.dnssec,
               "Sign answers (DNSSEC, ECDSA P-256, compact denial of existence) for queries "
               "with DO; the key is dnssec.key in --data-dir, made on first start, unless "
               "--dnssec-key names one. `pweb-node dnssec ds` prints the DS for the parent "
               "(default: off)")
      ->capture_default_str();
  app.add_option("--dnssec-key", cfg.dnssec_key,
                 "With --dnssec: a PEM ECDSA P-256 key file shared by every node serving the "
                 "suffixes (`pweb-node dnssec keygen` makes one; default: none)")
      ->check(CLI::ExistingFile);
  app.add_option("--dnssec-publish", cfg.dnssec_publish,
                 "With --dnssec: a key file (PEM) whose DNSKEY, CDS and CDNSKEY the apex also "
                 "shows without signing with it, for a rollover (repeatable; README: DNSSEC; "
                 "default: none)")
      ->check(CLI::ExistingFile);
  app.add_flag("--fresh-store", cfg.fresh_store,
               "Only when the device store in --data-dir is damaged or missing (the node "
               "refuses to start then, exit 2): move it aside to pweb.db.damaged-<unixtime> "
               "(never deleted) and start with an empty store; all devices and users must "
               "then be added again. A sound store is left alone (default: off)")
      ->capture_default_str();
  app.add_flag("--query-log", cfg.query_log,
               "Log every DNS query (event=query; costs throughput; default: off)")
      ->capture_default_str();
  // A single-valued option given twice (a wrapper's default, then the operator's) takes
  // the last, as most servers' command lines do.
  for (CLI::Option* o : app.get_options()) {
    if (o->get_items_expected_max() == 1 && o->get_type_size() > 0) {
      o->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
}

std::optional<std::string> validate(const NodeConfig& cfg) {
  if (cfg.dns_listen.empty()) return "at least one --dns-listen address is needed";
  if (std::string err; !registrar::parse_store_location(cfg.store, cfg.data_dir, err)) {
    return "--store: " + err;
  }
  if (cfg.suffix.empty()) return "at least one --suffix is needed";
  if (std::vector<dns::NamedServer> ns;
      auto err = dns::parse_name_servers(cfg.ns, cfg.suffix, ns)) {
    return err;
  }
  if (dns::Name rname; !cfg.soa_contact.empty()) {
    if (auto err = dns::parse_soa_contact(cfg.soa_contact, rname)) return err;
  }
  if (cfg.tls_cert.empty() != cfg.tls_key.empty()) {
    return "HTTPS needs both --tls-cert and --tls-key";
  }
  if (cfg.nsid.size() > dns::kMaxNsid) {
    return "--nsid is longer than " + std::to_string(dns::kMaxNsid) + " bytes";
  }
  if (!cfg.dot_listen.empty() && cfg.tls_cert.empty()) {
    return "--dot-listen (DNS over TLS) needs --tls-cert and --tls-key";
  }
  if (!cfg.home_agent.empty() && !cfg.label.empty()) {
    return "--home-agent (gateway mode) and --label exclude each other";
  }
  if (!cfg.dnssec_key.empty() && !cfg.dnssec) return "--dnssec-key needs --dnssec";
  if (!cfg.dnssec_publish.empty() && !cfg.dnssec) return "--dnssec-publish needs --dnssec";
  if (!cfg.home_agent.empty() && !cfg.trust_anchor.empty()) {
    return "--trust-anchor applies to agent records in the DHT; a gateway (--home-agent) has none";
  }
  return std::nullopt;
}

}  // namespace pweb::node
