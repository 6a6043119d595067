#include "pweb/dns/authority.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "pweb/registrar/names.hpp"
#include "pweb/registrar/records.hpp"

namespace pweb::dns {
namespace {

constexpr std::size_t kDeviceDepth = 3;  // device.user.agent

// Appends label bytes lowercased; false if a byte cannot occur in a registered
// name, in which case the name cannot exist.
bool append_lower_hostname(std::span<const std::uint8_t> label, char*& out) noexcept {
  for (std::uint8_t c : label) {
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c + ('a' - 'A'));
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
    *out++ = static_cast<char>(c);
  }
  return true;
}

// Labels below a device may also hold '_' ("_acme-challenge") or be "*".
bool append_lower_subname(std::span<const std::uint8_t> label, char*& out) noexcept {
  if (label.size() == 1 && label[0] == '*') {
    *out++ = '*';
    return true;
  }
  for (std::uint8_t c : label) {
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c + ('a' - 'A'));
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
    *out++ = static_cast<char>(c);
  }
  return true;
}

// Whether a name below the device exists only because names sit below it
// (an empty non-terminal: "_tcp" of "_http._tcp").
bool is_empty_nonterminal(const registrar::DeviceZone& z, std::string_view sub) noexcept {
  for (const auto& set : z.rrsets) {
    const std::string_view n = set.subname;
    if (n.size() > sub.size() + 1 && n.ends_with(sub) && n[n.size() - sub.size() - 1] == '.') {
      return true;
    }
  }
  return false;
}

const RRset* find_set(const registrar::DeviceZone& z, std::string_view sub,
                      std::uint16_t qtype) noexcept {
  for (const auto& set : z.rrsets) {
    if (set.subname == sub && (set.type == qtype || qtype == type::ANY)) return &set;
  }
  return nullptr;
}

bool has_name(const registrar::DeviceZone& z, std::string_view sub) noexcept {
  for (const auto& set : z.rrsets) {
    if (set.subname == sub) return true;
  }
  return false;
}

// The records at one existing name: the qtype's RRset, else its CNAME, else nothing.
const RRset* answer_at(const registrar::DeviceZone* z, std::string_view sub,
                       std::uint16_t qtype) noexcept {
  if (!z) return nullptr;
  if (const RRset* s = find_set(*z, sub, qtype)) return s;
  if (qtype != registrar::rrtype::CNAME) return find_set(*z, sub, registrar::rrtype::CNAME);
  return nullptr;
}

// "ns<N>" with 1 <= N <= count; returns N-1 or -1.
int name_server_index(std::span<const std::uint8_t> label, std::size_t count) noexcept {
  if (label.size() < 3 || label.size() > 6) return -1;
  if ((label[0] | 0x20) != 'n' || (label[1] | 0x20) != 's' || label[2] == '0') return -1;
  std::size_t n = 0;
  for (std::size_t i = 2; i < label.size(); ++i) {
    if (label[i] < '0' || label[i] > '9') return -1;
    n = n * 10 + (label[i] - '0');
  }
  return (n >= 1 && n <= count) ? static_cast<int>(n - 1) : -1;
}

LookupResult with(Outcome o, Node n, std::uint8_t zone_label) noexcept {
  LookupResult r;
  r.outcome = o;
  r.node = n;
  r.zone_label = zone_label;
  return r;
}

// REFUSED with a reason for EDNS clients (RFC 8914).
LookupResult refused(std::uint16_t info_code, std::string_view text) noexcept {
  LookupResult r = with(Outcome::refused, Node::none, 0);
  r.ede = {true, info_code, text};
  return r;
}

}  // namespace

