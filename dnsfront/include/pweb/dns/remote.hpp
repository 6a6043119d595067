#pragma once
// Names this node does not hold: the answer another agent gave, the resolver
// that fetches it (implemented by the node, asynchronous), and the per-worker
// cache the DNS path reads without locks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "pweb/dns/message.hpp"
#include "pweb/expiring_cache.hpp"
#include "pweb/registrar/name_table.hpp"

namespace pweb::dns {

struct RemoteAnswer {
  enum class Status : std::uint8_t { found, nxdomain, servfail };
  Status status = Status::servfail;
  registrar::NameEntry entry;  // a device entry when found
  std::uint32_t ttl = 0;       // how long it may be cached and served
  ExtendedError ede;           // why, for EDNS clients (e.g. a contested agent label)
};

class RemoteResolver {
 public:
  virtual ~RemoteResolver() = default;
  // `key` is lowercase and relative to the zone ("laptop.alice.uw"). `done` is
  // called exactly once, on any thread, within the resolver's timeout; it must
  // not block.
  virtual void resolve(std::string key, std::function<void(const RemoteAnswer&)> done) = 0;
};

// One per DNS worker, used by that worker's thread only: no locks. Bounded;
// when full, the oldest answers go first.
class RemoteCache {
 public:
  using Clock = ExpiringCache<RemoteAnswer>::Clock;
  explicit RemoteCache(std::size_t max_entries = 1 << 16) : cache_(max_entries) {}

  // The cached answer with its remaining TTL in `ttl`, or null if absent or expired.
  [[nodiscard]] const RemoteAnswer* find(std::string_view key, Clock::time_point now,
                                         std::uint32_t& ttl) const {
    return cache_.find(key, now, ttl);
  }
  void insert(std::string key, const RemoteAnswer& answer, Clock::time_point now) {
    cache_.insert(std::move(key), answer, answer.ttl, now);
  }
  [[nodiscard]] std::size_t size() const noexcept { return cache_.size(); }

 private:
  ExpiringCache<RemoteAnswer> cache_;
};

}  // namespace pweb::dns
