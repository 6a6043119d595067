#pragma once
// The immutable in-memory view of the registered devices that the DNS path reads.
// Built whole, published by swapping a shared_ptr; never modified after build.
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pweb/registrar/device.hpp"
#include "pweb/registrar/name_table.hpp"

namespace pweb::registrar {

class Snapshot {
 public:
  using Entry = NameEntry;

  // Records must already be valid and lowercase (the store guarantees it).
  // The zone a device record needs in a snapshot, or null when it has nothing
  // but addresses.
  static std::shared_ptr<const DeviceZone> zone_of(const DeviceRecord& r);
  static std::shared_ptr<const Snapshot> build(std::span<const DeviceRecord> records,
                                               std::uint32_t serial);

  // A new snapshot with `changes` applied (an entry, or a tombstone to remove a
  // name). Cheap: changes go to a small delta table that is merged into the base
  // only when it grows past a fraction of it, so one update does not copy
  // every device.
  struct Change {
    Change(std::string k, const NameEntry& e, std::shared_ptr<const DeviceZone> z = nullptr)
        : key(std::move(k)), entry(e), zone(std::move(z)) {}
    std::string key;
    NameEntry entry;
    std::shared_ptr<const DeviceZone> zone;  // a device's RRsets and TTL, if any
  };
  [[nodiscard]] std::shared_ptr<const Snapshot> with_changes(std::span<const Change> changes,
                                                             std::size_t device_count,
                                                             std::uint32_t serial) const;

  // `key` is lowercase and dotted, relative to the zone: "laptop.alice.uw".
  [[nodiscard]] const Entry* find(std::string_view key) const noexcept {
    if (delta_) {
      if (const Entry* e = delta_->find(key)) return e->is_tombstone() ? nullptr : e;
    }
    return base_->find(key);
  }

  [[nodiscard]] std::uint32_t serial() const noexcept { return serial_; }
  [[nodiscard]] std::size_t device_count() const noexcept { return devices_; }
  [[nodiscard]] std::size_t memory_bytes() const noexcept;
  [[nodiscard]] std::size_t delta_size() const noexcept { return delta_ ? delta_->size() : 0; }

 private:
  Snapshot() = default;

  std::shared_ptr<const NameTable> base_;
  std::shared_ptr<const NameTable> delta_;  // null when empty
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