Authority::Authority(AuthorityConfig config) : config_(std::move(config)) {
  if (config_.zones.empty()) throw ConfigError("at least one --suffix is needed");
  if (config_.zones.size() > 255) throw ConfigError("too many --suffix zones");
  if (config_.name_servers.size() > 9999) throw ConfigError("too many DNS listen addresses");
  if (auto err = check_name_servers(config_.ns, config_.zones)) throw ConfigError(*err);
  if (!config_.ns.empty()) {
    // Named servers replace the ns<N> ones: their addresses, in order.
    config_.name_servers.clear();
    for (const auto& n : config_.ns) config_.name_servers.push_back(n.addr);
  }
  if (config_.nsid.size() > kMaxNsid) {
    throw ConfigError("--nsid is longer than " + std::to_string(kMaxNsid) + " bytes");
  }
  if (config_.name_servers.empty()) config_.name_servers.emplace_back();
  for (auto& z : config_.zones) {
    z = registrar::to_lower(z);
    if (z.empty() || z.back() != '.') z.push_back('.');
    Zone zone;
    if (z == "." || !name_from_text(z, zone.name)) {
      throw ConfigError("--suffix '" + z + "' is not a valid zone name");
    }
    for (std::size_t i = 0; i < zone.name.labels; ++i) {
      const auto label = zone.name.label(i);
      if (auto err = registrar::label_error(
              std::string_view(reinterpret_cast<const char*>(label.data()), label.size()))) {
        throw ConfigError("--suffix '" + z + "': " + *err);
      }
    }
    for (const auto& n : config_.ns) {
      Name wire;
      if (!name_from_text(n.name, wire)) throw ConfigError("--ns '" + n.name + "': not a name");
      ZoneServer server;
      server.in_zone = in_zone(n.name, z);
      // In the zone: only the labels before it, written before a pointer to the zone.
      const std::size_t keep =
          server.in_zone ? wire.offsets[wire.labels - zone.name.labels] : wire.size;
      server.bytes.assign(wire.wire.begin(), wire.wire.begin() + static_cast<std::ptrdiff_t>(keep));
      if (server.in_zone) server.labels = static_cast<std::uint8_t>(wire.labels - zone.name.labels);
      zone.servers.push_back(std::move(server));
    }
    zones_.push_back(std::move(zone));
  }
  if (config_.ttl > 0x7FFFFFFF) throw ConfigError("--ttl too large");
}

bool Authority::has_glue(std::size_t zone, std::size_t i) const noexcept {
  const auto& a = config_.name_servers[i];
  if (!a.v4 && !a.v6) return false;
  const auto& servers = zones_[zone].servers;
  return servers.empty() || servers[i].in_zone;
}

