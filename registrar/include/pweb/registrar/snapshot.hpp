#pragma once
// The immutable in-memory view of the registered devices that the DNS path reads.
// Built whole, published by swapping a shared_ptr; never modified after build.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/huge_page_allocator.hpp"
#include "pweb/registrar/device.hpp"

namespace pweb::registrar {

class Snapshot {
 public:
  // What exists at a name: a device with addresses, or an interior name
  // (`user.agent`, `agent`) that exists only because devices sit below it.
  struct Entry {
    std::uint8_t name_size;
    std::uint8_t flags;
    Ipv4 v4;
    Ipv6 v6;

    [[nodiscard]] bool is_device() const noexcept { return (flags & kDevice) != 0; }
    [[nodiscard]] bool has_v4() const noexcept { return (flags & kHasV4) != 0; }
    [[nodiscard]] bool has_v6() const noexcept { return (flags & kHasV6) != 0; }
  };
  static constexpr std::uint8_t kDevice = 1;
  static constexpr std::uint8_t kHasV4 = 2;
  static constexpr std::uint8_t kHasV6 = 4;

  // Records must already be valid and lowercase (the store guarantees it).
  static std::shared_ptr<const Snapshot> build(std::span<const DeviceRecord> records,
                                               std::uint32_t serial);

  // `key` is lowercase and dotted, relative to the zone: "laptop.alice.uw".
  [[nodiscard]] const Entry* find(std::string_view key) const noexcept;

  [[nodiscard]] std::uint32_t serial() const noexcept { return serial_; }
  [[nodiscard]] std::size_t device_count() const noexcept { return devices_; }
  [[nodiscard]] std::size_t memory_bytes() const noexcept;

 private:
  Snapshot() = default;
  void insert(std::string_view key, const Entry& proto);
  void grow();
  [[nodiscard]] Entry* entry_at(std::uint64_t slot) noexcept;
  [[nodiscard]] const Entry* entry_at(std::uint64_t slot) const noexcept;
  [[nodiscard]] static std::string_view name_of(const Entry& e) noexcept {
    return {reinterpret_cast<const char*>(&e + 1), e.name_size};
  }

  // Each entry is followed by its key's bytes, so a lookup touches one slot and
  // one place in the arena: two cache misses, not three.
  std::vector<std::uint8_t, HugePageAllocator<std::uint8_t>> arena_;
  std::size_t entries_ = 0;
  // Open addressing, linear probing; a slot is (hash high bits << 32 | arena offset + 1),
  // so most mismatches are rejected without touching the arena.
  std::vector<std::uint64_t, HugePageAllocator<std::uint64_t>> slots_;
  std::uint64_t mask_ = 0;
  std::uint32_t serial_ = 0;
  std::size_t devices_ = 0;
};

// Where writers publish snapshots and readers pick them up. Readers keep their own
// copy (SnapshotReader) and only reload when the version moves, so the DNS path
// touches no shared cache line that writers write on every query.
class SnapshotHolder {
 public:
  explicit SnapshotHolder(std::shared_ptr<const Snapshot> initial);
  void publish(std::shared_ptr<const Snapshot> next);
  [[nodiscard]] std::shared_ptr<const Snapshot> current() const;
  [[nodiscard]] std::uint64_t version() const noexcept {
    return version_.load(std::memory_order_acquire);
  }

 private:
  std::atomic<std::shared_ptr<const Snapshot>> current_;
  std::atomic<std::uint64_t> version_{1};
};

// One per DNS worker thread.
class SnapshotReader {
 public:
  explicit SnapshotReader(const SnapshotHolder& holder)
      : holder_(holder), cached_(holder.current()), version_(holder.version()) {}

  const Snapshot& get() {
    const auto v = holder_.version();
    if (v != version_) {
      cached_ = holder_.current();
      version_ = v;
    }
    return *cached_;
  }

 private:
  const SnapshotHolder& holder_;
  std::shared_ptr<const Snapshot> cached_;
  std::uint64_t version_;
};

}  // namespace pweb::registrar
