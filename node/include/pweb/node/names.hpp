#pragma once
// Names as the gateway protocol and the REST API receive them: with or without
// a served suffix, any letter case, perhaps a trailing dot.
#include <string>
#include <string_view>
#include <vector>

namespace pweb::node {

struct KeyResult {
  std::string key;    // "laptop.alice.uw" when valid
  std::string error;  // otherwise why not
};

// `zones` as configured ("dht." or "dht"); the longest that matches is removed.
KeyResult device_key(std::string_view name, const std::vector<std::string>& zones);

// A device name or a name below one ("_acme-challenge.laptop.alice.uw", "*.laptop.alice.uw"),
// as the gateway protocol v3 and the HTTP resolve API take them: a served
// suffix is removed when at least a device name remains; the labels below the
// device are only checked for size here (the lookup judges them).
KeyResult record_key(std::string_view name, const std::vector<std::string>& zones);

}  // namespace pweb::node
