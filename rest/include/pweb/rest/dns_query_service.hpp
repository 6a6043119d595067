#pragma once
// What DNS over HTTPS (RFC 8484) asks of the node: the answer to one DNS
// message, from the same transport-independent path as UDP and TCP.
// Implemented by the node.
#include <cstdint>
#include <span>
#include <vector>

namespace pweb::rest {

class DnsQueryService {
 public:
  virtual ~DnsQueryService() = default;
  // The response to `query` (wire format, at most 65535 bytes), or empty when
  // the message deserves none (too short for a header, or itself a response).
  // Blocks the calling HTTP worker for at most the node's --timeout (another
  // agent's name is asked of that agent).
  [[nodiscard]] virtual std::vector<std::uint8_t> answer(std::span<const std::uint8_t> query) = 0;
};

}  // namespace pweb::rest
