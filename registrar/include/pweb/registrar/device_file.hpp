#pragma once
// The text format of `pweb-node device import`: one device per line,
// `NAME [ADDR|-] [ADDR|-]` where each ADDR is an IPv4 or IPv6 address (at most
// one of each); `#` starts a comment; blank lines are skipped.
#include <istream>
#include <string>
#include <vector>

#include "pweb/registrar/device.hpp"

namespace pweb::registrar {

struct DeviceFileResult {
  std::vector<DeviceRecord> records;
  std::string error;  // "line N: ..." on the first bad line; records is then empty
};

DeviceFileResult parse_device_file(std::istream& in, std::int64_t now);

}  // namespace pweb::registrar
