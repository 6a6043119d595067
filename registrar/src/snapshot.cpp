#include "pweb/registrar/snapshot.hpp"

#include <bit>
#include <functional>
#include <stdexcept>

namespace pweb::registrar {
namespace {

std::uint64_t hash_key(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }

}  // namespace

std::shared_ptr<const Snapshot> Snapshot::build(std::span<const DeviceRecord> records,
                                                std::uint32_t serial) {
  std::shared_ptr<Snapshot> snap(new Snapshot());
  snap->serial_ = serial;
  // Devices plus at most two interior names each; load factor at most 1/2.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, records.size() * 2 + 64));
  snap->slots_.assign(capacity, 0);
  snap->mask_ = capacity - 1;
  snap->entries_.reserve(records.size() + records.size() / 8 + 16);
  std::size_t name_bytes = 0;
  for (const auto& r : records) name_bytes += r.name.size();
  snap->names_.reserve(name_bytes + name_bytes / 8);

  for (const auto& r : records) {
    std::string_view name = r.name;
    Entry proto{};
    proto.flags = kDevice;
    if (r.ipv4) {
      proto.flags |= kHasV4;
      proto.v4 = *r.ipv4;
    }
    if (r.ipv6) {
      proto.flags |= kHasV6;
      proto.v6 = *r.ipv6;
    }
    snap->insert(name, proto);
    // Interior names: "alice.uw" and "uw" exist so that they answer NODATA.
    for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
      name.remove_prefix(dot + 1);
      snap->insert(name, Entry{});
    }
    ++snap->devices_;
  }
  snap->entries_.shrink_to_fit();
  snap->names_.shrink_to_fit();
  return snap;
}

void Snapshot::insert(std::string_view key, const Entry& proto) {
  if (key.size() > 255) throw std::invalid_argument("snapshot key longer than 255");
  const std::uint64_t h = hash_key(key);
  const std::uint64_t tag = h & 0xFFFFFFFF00000000ULL;
  for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const std::uint64_t slot = slots_[i];
    if (slot == 0) {
      if (entries_.size() * 2 >= slots_.size()) throw std::length_error("snapshot table full");
      Entry e = proto;
      e.name_offset = static_cast<std::uint32_t>(names_.size());
      e.name_size = static_cast<std::uint8_t>(key.size());
      names_.append(key);
      entries_.push_back(e);
      slots_[i] = tag | entries_.size();
      return;
    }
    if ((slot & 0xFFFFFFFF00000000ULL) == tag) {
      Entry& existing = entries_[(slot & 0xFFFFFFFFULL) - 1];
      if (name_of(existing) == key) {
        // A device wins over an interior name of the same spelling; a later
        // duplicate device replaces an earlier one.
        if (proto.is_device()) {
          const auto off = existing.name_offset;
          const auto size = existing.name_size;
          existing = proto;
          existing.name_offset = off;
          existing.name_size = size;
        }
        return;
      }
    }
  }
}

const Snapshot::Entry* Snapshot::find(std::string_view key) const noexcept {
  const std::uint64_t h = hash_key(key);
  const std::uint64_t tag = h & 0xFFFFFFFF00000000ULL;
  for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const std::uint64_t slot = slots_[i];
    if (slot == 0) return nullptr;
    if ((slot & 0xFFFFFFFF00000000ULL) == tag) {
      const Entry& e = entries_[(slot & 0xFFFFFFFFULL) - 1];
      if (name_of(e) == key) return &e;
    }
  }
}

std::size_t Snapshot::memory_bytes() const noexcept {
  return names_.capacity() + entries_.capacity() * sizeof(Entry) +
         slots_.capacity() * sizeof(std::uint64_t) + sizeof(*this);
}

SnapshotHolder::SnapshotHolder(std::shared_ptr<const Snapshot> initial)
    : current_(std::move(initial)) {}

void SnapshotHolder::publish(std::shared_ptr<const Snapshot> next) {
  current_.store(std::move(next), std::memory_order_release);
  version_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const Snapshot> SnapshotHolder::current() const {
  return current_.load(std::memory_order_acquire);
}

}  // namespace pweb::registrar
