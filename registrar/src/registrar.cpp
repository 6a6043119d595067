#include "pweb/registrar/registrar.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <utility>

#include "pweb/registrar/store.hpp"

namespace pweb::registrar {
namespace {

constexpr std::size_t kMaxGroup = 4096;  // requests per commit

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "user.agent" and "agent" of "device.user.agent".
std::pair<std::string, std::string> parents_of(const std::string& name) {
  const auto first = name.find('.');
  const std::string user_agent = name.substr(first + 1);
  return {user_agent, user_agent.substr(user_agent.find('.') + 1)};
}

template <typename T>
std::optional<T> changed(const std::optional<T>& old, const FieldChange<T>& c) {
  switch (c.kind) {
    case FieldChange<T>::Kind::keep:
      return old;
    case FieldChange<T>::Kind::set:
      return c.value;
    case FieldChange<T>::Kind::clear:
      return std::nullopt;
  }
  return old;
}

}  // namespace

class Registrar::Impl {
 public:
  Impl(std::unique_ptr<DeviceStore> s, const std::vector<DeviceRecord>& initial)
      : store(std::move(s)), devices(initial.size()) {
    for (const auto& r : initial) {
      add_parents(r.name, nullptr);
      const auto bytes = record_bytes(r);
      user_bytes[user_of(r.name)] += bytes;
      if (bytes) device_bytes[r.name] = bytes;
    }
  }

  static std::string user_of(const std::string& name) { return parents_of(name).first; }
  static std::size_t record_bytes(const DeviceRecord& r) {
    std::size_t n = 0;
    for (const auto& s : r.rrsets) n += s.wire_bytes();
    return n;
  }

  // Counts devices below each interior name; a name appears with its first
  // device and goes with its last.
  void add_parents(const std::string& name, std::vector<Snapshot::Change>* out) {
    const auto [ua, a] = parents_of(name);
    for (const auto& p : {ua, a}) {
      if (interior[p]++ == 0 && out) out->push_back({p, NameEntry::interior(), nullptr});
    }
  }
  void remove_parents(const std::string& name, std::vector<Snapshot::Change>* out) {
    const auto [ua, a] = parents_of(name);
    for (const auto& p : {ua, a}) {
      auto it = interior.find(p);
      if (it != interior.end() && --it->second == 0) {
        interior.erase(it);
        out->push_back({p, NameEntry::tombstone(), nullptr});
      }
    }
  }

