#include "pweb/registrar/snapshot.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace pweb::registrar {
namespace {

// Merge the delta into the base once it holds this share of the base's names.
constexpr std::size_t kMinMergeSize = 1024;
constexpr std::size_t kMergeFraction = 8;

}  // namespace

std::shared_ptr<const DeviceZone> Snapshot::zone_of(const DeviceRecord& r) {
  if (r.ttl == 0 && r.rrsets.empty()) return nullptr;
  auto z = std::make_shared<DeviceZone>();
  z->ttl = r.ttl;
  z->rrsets = r.rrsets;
  return z;
}

std::shared_ptr<const Snapshot> Snapshot::build(std::span<const DeviceRecord> records,
                                                std::uint32_t serial) {
  auto table = std::make_shared<NameTable>(records.size() + records.size() / 8 + 16);
  for (const auto& r : records) {
    std::string_view name = r.name;
    table->insert(name, NameEntry::device(r.ipv4, r.ipv6), NameTable::Mode::merge, zone_of(r));
    // Interior names: "alice.uw" and "uw" exist so that they answer NODATA.
    for (auto dot = name.find('.'); dot != std::string_view::npos; dot = name.find('.')) {
      name.remove_prefix(dot + 1);
      table->insert(name, NameEntry::interior());
    }
  }
  table->shrink();
  std::shared_ptr<Snapshot> snap(new Snapshot());
  snap->base_ = std::move(table);
  snap->serial_ = serial;
  snap->devices_ = records.size();
  return snap;
}

std::shared_ptr<const Snapshot> Snapshot::with_changes(std::span<const Change> changes,
                                                       std::size_t device_count,
                                                       std::uint32_t serial) const {
  std::shared_ptr<Snapshot> snap(new Snapshot());
  snap->serial_ = serial;
  snap->devices_ = device_count;
  const std::size_t pending = delta_size() + changes.size();
  if (pending < std::max(kMinMergeSize, base_->size() / kMergeFraction)) {
    auto delta = std::make_shared<NameTable>(pending);
    if (delta_) {
      delta_->for_each([&](std::string_view k, const NameEntry& e) {
        delta->insert(k, e, NameTable::Mode::merge, delta_->zone_owner(e));
      });
    }
    // A change always wins, even an interior entry over a tombstone.
    for (const auto& c : changes) delta->insert(c.key, c.entry, NameTable::Mode::replace, c.zone);
    snap->base_ = base_;
    snap->delta_ = std::move(delta);
    return snap;
  }
  // Merge: the overlay (delta, then changes) wins over the base; tombstones vanish.
  std::unordered_map<std::string, std::pair<NameEntry, std::shared_ptr<const DeviceZone>>> overlay;
  overlay.reserve(pending);
  if (delta_) {
    delta_->for_each([&](std::string_view k, const NameEntry& e) {
      overlay[std::string(k)] = {e, delta_->zone_owner(e)};
    });
  }
  for (const auto& c : changes) overlay[c.key] = {c.entry, c.zone};
  auto base = std::make_shared<NameTable>(base_->size() + overlay.size());
  base_->for_each([&](std::string_view k, const NameEntry& e) {
    if (overlay.find(std::string(k)) == overlay.end()) {
      base->insert(k, e, NameTable::Mode::merge, base_->zone_owner(e));
    }
  });
  for (const auto& [key, v] : overlay) {
    if (!v.first.is_tombstone()) base->insert(key, v.first, NameTable::Mode::merge, v.second);
  }
  base->shrink();
  snap->base_ = std::move(base);
  return snap;
}

std::size_t Snapshot::memory_bytes() const noexcept {
  return base_->memory_bytes() + (delta_ ? delta_->memory_bytes() : 0) + sizeof(*this);
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
