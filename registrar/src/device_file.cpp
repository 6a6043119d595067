#include "pweb/registrar/device_file.hpp"

#include <sstream>

#include "pweb/registrar/names.hpp"

namespace pweb::registrar {

DeviceFileResult parse_device_file(std::istream& in, std::int64_t now) {
  DeviceFileResult out;
  std::string line;
  std::size_t lineno = 0;
  auto fail = [&](const std::string& why) {
    out.records.clear();
    out.error = "line " + std::to_string(lineno) + ": " + why;
    return out;
  };
  while (std::getline(in, line)) {
    ++lineno;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string name;
    if (!(fields >> name)) continue;
    auto parsed = parse_device_name(name);
    if (!parsed.name) return fail(parsed.error);
    DeviceRecord rec;
    rec.name = parsed.name->full();
    rec.updated = now;
    std::string addr;
    while (fields >> addr) {
      if (addr == "-") continue;
      // The one address rule, as for /nic/update and the JSON API.
      const auto a = parse_device_address(addr);
      if (!a.error.empty()) return fail(a.error);
      if (a.v4) {
        if (rec.ipv4) return fail("two IPv4 addresses for " + rec.name);
        rec.ipv4 = a.v4;
      } else {
        if (rec.ipv6) return fail("two IPv6 addresses for " + rec.name);
        rec.ipv6 = a.v6;
      }
    }
    out.records.push_back(std::move(rec));
  }
  return out;
}

}  // namespace pweb::registrar
