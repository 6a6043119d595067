#pragma once
// The node's configuration: plain data, filled and validated by one table of
// options (CLI11) that also gives --help and --config FILE.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace CLI {
class App;
}

namespace pweb::node {

struct HostPort {
  std::string host;  // without brackets
  std::uint16_t port = 0;
  std::string key_id;  // --home-agent only: the agent's key (40 hex), then over TLS
};

// "127.0.0.1:5353", "[::1]:5353", "name:4222". nullopt if malformed.
std::optional<HostPort> parse_host_port(std::string_view text);
// A --home-agent: host:port, optionally "@KEYID" (the agent's DHT key id, as
// `pweb-node pin list` and /api/v1/status show it). nullopt if malformed.
std::optional<HostPort> parse_agent_address(std::string_view text);

struct NodeConfig {
  std::string label;
  std::filesystem::path data_dir = "./data";
  // "sqlite" (pweb.db in data_dir) or a postgresql:// URI (several nodes of a
  // label share it); parsed by registrar::parse_store_location.
  std::string store = "sqlite";
  std::vector<std::string> dns_listen{"127.0.0.1:5353"};
  std::string http_listen = "127.0.0.1:8053";
  std::string gateway_listen = "127.0.0.1:4450";
  std::uint16_t dht_port = 4222;
  std::vector<std::string> bootstrap;
  std::uint32_t network_id = 0;
  std::vector<std::string> suffix{"dht."};
  // The zone's name servers, NAME[=ADDR] (dns::parse_name_servers); none:
  // ns<N>.<zone>, one per DNS listener.
  std::vector<std::string> ns;
  std::string soa_contact;  // SOA RNAME as a mailbox; empty: hostmaster.<zone>
  std::uint32_t ttl = 60;
  std::uint32_t min_ttl = 30;  // the lowest TTL a device or RRset may ask for
  double timeout = 2.0;        // seconds
  // Serve-stale (RFC 8767): how long past its expiry another agent's answer
  // may be served when none of that agent's nodes answers; 0 = never.
  std::uint32_t stale_max = 86400;
  unsigned threads = 0;  // 0 = one per core
  std::vector<std::string> home_agent;
  std::string log_level = "info";
  bool query_log = false;        // one log line per DNS query
  bool fresh_store = false;      // a damaged or missing store is set aside, not refused
  std::uint32_t rrl_rate = 200;  // UDP responses/s per client prefix and kind; 0 = off
  std::uint32_t rrl_slip = 2;
  // RFC 7873/9018 server cookies: a file holding the 16-byte SipHash secret in
  // hex, shared by the nodes behind one anycast name (empty: random per start).
  std::string cookie_secret;
  std::string nsid;      // RFC 5001 NSID text (empty: none)
  std::string tls_cert;  // HTTPS for the HTTP API when both are set; also DoT's
  std::string tls_key;
  std::vector<std::string> dot_listen;        // DNS over TLS (RFC 7858) listen addresses
  std::uint32_t http_max_per_client = 64;     // connections per client address; 0 = no limit
  unsigned identity_bits = 4096;              // RSA key made once for the DHT identity
  bool gateway_tls = true;                    // agent links over TLS with the signer's key checked
  std::uint32_t gateway_max_per_client = 32;  // gateway connections per client address
  std::uint32_t gateway_idle_timeout = 300;   // seconds, after the handshake
  // Federation CA certificates (PEM): agent records count only with a label
  // certificate from one of them (none: trust on first use).
  std::vector<std::string> trust_anchor;
  // DNSSEC online signing; the key is <data_dir>/dnssec.key unless dnssec_key names one.
  bool dnssec = false;
  std::string dnssec_key;
  std::vector<std::string> dnssec_publish;  // keys shown in the DNSKEY RRset, not signing
};

// Registers every node option on `app`, bound to `cfg`, with defaults shown in --help.
void add_node_options(CLI::App& app, NodeConfig& cfg);

// Cross-field checks that CLI11 validators cannot express; returns an error message.
std::optional<std::string> validate(const NodeConfig& cfg);

}  // namespace pweb::node
