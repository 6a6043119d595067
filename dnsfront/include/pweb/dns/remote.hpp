#pragma once
// Names this node does not hold: the answer another agent gave, the resolver
// that fetches it (implemented by the node, asynchronous), and the per-worker
// cache the DNS path reads without locks.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "pweb/dns/message.hpp"
#include "pweb/expiring_cache.hpp"
#include "pweb/registrar/name_table.hpp"
#include "pweb/registrar/snapshot.hpp"
#include "pweb/rrset.hpp"

namespace pweb::dns {

// The answer to one question (name and type) about another agent's name.
struct RemoteAnswer {
  // nodata: the name exists, without records of that type.
  enum class Status : std::uint8_t { found, nxdomain, servfail, nodata };
  Status status = Status::servfail;
  // found: the device's addresses, as far as the answer told them (an
  // address question, or ANY); what is written when `rrset` is null.
  registrar::NameEntry entry;
  // found: the RRset to answer with (the type asked for, or a CNAME), owned
  // by the queried name; null for answers made of the entry's addresses.
  std::shared_ptr<const RRset> rrset;
  std::uint32_t ttl = 0;  // how long it may be cached and served
  ExtendedError ede;      // why, for EDNS clients (e.g. a contested agent label)
};

class RemoteResolver {
 public:
  virtual ~RemoteResolver() = default;
  // `key` is lowercase and relative to the zone ("laptop.alice.uw", or
  // "_acme-challenge.laptop.alice.uw"); `qtype` the question's type. `done` is
  // called exactly once, on any thread, within the resolver's timeout; it must
  // not block.
  virtual void resolve(std::string key, std::uint16_t qtype,
                       std::function<void(const RemoteAnswer&)> done) = 0;
};

// Answers are cached and awaited per name and type: "laptop.alice.uw/16"
// ('/' never occurs in a name key). Empty if `key` is too long to be a name.
std::string remote_cache_key(std::string_view key, std::uint16_t qtype);
// The name and type back from such a key; false if it is not one.
bool split_remote_cache_key(std::string_view cache_key, std::string& key, std::uint16_t& qtype);

class Authority;
// The answer this node gives about a name it holds (its own devices, and
// names below them), from the same lookup the DNS path makes: what the
// gateway server tells other agents (v3) and the HTTP resolve API shows.
// A name it does not hold is nxdomain: it is never asked of another agent.
RemoteAnswer answer_local(const Authority& authority, const registrar::Snapshot& snapshot,
                          std::string_view key, std::uint16_t qtype);

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
