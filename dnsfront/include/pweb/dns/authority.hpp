#pragma once
// What exists: the zones this node is authoritative for, and the lookup of a
// question in them against a device snapshot. Knows nothing of rcodes or sections;
// the responder turns a LookupResult into an answer.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/dns/dnssec_key.hpp"
#include "pweb/dns/message.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::dns {

// A name server's glue; a wildcard listener has no address to give.
struct NameServerAddress {
  std::optional<registrar::Ipv4> v4;
  std::optional<registrar::Ipv6> v6;
};

struct AuthorityConfig {
  std::vector<std::string> zones{"dht."};  // served suffixes
  std::uint32_t ttl = 60;                  // device records; also the SOA minimum
  std::string label;                       // this agent's own label, if any
  // One name server `ns<N>.<zone>` per address (the node's DNS listeners);
  // with none, a single address-less ns1 stands in.
  std::vector<NameServerAddress> name_servers;
  // Names of other agents not in the snapshot are resolved elsewhere (the
  // node's resolver): their devices come back as Outcome::remote, their agent
  // and user names as NODATA, since only that agent knows what is below them.
  bool resolve_remote = false;
  // --dnssec: the zone key; answers to DO queries are signed (dnssec_signer.hpp).
  std::shared_ptr<const DnssecKey> dnssec;
  // Keys whose DNSKEY (and CDS/CDNSKEY) the apex also shows, signed by `dnssec`:
  // a rollover publishes the next key before it signs, and the last one after.
  std::vector<std::shared_ptr<const DnssecKey>> dnssec_published;
};

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `remote`: a device name of another agent, to be asked for (LookupResult::key).
enum class Outcome : std::uint8_t { answer, nodata, nxdomain, refused, formerr, servfail, remote };
enum class Node : std::uint8_t { none, apex, name_server, device, interior };

struct LookupResult {
  Outcome outcome = Outcome::refused;
  Node node = Node::none;
  std::uint8_t zone_label = 0;    // index of the zone's first label in the qname
  std::uint16_t name_server = 0;  // index into name_servers for Node::name_server
  const registrar::Snapshot::Entry* device = nullptr;
  std::uint32_t ttl = 0;  // of the device's addresses
  // Outcome::answer with an RRset of the device's records (the qtype's, or a
  // CNAME): written instead of the addresses, owned by the qname (also when a
  // wildcard matched, RFC 4592 §4.1). Lives as long as the snapshot (or answer).
  const RRset* rrset = nullptr;
  ExtendedError ede;  // from a remote answer
  // Outcome::remote: the relative lowercase key ("laptop.alice.uw", or
  // "_acme-challenge.laptop.alice.uw" below a device).
  std::array<char, kMaxNameSize> key{};
  std::uint8_t key_size = 0;
  [[nodiscard]] std::string_view key_view() const noexcept { return {key.data(), key_size}; }
};

class Authority {
 public:
  explicit Authority(AuthorityConfig config);  // throws ConfigError

  [[nodiscard]] LookupResult lookup(const Query& q, const registrar::Snapshot& snap) const noexcept;

  [[nodiscard]] const AuthorityConfig& config() const noexcept { return config_; }
  [[nodiscard]] std::uint32_t ttl() const noexcept { return config_.ttl; }
  [[nodiscard]] const DnssecKey* dnssec() const noexcept { return config_.dnssec.get(); }
  [[nodiscard]] const std::vector<NameServerAddress>& name_servers() const noexcept {
    return config_.name_servers;
  }

 private:
  struct Zone {
    Name name;  // lowercase wire form
  };
  AuthorityConfig config_;
  std::vector<Zone> zones_;
};

}  // namespace pweb::dns
