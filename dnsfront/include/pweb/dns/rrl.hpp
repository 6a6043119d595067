#pragma once
// Response rate limiting (after BIND and NSD RRL): a node must not be a cheap
// amplifier for spoofed-source floods. Responses are counted per client prefix
// and kind of response in token buckets; over the limit, every `slip`-th
// response goes out truncated (a real client retries over TCP, a victim gets a
// tiny packet) and the rest are dropped. Pure: no sockets, no clock of its own.
#include <array>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

namespace pweb::dns {

struct RrlConfig {
  std::uint32_t responses_per_second = 0;  // per prefix and kind; 0 = off
  std::uint32_t slip = 2;                  // 0: drop all over the limit; 1: truncate all
  std::uint8_t ipv4_prefix = 24;
  std::uint8_t ipv6_prefix = 56;
  std::size_t table_entries = 1 << 16;  // buckets kept; older ones are reused
};

enum class RrlAction : std::uint8_t { send, slip, drop };

// What a response is, for counting: answers per name and type, every negative
// answer of a prefix together (random-name floods), errors together.
enum class RrlKind : std::uint8_t { answer, negative, error };

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RrlConfig config);

  [[nodiscard]] bool enabled() const noexcept { return config_.responses_per_second != 0; }

  // `address`: 4 or 16 bytes of the client's address. `name_hash`: of the
  // lowercase qname and qtype, for RrlKind::answer (ignored otherwise).
  RrlAction check(std::span<const std::uint8_t> address, RrlKind kind, std::uint64_t name_hash,
                  Clock::time_point now) noexcept;

  [[nodiscard]] std::uint64_t slipped() const noexcept { return slipped_; }
  [[nodiscard]] std::uint64_t dropped() const noexcept { return dropped_; }

 private:
  struct Bucket {
    std::uint64_t key = 0;
    std::int64_t last_ms = 0;  // last refill, ms on the caller's clock
    std::int32_t tokens = 0;
    std::uint32_t over = 0;  // responses over the limit since it was last under
  };
  RrlConfig config_;
  std::vector<Bucket> table_;
  std::uint64_t slipped_ = 0, dropped_ = 0;
};

// The kind of an encoded response, and a hash of its question for RrlKind::answer.
RrlKind rrl_kind(std::span<const std::uint8_t> response) noexcept;
std::uint64_t question_hash(std::span<const std::uint8_t> response) noexcept;

// Cuts a response down to its header and question with TC set and no records,
// the "slip" answer. Returns the new size, or 0 if `msg` is not a response
// with one readable question.
std::size_t truncate_to_question(std::span<std::uint8_t> msg) noexcept;

}  // namespace pweb::dns
