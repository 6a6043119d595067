#include "interface_address.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <vector>

#include "pweb/registrar/update_policy.hpp"

namespace pweb::updater {
namespace {

std::optional<std::string> text_of(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    if (!inet_ntop(AF_INET, &in->sin_addr, buf, sizeof buf)) return std::nullopt;
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (!inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof buf)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return registrar::update::normalize_address(buf);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "none" : out;
}

}  // namespace

InterfaceAddress first_global_address(const std::string& interface) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) {
    return {std::nullopt, std::string("cannot list the interfaces: ") + std::strerror(errno)};
  }
  std::set<std::string> names;
  std::vector<std::string> skipped;
  std::optional<std::string> found;
  int count = 0;
  for (const ifaddrs* i = list; i != nullptr && count < 100000; i = i->ifa_next, ++count) {
    if (i->ifa_name == nullptr) continue;
    names.insert(i->ifa_name);
    if (interface != i->ifa_name || i->ifa_addr == nullptr) continue;
    const auto addr = text_of(i->ifa_addr);
    if (!addr) continue;
    if (registrar::update::is_global_address(*addr)) {
      found = addr;
      break;
    }
    skipped.push_back(*addr);
  }
  freeifaddrs(list);
  if (found) return {found, {}};
  if (names.count(interface) == 0) {
    return {std::nullopt, "no interface '" + interface +
                              "' (there are: " + join({names.begin(), names.end()}) + ")"};
  }
  return {std::nullopt,
          "interface '" + interface + "' has no global address (only " + join(skipped) + ")"};
}

}  // namespace pweb::updater
