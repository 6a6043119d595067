#include "pweb/node/names.hpp"

#include <algorithm>

#include "pweb/registrar/names.hpp"

namespace pweb::node {

KeyResult device_key(std::string_view name, const std::vector<std::string>& zones) {
  std::string lower = registrar::to_lower(name);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  // Three labels are a device name already, even if the last one equals a zone.
  const bool has_suffix = std::count(lower.begin(), lower.end(), '.') > 2;
  std::size_t best = 0;
  for (std::string zone : has_suffix ? zones : std::vector<std::string>{}) {
    zone = registrar::to_lower(zone);
    if (!zone.empty() && zone.back() == '.') zone.pop_back();
    if (zone.empty() || zone.size() + 1 >= lower.size() || zone.size() <= best) continue;
    const std::size_t at = lower.size() - zone.size();
    if (lower.compare(at, zone.size(), zone) == 0 && lower[at - 1] == '.') best = zone.size();
  }
  if (best != 0) lower.resize(lower.size() - best - 1);
  auto parsed = registrar::parse_device_name(lower);
  if (!parsed.name) return {"", parsed.error};
  return {parsed.name->full(), ""};
}

KeyResult record_key(std::string_view name, const std::vector<std::string>& zones) {
  std::string lower = registrar::to_lower(name);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  const auto dots = [](std::string_view s) { return std::count(s.begin(), s.end(), '.'); };
  std::size_t best = 0;
  for (std::string zone : zones) {
    zone = registrar::to_lower(zone);
    if (!zone.empty() && zone.back() == '.') zone.pop_back();
    if (zone.empty() || zone.size() + 1 >= lower.size() || zone.size() <= best) continue;
    const std::size_t at = lower.size() - zone.size();
    if (lower.compare(at, zone.size(), zone) != 0 || lower[at - 1] != '.') continue;
    if (dots(std::string_view(lower).substr(0, at - 1)) >= 2) best = zone.size();
  }
  if (best != 0) lower.resize(lower.size() - best - 1);
  if (lower.size() > 253) return {"", "name too long"};
  // The device: the last three labels.
  std::size_t at = lower.size();
  for (int i = 0; i < 3 && at != std::string::npos; ++i) {
    at = at == 0 ? std::string::npos : lower.rfind('.', at - 1);
  }
  const std::size_t device_at = at == std::string::npos ? 0 : at + 1;
  auto parsed = registrar::parse_device_name(std::string_view(lower).substr(device_at));
  if (!parsed.name) return {"", parsed.error};
  std::string key;
  if (device_at > 0) {
    const std::string_view below = std::string_view(lower).substr(0, device_at - 1);
    std::size_t start = 0;
    for (;;) {
      const auto dot = below.find('.', start);
      const auto label =
          below.substr(start, dot == std::string_view::npos ? below.npos : dot - start);
      if (label.empty() || label.size() > 63)
        return {"", "empty or too long label in '" + lower + "'"};
      if (dot == std::string_view::npos) break;
      start = dot + 1;
    }
    key.assign(below);
    key.push_back('.');
  }
  key += parsed.name->full();
  return {key, ""};
}

}  // namespace pweb::node