int Authority::named_server_index(const Zone& z, const Query& q, std::size_t depth) const noexcept {
  const auto prefix = q.qname.bytes().first(q.qname.offsets[depth]);
  for (std::size_t i = 0; i < z.servers.size(); ++i) {
    const auto& s = z.servers[i];
    if (s.in_zone && s.labels == depth && wire_equal_nocase(prefix, s.bytes)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

LookupResult Authority::lookup(const Query& q, const registrar::Snapshot& snap) const noexcept {
  if (q.qclass != cls::IN && q.qclass != cls::ANY) {
    return refused(kEdeNotAuthoritative, "not authoritative for this class");
  }
  if (q.qtype == type::OPT) return with(Outcome::formerr, Node::none, 0);

  // The longest served zone that the name is in.
  const Zone* zone = nullptr;
  for (const auto& z : zones_) {
    if (q.qname.labels < z.name.labels) continue;
    if (zone && zone->name.labels >= z.name.labels) continue;
    if (wire_equal_nocase(q.qname.suffix(q.qname.labels - z.name.labels), z.name.bytes())) {
      zone = &z;
    }
  }
  if (!zone) return refused(kEdeNotAuthoritative, "not authoritative for this name");
  // Zone transfers are not offered.
  if (q.qtype == type::AXFR || q.qtype == type::IXFR) {
    return refused(kEdeProhibited, "zone transfers are not offered");
  }
  auto r = lookup_in(*zone, q, snap);
  r.zone = static_cast<std::uint8_t>(zone - zones_.data());
  return r;
}

LookupResult Authority::lookup_in(const Zone& z, const Query& q,
                                  const registrar::Snapshot& snap) const noexcept {
  const Zone* zone = &z;
  const std::size_t depth = q.qname.labels - zone->name.labels;
  const auto zone_label = static_cast<std::uint8_t>(depth);
  const bool any = q.qtype == type::ANY;

  if (depth == 0) {
    const bool has = q.qtype == type::SOA || q.qtype == type::NS || any;
    return with(has ? Outcome::answer : Outcome::nodata, Node::apex, zone_label);
  }
  // Only a name server's exact host name is its: names below it are an
  // agent's like any other (an agent may be labelled ns1).
  const int ns = !zone->servers.empty() ? named_server_index(*zone, q, depth)
                 : depth == 1 ? name_server_index(q.qname.label(0), config_.name_servers.size())
                              : -1;
  if (ns >= 0) {
    const auto& addr = config_.name_servers[static_cast<std::size_t>(ns)];
    const bool has = (any && (addr.v4 || addr.v6)) || (q.qtype == type::A && addr.v4) ||
                     (q.qtype == type::AAAA && addr.v6);
    auto r = with(has ? Outcome::answer : Outcome::nodata, Node::name_server, zone_label);
    r.name_server = static_cast<std::uint16_t>(ns);
    return r;
  }

  // Relative key "sub.device.user.agent", lowercase, built on the stack; the
  // labels below the device may hold '_' and be '*'.
  const std::size_t below = depth > kDeviceDepth ? depth - kDeviceDepth : 0;
  std::array<char, kMaxNameSize> key{};
  char* out = key.data();
  std::size_t device_at = 0;  // where "device.user.agent" starts in the key
  for (std::size_t i = 0; i < depth; ++i) {
    if (i > 0) *out++ = '.';
    if (i == below) device_at = static_cast<std::size_t>(out - key.data());
    const bool ok = i < below ? append_lower_subname(q.qname.label(i), out)
                              : append_lower_hostname(q.qname.label(i), out);
    if (!ok) return with(Outcome::nxdomain, Node::none, zone_label);
  }
  const std::string_view full(key.data(), static_cast<std::size_t>(out - key.data()));
  const std::string_view k = full.substr(device_at);
  const std::string_view sub = below ? full.substr(0, device_at - 1) : std::string_view();
  if (depth == 1 && k == config_.label) return with(Outcome::nodata, Node::interior, zone_label);

  const auto* entry = snap.find(k);
  if (!entry) {
    // The agent is the last label of the key.
    const std::string_view agent = k.substr(k.rfind('.') + 1);
    // An agent whose devices this store holds is answered here, in full.
    if (!config_.resolve_remote || agent == config_.label || snap.find(agent)) {
      return with(Outcome::nxdomain, Node::none, zone_label);
    }
    if (depth < kDeviceDepth) return with(Outcome::nodata, Node::interior, zone_label);
    auto r = with(Outcome::remote, Node::device, zone_label);
    std::copy(full.begin(), full.end(), r.key.begin());
    r.key_size = static_cast<std::uint8_t>(full.size());
    return r;
  }
  if (!entry->is_device()) {
    // Nothing lives below a user or an agent but devices.
    return with(below ? Outcome::nxdomain : Outcome::nodata, Node::interior, zone_label);
  }
  const registrar::DeviceZone* dz = entry->zone();
  auto r = with(Outcome::nodata, Node::device, zone_label);
  r.device = entry;
  r.ttl = dz && dz->ttl ? dz->ttl : config_.ttl;
  if (!below) {
    const bool has = (q.qtype == type::A && entry->has_v4()) ||
                     (q.qtype == type::AAAA && entry->has_v6()) ||
                     (any && (entry->has_v4() || entry->has_v6()));
    if (has) {
      r.outcome = Outcome::answer;
    } else if ((r.rrset = answer_at(dz, "", q.qtype))) {
      r.outcome = Outcome::answer;
    }
    return r;
  }
  // Below the device: its own names, empty non-terminals, then the wildcard of
  // the closest encloser (RFC 4592 §3.3.1).
  if (!dz) return with(Outcome::nxdomain, Node::none, zone_label);
  if (has_name(*dz, sub)) {
    r.rrset = answer_at(dz, sub, q.qtype);
    if (r.rrset) r.outcome = Outcome::answer;
    return r;
  }
  if (is_empty_nonterminal(*dz, sub)) return r;
  std::string_view encloser = sub;
  for (;;) {
    const auto dot = encloser.find('.');
    encloser = dot == std::string_view::npos ? std::string_view() : encloser.substr(dot + 1);
    if (encloser.empty() || has_name(*dz, encloser) || is_empty_nonterminal(*dz, encloser)) {
      break;
    }
  }
  std::array<char, kMaxNameSize> wild{};
  wild[0] = '*';
  std::size_t wild_size = 1;
  if (!encloser.empty()) {
    wild[wild_size++] = '.';
    std::copy(encloser.begin(), encloser.end(), wild.begin() + 2);
    wild_size += encloser.size();
  }
  const std::string_view source(wild.data(), wild_size);
  if (!has_name(*dz, source)) return with(Outcome::nxdomain, Node::none, zone_label);
  r.rrset = answer_at(dz, source, q.qtype);
  if (r.rrset) r.outcome = Outcome::answer;
  return r;
}

}  // namespace pweb::dns
