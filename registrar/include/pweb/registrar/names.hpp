#pragma once
// The name rules of DESIGN.md: a device name is `device.user.agent`; each label is
// 1-63 of a-z 0-9 -, case-insensitive, stored lowercase, no leading/trailing '-'.
#include <optional>
#include <string>
#include <string_view>

namespace pweb::registrar {

// nullopt if the label is valid; otherwise why not, naming the label.
std::optional<std::string> label_error(std::string_view label);

struct DeviceName {
  std::string device;
  std::string user;
  std::string agent;
  [[nodiscard]] std::string full() const { return device + "." + user + "." + agent; }
};

struct NameResult {
  std::optional<DeviceName> name;
  std::string error;  // set when name is empty
};

// Parses and lowercases `device.user.agent` (a trailing dot is accepted).
NameResult parse_device_name(std::string_view text);

std::string to_lower(std::string_view text);

}  // namespace pweb::registrar
