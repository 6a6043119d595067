#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>

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

  friend bool operator==(const DeviceRecord&, const DeviceRecord&) = default;
};

std::optional<Ipv4> parse_ipv4(const std::string& text);
std::optional<Ipv6> parse_ipv6(const std::string& text);
std::string format_ipv4(const Ipv4& a);
std::string format_ipv6(const Ipv6& a);

}  // namespace pweb::registrar