  std::unique_ptr<DeviceStore> store;
  std::size_t devices;
  std::unordered_map<std::string, std::uint32_t> interior;
  // RRset bytes per "user.agent", for the per-user limit; kept as of the last commit.
  std::unordered_map<std::string, std::size_t> user_bytes;
  // ... and per device that has RRsets: what another node's change replaces.
  std::unordered_map<std::string, std::size_t> device_bytes;
  // A shared store's changes are published up to here: written by the writer
  // thread only; atomic for stats().
  std::atomic<std::int64_t> seen_seq{0};
  std::atomic<std::uint64_t> commits{0}, changes{0}, failed{0};
  std::atomic<std::uint64_t> catch_ups{0}, followed{0}, failed_catch_ups{0};
};

Registrar::Registrar(std::unique_ptr<DeviceStore> store, SnapshotHolder& snapshots,
                     const std::vector<DeviceRecord>& initial, RecordLimits limits,
                     std::int64_t loaded_seq)
    : impl_(std::make_unique<Impl>(std::move(store), initial)),
      snapshots_(snapshots),
      limits_(limits) {
  impl_->seen_seq = loaded_seq;
  writer_ = std::thread([this] { run(); });
}

Registrar::~Registrar() { stop(); }

void Registrar::stop() {
  queue_.lock()->stopping = true;
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::vector<ChangeResult> Registrar::apply(std::vector<DeviceChange> changes) {
  auto promise = std::make_shared<std::promise<std::vector<ChangeResult>>>();
  auto result = promise->get_future();
  apply_async(std::move(changes),
              [promise](std::vector<ChangeResult> r) { promise->set_value(std::move(r)); });
  return result.get();
}

void Registrar::apply_async(std::vector<DeviceChange> changes, Done done) {
  {
    auto q = queue_.lock();
    if (!q->stopping) {
      q->items.push_back(Pending{std::move(changes), std::move(done)});
      changes.clear();
      done = nullptr;
    }
  }
  if (done) {
    done(std::vector<ChangeResult>(changes.size()));  // store_error: stopping
    return;
  }
  queue_cv_.notify_one();
}

void Registrar::catch_up(std::int64_t announced) {
  {
    auto q = queue_.lock();
    if (q->stopping) return;
    q->catch_up = true;
    if (announced == 0) q->all_announced = false;
    q->announced = std::max(q->announced, announced);
  }
  queue_cv_.notify_one();
}

RegistrarStats Registrar::stats() const {
  const auto& im = *impl_;
  return {im.commits.load(),  im.changes.load(),          im.failed.load(),  im.catch_ups.load(),
          im.followed.load(), im.failed_catch_ups.load(), im.seen_seq.load()};
}

void Registrar::run() {
  std::vector<Pending> group;
  for (;;) {
    bool catch_up = false;
    std::int64_t announced = 0;
    {
      auto q = queue_.lock();
      q.wait(queue_cv_, [&] { return q->stopping || q->catch_up || !q->items.empty(); });
      if (q->stopping && q->items.empty()) return;  // everything queued was answered
      catch_up = std::exchange(q->catch_up, false);
      const bool all_announced = std::exchange(q->all_announced, true);
      const auto highest = std::exchange(q->announced, 0);
      announced = all_announced ? highest : 0;
      while (!q->items.empty() && group.size() < kMaxGroup) {
        group.push_back(std::move(q->items.front()));
        q->items.pop_front();
      }
    }
    // Others' changes first: this group's limits then count them.
    if (catch_up) follow(announced);
    if (!group.empty()) commit_group(group);
    group.clear();
  }
}

void Registrar::commit_group(std::vector<Pending>& group) {
  auto& store = *impl_->store;
  std::vector<std::vector<ChangeResult>> results(group.size());
  // Device entries to publish, in order; interior names are derived after commit.
  Written written;
  const std::int64_t now = unix_now();
  // Per-user RRset bytes as this group changes them; kept only if it commits.
  auto user_bytes = impl_->user_bytes;
  try {
    store.begin();
    for (std::size_t g = 0; g < group.size(); ++g) {
      for (const auto& c : group[g].changes) {
        ChangeResult r;
        const auto old = store.get(c.name);
        if (c.remove) {
          r.status = old ? ChangeStatus::removed : ChangeStatus::not_found;
          if (old) {
            store.erase(c.name, now);
            written.emplace_back(c.name, std::nullopt);
            user_bytes[Impl::user_of(c.name)] -= Impl::record_bytes(*old);
          }
        } else if (c.edit && !old) {
          r.status = ChangeStatus::not_found;
        } else {
          DeviceRecord next = old ? *old : DeviceRecord{};
          if (!old) {
            next.name = c.name;
            next.updated = now;
          }
          next.ipv4 = changed(next.ipv4, c.ipv4);
          next.ipv6 = changed(next.ipv6, c.ipv6);
          next.ipv6_iid = changed(next.ipv6_iid, c.ipv6_iid);
          if (c.services) next.services = *c.services;
          if (c.ttl) next.ttl = *c.ttl;
          const std::string user = Impl::user_of(c.name);
          const std::size_t before = old ? Impl::record_bytes(*old) : 0;
          if (c.edit) r.error = c.edit(next);
          if (!r.error && (c.edit || c.ttl || !next.rrsets.empty())) {
            r.error = check_records(next, limits_, user_bytes[user] - before);
          }
          const bool same = old && old->ipv4 == next.ipv4 && old->ipv6 == next.ipv6 &&
                            old->services == next.services && old->ttl == next.ttl &&
                            old->ipv6_iid == next.ipv6_iid && old->rrsets == next.rrsets;
          if (r.error) {
            r.status = r.error->kind == EditError::Kind::not_found ? ChangeStatus::not_found
                                                                   : ChangeStatus::refused;
            next = old ? *old : DeviceRecord{};
          } else if (same) {
            r.status = ChangeStatus::unchanged;
          } else {
            next.updated = now;
            const bool rrsets_changed = !old || old->rrsets != next.rrsets;
            store.put(next, rrsets_changed);
            user_bytes[user] += Impl::record_bytes(next) - before;
            written.emplace_back(c.name, next);
            r.status = old ? ChangeStatus::changed : ChangeStatus::created;
          }
          r.device = next;
        }
        results[g].push_back(std::move(r));
      }
    }
    store.commit();  // durable from here (WAL, synchronous=FULL)
  } catch (const std::exception&) {
    store.rollback();
    impl_->failed.fetch_add(1);
    for (auto& p : group) p.done(std::vector<ChangeResult>(p.changes.size()));
    return;
  }
  impl_->user_bytes = std::move(user_bytes);
  // Our own commit right after everything published: nothing to catch up on
  // for it (numbers follow commit order, with no gaps).
  if (const auto mine = store.write_seq(); mine != 0 && mine == impl_->seen_seq + 1) {
    impl_->seen_seq = mine;
  }

  // Publish before answering, so that a DNS query sent after the answer sees it.
  publish(written, store.write_seq());
  impl_->commits.fetch_add(1);
  for (std::size_t g = 0; g < group.size(); ++g) {
    impl_->changes.fetch_add(group[g].changes.size());
    group[g].done(std::move(results[g]));
  }
}

void Registrar::publish(const Written& written, std::int64_t seq) {
  if (written.empty()) return;
  auto& im = *impl_;
  std::vector<Snapshot::Change> changes;
  const auto current = snapshots_.current();
  std::unordered_map<std::string, bool> exists;  // as of the changes so far
  for (const auto& [name, rec] : written) {
    auto it = exists.find(name);
    if (it == exists.end()) {
      const auto* e = current->find(name);
      it = exists.emplace(name, e != nullptr && e->is_device()).first;
    }
    if (rec) {
      changes.push_back({name, NameEntry::device(rec->ipv4, rec->ipv6), Snapshot::zone_of(*rec)});
      if (!it->second) {
        im.add_parents(name, &changes);
        ++im.devices;
      }
      if (const auto bytes = Impl::record_bytes(*rec)) {
        im.device_bytes[name] = bytes;
      } else {
        im.device_bytes.erase(name);
      }
    } else if (it->second) {
      changes.push_back({name, NameEntry::tombstone(), nullptr});
      im.remove_parents(name, &changes);
      --im.devices;
      im.device_bytes.erase(name);
    }
    it->second = rec.has_value();
  }
  if (changes.empty()) return;
  // The SOA serial is the store's change number: it rises with every change,
  // also within one second, and across restarts; on a shared store all nodes
  // of a label count alike. Never below the last one plus one, whatever the
  // order in which others' changes arrive (RFC 1982 arithmetic would take a
  // wrap; four billion changes are not expected).
  const auto serial = std::max<std::int64_t>(seq, static_cast<std::int64_t>(current->serial()) + 1);
  snapshots_.publish(
      current->with_changes(changes, im.devices, static_cast<std::uint32_t>(serial)));
}

void Registrar::follow(std::int64_t announced) {
  auto& im = *impl_;
  if (announced != 0 && announced <= im.seen_seq) {
    im.catch_ups.fetch_add(1);  // e.g. our own commit: nothing to read
    return;
  }
  StoreChanges found;
  try {
    found = im.store->changes_since(im.seen_seq);
  } catch (const std::exception&) {
    im.failed_catch_ups.fetch_add(1);  // the next catch-up reads from the same point
    return;
  }
  im.catch_ups.fetch_add(1);
  if (found.seq <= im.seen_seq) return;
  Written written;
  for (auto& d : found.devices) {
    const auto it = im.device_bytes.find(d.name);
    auto& user = im.user_bytes[Impl::user_of(d.name)];
    user += Impl::record_bytes(d) - (it == im.device_bytes.end() ? 0 : it->second);
    written.emplace_back(d.name, std::move(d));
  }
  for (auto& name : found.removed) {
    const auto it = im.device_bytes.find(name);
    if (it != im.device_bytes.end()) im.user_bytes[Impl::user_of(name)] -= it->second;
    written.emplace_back(std::move(name), std::nullopt);
  }
  im.followed.fetch_add(written.size());
  publish(written, found.seq);
  im.seen_seq = found.seq;
  if (found.tokens_changed && on_tokens_) on_tokens_();
}

}  // namespace pweb::registrar
