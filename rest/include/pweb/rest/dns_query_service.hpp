#pragma once
// What DNS over HTTPS (RFC 8484) asks of the node: the answer to one DNS
// message, from the same transport-independent path as UDP and TCP.
// Implemented by the node.
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace pweb::rest {

// Makes the response (as DnsQueryService::answer returns it) on the thread
// that serves the connection, so that signing and the like happen there.
using DnsAnswerFinish = std::function<std::vector<std::uint8_t>()>;

class DnsQueryService {
 public:
  virtual ~DnsQueryService() = default;
  // The response to `query` (wire format, at most 65535 bytes), or empty when
  // the message deserves none (too short for a header, or itself a response).
  // Blocks the calling HTTP worker for at most longest_wait() (another
  // agent's name is asked of that agent).
  [[nodiscard]] virtual std::vector<std::uint8_t> answer(std::span<const std::uint8_t> query) = 0;
  // The same without waiting, for connections that carry many queries at
  // once (HTTP/2): `done` is called exactly once with what makes the
  // response, at once when the node holds the answer, else from another
  // thread when the other agent answered or longest_wait() passed.
  virtual void answer_later(std::span<const std::uint8_t> query,
                            std::function<void(DnsAnswerFinish)> done) = 0;
  // The longest answer() and answer_later() take.
  [[nodiscard]] virtual std::chrono::milliseconds longest_wait() const = 0;
};

}  // namespace pweb::rest
