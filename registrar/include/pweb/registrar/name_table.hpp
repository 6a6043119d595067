#pragma once
// An immutable open-addressing hash table from lowercase dotted names
// ("laptop.alice.uw") to what exists there. Built once, then only read.
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pweb/huge_page_allocator.hpp"
#include "pweb/registrar/device.hpp"

namespace pweb::registrar {

// What the DNS path reads at and below a device besides its addresses. Only
// devices with a TTL of their own or with RRsets have one: the rest pay nothing.
struct DeviceZone {
  std::uint32_t ttl = 0;      // of the addresses; 0: the node's
  std::vector<RRset> rrsets;  // sorted by (subname, type)
};

// What exists at a name: a device with addresses, an interior name (`user.agent`,
// `agent`) that exists only because devices sit below it, or (in a delta table)
// a tombstone saying the name is gone.
struct NameEntry {
  std::uint8_t name_size = 0;
  std::uint8_t flags = 0;
  Ipv4 v4{};
  Ipv6 v6{};
  // A `const DeviceZone*` as bytes (entries have alignment 1 in the arena); the
  // table holding the entry keeps the zone alive.
  std::array<std::uint8_t, sizeof(void*)> zone_bytes{};

  static constexpr std::uint8_t kDevice = 1;
  static constexpr std::uint8_t kHasV4 = 2;
  static constexpr std::uint8_t kHasV6 = 4;
  static constexpr std::uint8_t kTombstone = 8;
  static constexpr std::uint8_t kHasZone = 16;

  [[nodiscard]] bool is_device() const noexcept { return (flags & kDevice) != 0; }
  [[nodiscard]] bool has_v4() const noexcept { return (flags & kHasV4) != 0; }
  [[nodiscard]] bool has_v6() const noexcept { return (flags & kHasV6) != 0; }
  [[nodiscard]] bool is_tombstone() const noexcept { return (flags & kTombstone) != 0; }
  [[nodiscard]] const DeviceZone* zone() const noexcept {
    if ((flags & kHasZone) == 0) return nullptr;
    const DeviceZone* z = nullptr;
    std::memcpy(static_cast<void*>(&z), zone_bytes.data(), sizeof z);
    return z;
  }

  static NameEntry device(const std::optional<Ipv4>& v4, const std::optional<Ipv6>& v6) noexcept;
  static NameEntry interior() noexcept { return {}; }
  static NameEntry tombstone() noexcept {
    NameEntry e;
    e.flags = kTombstone;
    return e;
  }
};

class NameTable {
 public:
  explicit NameTable(std::size_t expected_names);

  // `merge`: a device or tombstone replaces whatever is there, an interior entry
  // never replaces an existing one (building from devices). `replace`: the new
  // entry always wins (applying changes).
  enum class Mode { merge, replace };
  // `zone`: the device's zone, kept alive by this table and pointed to by the entry.
  void insert(std::string_view key, const NameEntry& entry, Mode mode = Mode::merge,
              const std::shared_ptr<const DeviceZone>& zone = nullptr);
  // The owner of an entry's zone (to carry it into another table), or null.
  [[nodiscard]] std::shared_ptr<const DeviceZone> zone_owner(const NameEntry& e) const;
  [[nodiscard]] const NameEntry* find(std::string_view key) const noexcept;

  // Every entry, in insertion order.
  void for_each(const std::function<void(std::string_view, const NameEntry&)>& fn) const;
  [[nodiscard]] std::size_t size() const noexcept { return entries_; }
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  void shrink() { arena_.shrink_to_fit(); }

 private:
  void grow();
  [[nodiscard]] NameEntry* entry_at(std::uint64_t slot) noexcept;
  [[nodiscard]] const NameEntry* entry_at(std::uint64_t slot) const noexcept;
  [[nodiscard]] static std::string_view name_of(const NameEntry& e) noexcept {
    return {reinterpret_cast<const char*>(&e + 1), e.name_size};
  }

  // Each entry is followed by its key's bytes, so a lookup touches one slot and
  // one place in the arena: two cache misses, not three.
  std::vector<std::uint8_t, HugePageAllocator<std::uint8_t>> arena_;
  std::size_t entries_ = 0;
  // Linear probing; a slot is (hash high bits << 32 | arena offset + 1), so most
  // mismatches are rejected without touching the arena.
  std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>> slots_;
  std::uint64_t mask_ = 0;
  std::unordered_map<const DeviceZone*, std::shared_ptr<const DeviceZone>> zones_;
};

}  // namespace pweb::registrar
