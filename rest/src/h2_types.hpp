#pragma once
// What an HTTP/2 connection (h2_connection.hpp) asks of its handler, and its limits.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "bounded_stream.hpp"

namespace pweb::rest {

struct H2Request {
  std::string method;
  std::string path;  // with its query part
  std::string content_type;
  std::string body;
};

struct H2Response {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string cache_control;  // empty: none
  std::string allow;          // empty: none
};

// nullopt: not served over HTTP/2 (the stream is reset with HTTP_1_1_REQUIRED).
using H2Handler = std::function<std::optional<H2Response>(const H2Request&)>;

struct H2Limits {
  RequestLimits request;
  std::uint32_t max_concurrent_streams = 100;
  std::size_t max_header_fields = 100;
};

}  // namespace pweb::rest
