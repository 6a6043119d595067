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

}  // namespace pweb::node
