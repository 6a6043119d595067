#include "pweb/registrar/snapshot.hpp"

#include <bit>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <type_traits>

namespace pweb::registrar {
static_assert(alignof(Snapshot::Entry) == 1 && std::is_trivially_copyable_v<Snapshot::Entry>);

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
  std::size_t bytes = 0;
  for (const auto& r : records) bytes += sizeof(Entry) + r.name.size();
  snap->arena_.reserve(bytes + bytes / 8 + 64);

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
  snap->arena_.shrink_to_fit();
  return snap;
}

void Snapshot::insert(std::string_view key, const Entry& proto) {
  if (key.size() > 255) throw std::invalid_argument("snapshot key longer than 255");
  const std::uint64_t h = hash_key(key);
  const std::uint64_t tag = h & 0xFFFFFFFF00000000ULL;
  for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const std::uint64_t slot = slots_[i];
    if (slot == 0) {
      if ((entries_ + 1) * 2 > slots_.size()) {
        grow();
        insert(key, proto);
        return;
      }
      const std::size_t at = arena_.size();
      if (at >= 0xFFFFFFFFULL) throw std::length_error("snapshot arena full");
      Entry e = proto;
      e.name_size = static_cast<std::uint8_t>(key.size());
      arena_.resize(at + sizeof(Entry) + key.size());
      std::memcpy(arena_.data() + at, &e, sizeof(Entry));
      std::memcpy(arena_.data() + at + sizeof(Entry), key.data(), key.size());
      ++entries_;
      slots_[i] = tag | (at + 1);
      return;
    }
    if ((slot & 0xFFFFFFFF00000000ULL) == tag) {
      Entry* existing = entry_at(slot);
      if (name_of(*existing) == key) {
        // A device wins over an interior name of the same spelling; a later
        // duplicate device replaces an earlier one.
        if (proto.is_device()) {
          Entry e = proto;
          e.name_size = existing->name_size;
          std::memcpy(static_cast<void*>(existing), &e, sizeof(Entry));
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
      const Entry* e = entry_at(slot);
      if (name_of(*e) == key) return e;
    }
  }
}

// Doubles the table, keeping the load factor at most 1/2 when names outnumber the
// estimate (many distinct users and agents).
void Snapshot::grow() {
  decltype(slots_) old(slots_.size() * 2, 0);
  old.swap(slots_);
  mask_ = slots_.size() - 1;
  for (const std::uint64_t slot : old) {
    if (slot == 0) continue;
    const std::uint64_t h = hash_key(name_of(*entry_at(slot)));
    std::uint64_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = slot;
  }
}

// Entries are trivially copyable with alignment 1, so an arena position holds one.
Snapshot::Entry* Snapshot::entry_at(std::uint64_t slot) noexcept {
  return reinterpret_cast<Entry*>(arena_.data() + ((slot & 0xFFFFFFFFULL) - 1));
}

const Snapshot::Entry* Snapshot::entry_at(std::uint64_t slot) const noexcept {
  return reinterpret_cast<const Entry*>(arena_.data() + ((slot & 0xFFFFFFFFULL) - 1));
}

std::size_t Snapshot::memory_bytes() const noexcept {
  return arena_.capacity() + slots_.capacity() * sizeof(std::uint64_t) + sizeof(*this);
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
