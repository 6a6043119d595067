#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/rrset.hpp"

namespace pweb::registrar {

using Ipv4 = std::array<std::uint8_t, 4>;
using Ipv6 = std::array<std::uint8_t, 16>;

// One registered device as the store keeps it. `name` is `device.user.agent`,
// lowercase and valid by the name rules.
struct DeviceRecord {
  std::string name;
  std::optional<Ipv4> ipv4;
  std::optional<Ipv6> ipv6;
  std::int64_t updated = 0;  // unix seconds
  std::string services;      // e.g. "http:8080,ssh:22"; empty if none
  std::uint32_t ttl = 0;     // of its addresses; 0: the node's --ttl
  // Interface id for `ipv6prefix=` updates (only the low 64 bits are used).
  std::optional<Ipv6> ipv6_iid;
  // Everything but the device's own addresses, sorted by (subname, type); the
  // "@" A/AAAA RRsets are `ipv4`/`ipv6` above.
  std::vector<RRset> rrsets;

  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

// Exactly an address: nullopt for anything after it, a NUL included.
std::optional<Ipv4> parse_ipv4(const std::string& text);
std::optional<Ipv6> parse_ipv6(const std::string& text);
std::string format_ipv4(const Ipv4& a);
std::string format_ipv6(const Ipv6& a);

// An address a device name may lead to, as text from a client: the one rule for
// DynDNS2 (myip, myipv6, the caller's address), the JSON API and device import.
// Exactly an IPv4 or IPv6 address (nothing after it, not even a NUL);
// IPv4-mapped IPv6 counts as IPv4. Refused, the error saying which rule: the
// unspecified address (0.0.0.0, ::), the rest of 0.0.0.0/8, multicast
// (224.0.0.0/4, ff00::/8), the broadcast address 255.255.255.255 and the rest of
// the reserved 240.0.0.0/4: a name must lead to one host.
struct DeviceAddress {
  std::optional<Ipv4> v4;  // one of the two when accepted
  std::optional<Ipv6> v6;
  bool malformed = false;  // not an address at all (error says so)
  std::string error;       // why refused; empty when accepted
};
DeviceAddress parse_device_address(std::string_view text);

// `text` safe to quote in a message: at most 64 bytes, control bytes as \xNN.
std::string printable(std::string_view text);

}  // namespace pweb::registrar
