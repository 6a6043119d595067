#pragma once
// The write path: device changes are queued, committed to the store in groups by one
// writer thread (one fsync for many updates), then published as a new snapshot
// for the DNS path, and only then acknowledged. Callers block until their
// changes are durable and visible, or have failed without effect.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pweb/lock_guarded.hpp"
#include "pweb/registrar/device.hpp"
#include "pweb/registrar/records.hpp"
#include "pweb/registrar/snapshot.hpp"
#include "pweb/registrar/store.hpp"

namespace pweb::registrar {

template <typename T>
struct FieldChange {
  enum class Kind { keep, set, clear };
  Kind kind = Kind::keep;
  T value{};
  static FieldChange set(T v) { return {Kind::set, v}; }
  static FieldChange clear() { return {Kind::clear, {}}; }
};

// An edit of an existing device's records, run by the writer thread on the
// device as stored (so prerequisites see what the edit changes); an error
// refuses the whole change.
using RecordEdit = std::function<std::optional<EditError>(DeviceRecord&)>;

struct DeviceChange {
  std::string name;  // valid, lowercase device.user.agent
  bool remove = false;
  FieldChange<Ipv4> ipv4;
  FieldChange<Ipv6> ipv6;
  std::optional<std::string> services;  // nullopt: keep
  std::optional<std::uint32_t> ttl;     // 0: the node's
  FieldChange<Ipv6> ipv6_iid;
  RecordEdit edit;  // only on a device that exists (else not_found)
};

enum class ChangeStatus { created, changed, unchanged, removed, not_found, refused, store_error };

struct ChangeResult {
  ChangeStatus status = ChangeStatus::store_error;
  DeviceRecord device;             // the device after the change (empty name if none)
  std::optional<EditError> error;  // why, when refused
};

struct RegistrarStats {
  std::uint64_t commits = 0;
  std::uint64_t changes = 0;
  std::uint64_t failed_commits = 0;
  // A shared store: catch-ups with other nodes' changes, devices (and removals)
  // they brought, catch-ups that failed (the store could not be read), and the
  // change number followed up to.
  std::uint64_t catch_ups = 0;
  std::uint64_t followed_changes = 0;
  std::uint64_t failed_catch_ups = 0;
  std::int64_t seen_seq = 0;
};

class Registrar {
 public:
  // Writes through `store`, a connection of its own (open_store); `initial` is
  // what the snapshot was built from (for the interior-name counts).
  // `loaded_seq`: a shared store's change number as of `initial` (read
  // before it was loaded); catch_up() publishes what came after.
  Registrar(std::unique_ptr<DeviceStore> store, SnapshotHolder& snapshots,
            const std::vector<DeviceRecord>& initial, RecordLimits limits = {},
            std::int64_t loaded_seq = 0);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  // Applies one request's changes in order, all in the same commit group.
  std::vector<ChangeResult> apply(std::vector<DeviceChange> changes);
  // The same without waiting: `done` runs on the writer thread once the changes
  // are durable and visible (or failed without effect); it must not block.
  using Done = std::function<void(std::vector<ChangeResult>)>;
  void apply_async(std::vector<DeviceChange> changes, Done done);
  // A shared store (several nodes of a label): reads what other nodes committed
  // since the last catch-up and publishes it, on the writer thread, between
  // commit groups (so a node's own changes and others' are published in commit
  // order). Returns at once. `on_tokens` (set before the first call) runs on
  // the writer thread when tokens changed. A read that fails is counted and
  // retried by the next call: nothing is skipped.
  // `announced`: the highest change number a notification announced (0:
  // unknown); one the node has published already needs no read.
  void catch_up(std::int64_t announced = 0);
  void set_on_tokens(std::function<void()> on_tokens) { on_tokens_ = std::move(on_tokens); }
  [[nodiscard]] const RecordLimits& limits() const noexcept { return limits_; }
  [[nodiscard]] RegistrarStats stats() const;
  void stop();

 private:
  struct Pending {
    std::vector<DeviceChange> changes;
    Done done;
  };
  struct Queue {
    std::deque<Pending> items;
    bool catch_up = false;
    // Of the catch-ups asked since the last one: all announced (the highest
    // number), or some not (read anyway).
    bool all_announced = true;
    std::int64_t announced = 0;
    bool stopping = false;
  };
  using Written = std::vector<std::pair<std::string, std::optional<DeviceRecord>>>;

  void run();
  void commit_group(std::vector<Pending>& group);
  void follow(std::int64_t announced);
  void publish(const Written& written, std::int64_t seq);  // seq: the change number, for the serial

  class Impl;
  std::unique_ptr<Impl> impl_;
  SnapshotHolder& snapshots_;
  RecordLimits limits_;
  std::function<void()> on_tokens_;
  LockGuarded<Queue> queue_;
  std::condition_variable queue_cv_;
  std::thread writer_;
};

}  // namespace pweb::registrar
