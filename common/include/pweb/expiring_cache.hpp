#pragma once
// A bounded map from names to values that expire, for one thread (no locks).
// When full, the entry inserted longest ago goes first: with the TTLs of one
// cache alike, that is also the one closest to expiring, and recently fetched
// answers stay. Expired entries stay too, until evicted or replaced: they
// may be served stale (RFC 8767) by who asks with find_stale.
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace pweb {

template <typename V>
class ExpiringCache {
 public:
  using Clock = std::chrono::steady_clock;
  explicit ExpiringCache(std::size_t max_entries) : max_entries_(max_entries) {}

  // The live value for `key` with its remaining seconds, rounded up, in `ttl`;
  // null if absent or expired.
  [[nodiscard]] const V* find(std::string_view key, Clock::time_point now,
                              std::uint32_t& ttl) const {
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.expires <= now) return nullptr;
    ttl = static_cast<std::uint32_t>(
        std::chrono::ceil<std::chrono::seconds>(it->second.expires - now).count());
    return &it->second.value;
  }

  // The expired value for `key` if it expired at most `max_stale` ago, with how
  // long ago in `age`; null if absent, live, or expired longer ago.
  [[nodiscard]] const V* find_stale(std::string_view key, Clock::time_point now,
                                    Clock::duration max_stale, Clock::duration& age) const {
    const auto it = entries_.find(key);
    if (it == entries_.end() || it->second.expires > now) return nullptr;
    if (now - it->second.expires > max_stale) return nullptr;
    age = now - it->second.expires;
    return &it->second.value;
  }

  // A TTL of 0 caches nothing.
  void insert(std::string key, V value, std::uint32_t ttl, Clock::time_point now) {
    if (ttl == 0 || max_entries_ == 0) return;
    if (entries_.find(key) == entries_.end()) {
      while (entries_.size() >= max_entries_ && !order_.empty()) evict_oldest();
    }
    const std::uint64_t stamp = ++stamp_;
    order_.emplace_back(key, stamp);
    entries_.insert_or_assign(std::move(key),
                              Slot{std::move(value), now + std::chrono::seconds(ttl), stamp});
    if (order_.size() > 2 * max_entries_ + 16) compact();
  }

  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct Slot {
    V value;
    Clock::time_point expires;
    std::uint64_t stamp;  // which insertion this is, to tell stale order entries
  };

  void evict_oldest() {
    auto [key, stamp] = std::move(order_.front());
    order_.pop_front();
    const auto it = entries_.find(key);
    if (it != entries_.end() && it->second.stamp == stamp) entries_.erase(it);
  }

  // Re-inserted keys leave stale order entries behind; drop them now and then.
  void compact() {
    std::erase_if(order_, [this](const auto& o) {
      const auto it = entries_.find(o.first);
      return it == entries_.end() || it->second.stamp != o.second;
    });
  }

  std::size_t max_entries_;
  std::unordered_map<std::string, Slot, Hash, std::equal_to<>> entries_;
  std::deque<std::pair<std::string, std::uint64_t>> order_;  // oldest insertion first
  std::uint64_t stamp_ = 0;
};

}  // namespace pweb
