#include "pweb/registrar/device.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>

namespace pweb::registrar {

std::optional<Ipv4> parse_ipv4(const std::string& text) {
  // inet_pton stops at a NUL: "1.2.3.4\0junk" (myip=1.2.3.4%00junk) is not an address.
  if (text.find('\0') != std::string::npos) return std::nullopt;
  Ipv4 out{};
  if (inet_pton(AF_INET, text.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<Ipv6> parse_ipv6(const std::string& text) {
  if (text.find('\0') != std::string::npos) return std::nullopt;
  Ipv6 out{};
  if (inet_pton(AF_INET6, text.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::string format_ipv4(const Ipv4& a) {
  char buf[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, a.data(), buf, sizeof buf);
  return buf;
}

std::string format_ipv6(const Ipv6& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  std::string out = buf;
  // glibc prints ::1:2 (an interface id) in the deprecated IPv4-compatible form
  // "::0.1.0.2"; RFC 5952 says hex unless IPv4-mapped.
  if (out.starts_with("::") && out.find('.') != std::string::npos && !out.starts_with("::ffff:")) {
    char hex[16];
    const unsigned hi = (unsigned{a[12]} << 8) | a[13], lo = (unsigned{a[14]} << 8) | a[15];
    if (hi != 0) {
      std::snprintf(hex, sizeof hex, "::%x:%x", hi, lo);
    } else {
      std::snprintf(hex, sizeof hex, "::%x", lo);
    }
    out = hex;
  }
  return out;
}

}  // namespace pweb::registrar

namespace pweb::registrar {
namespace {

std::optional<std::string> refusal(const Ipv4& a) {
  const std::string text = format_ipv4(a);
  if (a == Ipv4{}) return text + " is the unspecified address";
  if (a[0] == 0) return text + " is in 0.0.0.0/8 (\"this network\"), not a host address";
  if (a[0] >= 224 && a[0] <= 239) return text + " is a multicast address";
  if (a == Ipv4{255, 255, 255, 255}) return text + " is the broadcast address";
  if (a[0] >= 240) return text + " is in the reserved 240.0.0.0/4, not a host address";
  return std::nullopt;
}

std::optional<std::string> refusal(const Ipv6& a) {
  if (a == Ipv6{}) return ":: is the unspecified address";
  if (a[0] == 0xff) return format_ipv6(a) + " is a multicast address";
  return std::nullopt;
}

}  // namespace

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  if (text.size() > 64) out += "...";
  return out;
}

DeviceAddress parse_device_address(std::string_view text) {
  DeviceAddress out;
  const std::string s(text);
  if (auto v4 = parse_ipv4(s)) {
    out.v4 = v4;
  } else if (auto v6 = parse_ipv6(s)) {
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, v6->begin())) {
      out.v4 = Ipv4{(*v6)[12], (*v6)[13], (*v6)[14], (*v6)[15]};
    } else {
      out.v6 = v6;
    }
  } else {
    out.malformed = true;
    out.error = "'" + printable(text) + "' is not an IPv4 or IPv6 address";
    return out;
  }
  if (auto why = out.v4 ? refusal(*out.v4) : refusal(*out.v6)) {
    out = DeviceAddress{};
    out.error = *why;
  }
  return out;
}

}  // namespace pweb::registrar
