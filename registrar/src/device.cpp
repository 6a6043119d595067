#include "pweb/registrar/device.hpp"

#include <arpa/inet.h>

namespace pweb::registrar {

std::optional<Ipv4> parse_ipv4(const std::string& text) {
  Ipv4 out{};
  if (inet_pton(AF_INET, text.c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

std::optional<Ipv6> parse_ipv6(const std::string& text) {
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
  return buf;
}

}  // namespace pweb::registrar
