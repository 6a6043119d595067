#include "pweb/registrar/name_table.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>
#include <type_traits>

namespace pweb::registrar {

static_assert(alignof(NameEntry) == 1 && std::is_trivially_copyable_v<NameEntry>);

namespace {
constexpr std::uint64_t kTagMask = 0xFFFFFFFF00000000ULL;
std::uint64_t hash_key(std::string_view key) noexcept { return std::hash<std::string_view>{}(key); }
}  // namespace

NameEntry NameEntry::device(const std::optional<Ipv4>& v4, const std::optional<Ipv6>& v6) noexcept {
  NameEntry e;
  e.flags = kDevice;
  if (v4) {
    e.flags |= kHasV4;
    e.v4 = *v4;
  }
  if (v6) {
    e.flags |= kHasV6;
    e.v6 = *v6;
  }
  return e;
}

NameTable::NameTable(std::size_t expected_names) {
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, expected_names * 2 + 16));
  slots_.assign(capacity, 0);
  mask_ = capacity - 1;
  arena_.reserve(expected_names * (sizeof(NameEntry) + 16));
}

std::shared_ptr<const DeviceZone> NameTable::zone_owner(const NameEntry& e) const {
  const auto* z = e.zone();
  if (!z) return nullptr;
  const auto it = zones_.find(z);
  return it == zones_.end() ? nullptr : it->second;
}

void NameTable::insert(std::string_view key, const NameEntry& in, Mode mode,
                       const std::shared_ptr<const DeviceZone>& zone) {
  if (key.size() > 255) throw std::invalid_argument("name table key longer than 255");
  NameEntry entry = in;
  if (zone) {
    const DeviceZone* raw = zone.get();
    std::memcpy(entry.zone_bytes.data(), static_cast<const void*>(&raw), sizeof raw);
    entry.flags |= NameEntry::kHasZone;
    zones_.emplace(raw, zone);
  } else {
    entry.flags &= static_cast<std::uint8_t>(~NameEntry::kHasZone);
  }
  const std::uint64_t h = hash_key(key);
  const std::uint64_t tag = h & kTagMask;
  for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const std::uint64_t slot = slots_[i];
    if (slot == 0) {
      if ((entries_ + 1) * 2 > slots_.size()) {
        grow();
        insert(key, in, mode, zone);
        return;
      }
      const std::size_t at = arena_.size();
      if (at >= 0xFFFFFFFFULL) throw std::length_error("name table arena full");
      NameEntry e = entry;
      e.name_size = static_cast<std::uint8_t>(key.size());
      arena_.resize(at + sizeof(NameEntry) + key.size());
      std::memcpy(arena_.data() + at, &e, sizeof(NameEntry));
      std::memcpy(arena_.data() + at + sizeof(NameEntry), key.data(), key.size());
      ++entries_;
      slots_[i] = tag | (at + 1);
      return;
    }
    if ((slot & kTagMask) == tag) {
      NameEntry* existing = entry_at(slot);
      if (name_of(*existing) == key) {
        if (mode == Mode::replace || entry.is_device() || entry.is_tombstone()) {
          NameEntry e = entry;
          e.name_size = existing->name_size;
          std::memcpy(static_cast<void*>(existing), &e, sizeof(NameEntry));
        }
        return;
      }
    }
  }
}

const NameEntry* NameTable::find(std::string_view key) const noexcept {
  const std::uint64_t h = hash_key(key);
  const std::uint64_t tag = h & kTagMask;
  for (std::uint64_t i = h & mask_;; i = (i + 1) & mask_) {
    const std::uint64_t slot = slots_[i];
    if (slot == 0) return nullptr;
    if ((slot & kTagMask) == tag) {
      const NameEntry* e = entry_at(slot);
      if (name_of(*e) == key) return e;
    }
  }
}

void NameTable::for_each(const std::function<void(std::string_view, const NameEntry&)>& fn) const {
  for (std::size_t at = 0; at < arena_.size();) {
    NameEntry e;
    std::memcpy(&e, arena_.data() + at, sizeof(NameEntry));
    fn({reinterpret_cast<const char*>(arena_.data() + at + sizeof(NameEntry)), e.name_size}, e);
    at += sizeof(NameEntry) + e.name_size;
  }
}

// Doubles the table, keeping the load factor at most 1/2.
void NameTable::grow() {
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
NameEntry* NameTable::entry_at(std::uint64_t slot) noexcept {
  return reinterpret_cast<NameEntry*>(arena_.data() + ((slot & 0xFFFFFFFFULL) - 1));
}

const NameEntry* NameTable::entry_at(std::uint64_t slot) const noexcept {
  return reinterpret_cast<const NameEntry*>(arena_.data() + ((slot & 0xFFFFFFFFULL) - 1));
}

std::size_t NameTable::memory_bytes() const noexcept {
  return arena_.capacity() + slots_.capacity() * sizeof(std::uint64_t) + sizeof(*this);
}

}  // namespace pweb::registrar
