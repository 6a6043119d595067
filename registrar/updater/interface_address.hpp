#pragma once
// The first global address of a network interface (getifaddrs), for --ip if:NAME.
#include <optional>
#include <string>

namespace pweb::updater {

struct InterfaceAddress {
  std::optional<std::string> address;  // normalized
  std::string error;                   // why there is none
};

InterfaceAddress first_global_address(const std::string& interface);

}  // namespace pweb::updater
