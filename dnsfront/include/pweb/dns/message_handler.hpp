#pragma once
// Messages the lock-free query path does not answer itself: RFC 2136 UPDATEs and
// TSIG-signed queries. They need keys and the writer; the node provides them.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace pweb::dns {

enum class Transport : std::uint8_t;

class SignedMessageHandler {
 public:
  virtual ~SignedMessageHandler() = default;
  // `message`: the whole DNS message; `client`: the peer's address (a token may
  // be limited to subnets); `max_size`: the largest response the transport takes.
  // `done` runs exactly once, on any thread, with the response (empty: send
  // nothing); it must not block.
  using Done = std::function<void(std::vector<std::uint8_t>)>;
  virtual void handle(std::vector<std::uint8_t> message, Transport transport,
                      const std::string& client, std::size_t max_size, Done done) = 0;
};

}  // namespace pweb::dns
