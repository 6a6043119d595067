#include "pweb/dns/remote.hpp"

namespace pweb::dns {

const RemoteAnswer* RemoteCache::find(std::string_view key, Clock::time_point now,
                                      std::uint32_t& ttl) const {
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.expires <= now) return nullptr;
  const auto left = std::chrono::ceil<std::chrono::seconds>(it->second.expires - now).count();
  ttl = static_cast<std::uint32_t>(left);
  return &it->second.answer;
}

void RemoteCache::insert(std::string key, const RemoteAnswer& answer, Clock::time_point now) {
  if (answer.ttl == 0 || max_entries_ == 0) return;
  if (entries_.size() >= max_entries_ && entries_.find(key) == entries_.end()) make_room(now);
  entries_.insert_or_assign(std::move(key), Slot{answer, now + std::chrono::seconds(answer.ttl)});
}

void RemoteCache::make_room(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& kv) { return kv.second.expires <= now; });
  if (entries_.size() < max_entries_) return;
  std::size_t drop = entries_.size() / 2 + 1;
  for (auto it = entries_.begin(); it != entries_.end() && drop > 0; --drop) {
    it = entries_.erase(it);
  }
}

}  // namespace pweb::dns
