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

}  // namespace pweb::node
