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
#include "pweb/dns/name_servers.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::dns {

struct AuthorityConfig {
  std::vector<std::string> zones{"dht."};  // served suffixes
  std::uint32_t ttl = 60;                  // device records; also the SOA minimum
  std::string label;                       // this agent's own label, if any
  // One name server `ns<N>.<zone>` per address (the node's DNS listeners);
  // with none, a single address-less ns1 stands in.
  std::vector<NameServerAddress> name_servers;
  // --ns: the zone's name servers by name, the same set for every zone (so
  // every node given the same options answers the same NS RRset). When given,
  // they replace the ns<N> names and `name_servers`.
  std::vector<NamedServer> ns;
  // --soa-contact: the SOA RNAME in wire form; empty: hostmaster.<zone>.
  Name soa_contact;
  // Names of other agents not in the snapshot are resolved elsewhere (the
  // node's resolver): their devices come back as Outcome::remote, their agent
  // and user names as NODATA, since only that agent knows what is below them.
  bool resolve_remote = false;
  // RFC 5001 NSID, sent to queries that ask for it (empty: none). Lives here,
  // not in a transport, so every transport answers alike.
  std::string nsid;
  // RFC 7873/9018 server cookies: the SipHash secret (null: COOKIE options ignored).
  std::optional<CookieSecret> cookie_secret;
  // --dnssec: the zone key; answers to DO queries are signed (dnssec_signer.hpp).
  std::shared_ptr<const DnssecKey> dnssec;
  // Keys whose DNSKEY (and CDS/CDNSKEY) the apex also shows, signed by `dnssec`:
  // a rollover publishes the next key before it signs, and the last one after.
  std::vector<std::shared_ptr<const DnssecKey>> dnssec_published;
};

inline constexpr std::size_t kMaxNsid = 128;  // bytes of --nsid

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
  std::uint8_t zone = 0;          // index of the zone in config().zones
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

  // How name server i of zone z is written: `wire` then, when `in_zone`, the
  // zone's name (a compression pointer); else `wire` is the whole name.
  struct NsName {
    std::span<const std::uint8_t> wire;
    bool in_zone = true;
  };
  // Nothing for the default ns<N> names (written by number).
  [[nodiscard]] std::optional<NsName> ns_name(std::size_t zone, std::size_t i) const noexcept {
    const auto& servers = zones_[zone].servers;
    if (servers.empty()) return std::nullopt;
    return NsName{servers[i].bytes, servers[i].in_zone};
  }
  // Whether name server i gets glue in zone z: it is in the zone and has an address.
  [[nodiscard]] bool has_glue(std::size_t zone, std::size_t i) const noexcept;

 private:
  struct ZoneServer {
    std::vector<std::uint8_t> bytes;  // labels before the zone, or the whole name
    std::uint8_t labels = 0;          // labels in `bytes` when in the zone
    bool in_zone = false;
  };
  struct Zone {
    Name name;                        // lowercase wire form
    std::vector<ZoneServer> servers;  // --ns; empty: ns<N>
  };
  [[nodiscard]] LookupResult lookup_in(const Zone& z, const Query& q,
                                       const registrar::Snapshot& snap) const noexcept;
  // --ns names in a zone: the index of the one that is exactly the qname's
  // first `depth` labels, or -1.
  [[nodiscard]] int named_server_index(const Zone& z, const Query& q,
                                       std::size_t depth) const noexcept;
  AuthorityConfig config_;
  std::vector<Zone> zones_;
};

}  // namespace pweb::dns
