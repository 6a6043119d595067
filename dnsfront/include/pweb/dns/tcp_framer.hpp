#pragma once
// Splits a DNS-over-TCP byte stream into messages (2-byte big-endian length
// prefix, RFC 1035 4.2.2). Pure: bytes in, complete messages out, so partial
// frames and pipelined queries are handled, and it can be fuzzed alone.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace pweb::dns {

class TcpFramer {
 public:
  // Room for at least `n` more bytes; read into it, then commit what arrived.
  std::span<std::uint8_t> prepare(std::size_t n);
  void commit(std::size_t n) noexcept;
  // The next complete message, valid until the next prepare(); nullopt if none yet.
  std::optional<std::span<const std::uint8_t>> next() noexcept;
  [[nodiscard]] std::size_t buffered() const noexcept { return end_ - start_; }

 private:
  std::vector<std::uint8_t> buf_;
  std::size_t start_ = 0;  // first unconsumed byte
  std::size_t end_ = 0;    // one past the last received byte
};

}  // namespace pweb::dns
