#include "pweb/registrar/names.hpp"

#include <vector>

namespace pweb::registrar {

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<std::string> label_error(std::string_view label) {
  const auto quoted = "label '" + std::string(label) + "'";
  if (label.empty()) return std::string("empty label");
  if (label.size() > 63) {
    return quoted + " is " + std::to_string(label.size()) + " characters long (at most 63)";
  }
  for (char c : label) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return quoted + " has a character other than a-z, 0-9 and '-'";
  }
  if (label.front() == '-' || label.back() == '-') {
    return quoted + " starts or ends with '-'";
  }
  return std::nullopt;
}

NameResult parse_device_name(std::string_view text) {
  if (!text.empty() && text.back() == '.') text.remove_suffix(1);
  std::vector<std::string_view> labels;
  std::size_t start = 0;
  for (;;) {
    const auto dot = text.find('.', start);
    labels.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (labels.size() != 3) {
    return {std::nullopt,
            "name '" + std::string(text) + "' must have three labels: device.user.agent"};
  }
  static constexpr const char* kRole[] = {"device", "user", "agent"};
  for (std::size_t i = 0; i < 3; ++i) {
    if (auto err = label_error(labels[i])) {
      return {std::nullopt, std::string(kRole[i]) + " " + *err + " in '" + std::string(text) + "'"};
    }
  }
  return {DeviceName{to_lower(labels[0]), to_lower(labels[1]), to_lower(labels[2])}, {}};
}

}  // namespace pweb::registrar
