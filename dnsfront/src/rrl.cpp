#include "pweb/dns/rrl.hpp"

#include <algorithm>

namespace pweb::dns {
namespace {

// 64-bit mix (splitmix64 finaliser): spreads prefixes and kinds over the table.
constexpr std::uint64_t mix(std::uint64_t x) noexcept {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

std::uint64_t prefix_hash(std::span<const std::uint8_t> address, unsigned bits) noexcept {
  std::uint64_t h = address.size();
  const unsigned whole = std::min<unsigned>(bits / 8, static_cast<unsigned>(address.size()));
  for (unsigned i = 0; i < whole; ++i) h = mix(h ^ (std::uint64_t{address[i]} << 8) ^ i);
  const unsigned rest = bits % 8;
  if (rest != 0 && whole < address.size()) {
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    h = mix(h ^ (std::uint64_t{static_cast<std::uint8_t>(address[whole] & mask)} << 8) ^ whole);
  }
  return h;
}

}  // namespace

RateLimiter::RateLimiter(RrlConfig config)
    : config_(config),
      table_(config.responses_per_second ? std::max<std::size_t>(config.table_entries, 1) : 0) {}

RrlAction RateLimiter::check(std::span<const std::uint8_t> address, RrlKind kind,
                             std::uint64_t name_hash, Clock::time_point now) noexcept {
  if (!enabled()) return RrlAction::send;
  const unsigned bits = address.size() == 4 ? config_.ipv4_prefix : config_.ipv6_prefix;
  std::uint64_t key =
      mix(prefix_hash(address, bits) ^ (std::uint64_t{1} + static_cast<std::uint8_t>(kind)));
  if (kind == RrlKind::answer) key = mix(key ^ name_hash);
  key |= 1;  // 0 marks an empty bucket
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const auto rate = static_cast<std::int64_t>(config_.responses_per_second);
  Bucket& b = table_[key % table_.size()];
  if (b.key != key) {
    // A new key takes the slot with a full bucket; two busy keys sharing a slot
    // (rare in a large table) would refill each other, so the table is large.
    b = Bucket{key, now_ms, static_cast<std::int32_t>(rate), 0};
  } else if (now_ms > b.last_ms) {
    // Refill at `rate` per second, at most one second's worth (the burst).
    const auto refill = (now_ms - b.last_ms) * rate / 1000;
    if (refill > 0) {
      b.tokens = static_cast<std::int32_t>(std::min<std::int64_t>(rate, b.tokens + refill));
      b.last_ms = now_ms;
    }
  }
  if (b.tokens > 0) {
    --b.tokens;
    b.over = 0;
    return RrlAction::send;
  }
  ++b.over;
  if (config_.slip != 0 && b.over % config_.slip == 0) {
    ++slipped_;
    return RrlAction::slip;
  }
  ++dropped_;
  return RrlAction::drop;
}

RrlKind rrl_kind(std::span<const std::uint8_t> response) noexcept {
  if (response.size() < 12) return RrlKind::error;
  const unsigned rcode = response[3] & 0x0f;
  const unsigned ancount = (unsigned{response[6]} << 8) | response[7];
  if (rcode == 0 && ancount > 0) return RrlKind::answer;
  if (rcode == 0 || rcode == 3) return RrlKind::negative;
  return RrlKind::error;
}

std::uint64_t question_hash(std::span<const std::uint8_t> response) noexcept {
  // FNV-1a over the question (name, type, class), letters folded: 0x20 case
  // games do not make a new key.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const std::size_t end = std::min<std::size_t>(response.size(), 12 + 255 + 4);
  for (std::size_t i = 12; i < end; ++i) {
    std::uint8_t c = response[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<std::uint8_t>(c + 32);
    h = (h ^ c) * 0x100000001b3ULL;
  }
  return h;
}

std::size_t truncate_to_question(std::span<std::uint8_t> msg) noexcept {
  constexpr std::size_t kHeader = 12;
  if (msg.size() < kHeader) return 0;
  if ((msg[2] & 0x80) == 0) return 0;  // not a response
  const unsigned qdcount = (unsigned{msg[4]} << 8) | msg[5];
  if (qdcount != 1) return 0;
  std::size_t pos = kHeader;
  // The question's name is never compressed in our responses: plain labels to the root.
  for (;;) {
    if (pos >= msg.size()) return 0;
    const std::uint8_t len = msg[pos];
    if (len == 0) break;
    if (len > 63) return 0;
    pos += std::size_t{len} + 1;
  }
  const std::size_t end = pos + 1 + 4;  // root byte, type, class
  if (end > msg.size()) return 0;
  msg[2] |= 0x02;                                        // TC
  for (std::size_t i = 6; i < kHeader; ++i) msg[i] = 0;  // no answer, authority, additional
  return end;
}

}  // namespace pweb::dns
