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
      if (auto v4 = parse_ipv4(addr)) {
        if (rec.ipv4) return fail("two IPv4 addresses for " + rec.name);
        rec.ipv4 = v4;
      } else if (auto v6 = parse_ipv6(addr)) {
        if (rec.ipv6) return fail("two IPv6 addresses for " + rec.name);
        rec.ipv6 = v6;
      } else {
        return fail("'" + addr + "' is not an IPv4 or IPv6 address");
      }
    }
    out.records.push_back(std::move(rec));
  }
  return out;
}

}  // namespace pweb::registrar
