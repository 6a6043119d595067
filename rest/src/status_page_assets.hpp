#pragma once
// The status page's files (rest/status_page/), compiled into the binary.
#include <string_view>
#include <vector>

namespace pweb::rest {

struct Asset {
  std::string_view path;  // "/index.html", "/status.js", ...
  std::string_view body;
};

const std::vector<Asset>& status_page_assets();

}  // namespace pweb::rest
