#pragma once
// What an HTTP/2 connection (h2_connection.hpp) asks of its handler, and its limits.
#include <chrono>
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

// Makes a stream's response, on the connection's thread. nullopt: not served
// over HTTP/2 (the stream is reset with HTTP_1_1_REQUIRED).
using H2Finish = std::function<std::optional<H2Response>()>;
// Hands a stream what makes its response: once, from any thread.
using H2Reply = std::function<void(H2Finish)>;
// Takes a complete request (valid during the call only) and calls `reply`
// once: at once, or later from another thread, when what the answer waits
// for has come. The connection's other streams are served meanwhile.
using H2Handler = std::function<void(const H2Request&, H2Reply reply)>;

struct H2Limits {
  RequestLimits request;
  std::uint32_t max_concurrent_streams = 100;
  std::size_t max_header_fields = 100;
  // A handler that has not replied by then: the stream is answered 504.
  std::chrono::milliseconds answer_timeout{30000};
};

}  // namespace pweb::rest
