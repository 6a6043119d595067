#include "pweb/registrar/registrar.hpp"

#include <atomic>
#include <chrono>

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
  Impl(const std::filesystem::path& data_dir, const std::vector<DeviceRecord>& initial)
      : store(data_dir), devices(initial.size()) {
    for (const auto& r : initial) add_parents(r.name, nullptr);
  }

  // Counts devices below each interior name; a name appears with its first
  // device and goes with its last.
  void add_parents(const std::string& name, std::vector<Snapshot::Change>* out) {
    const auto [ua, a] = parents_of(name);
    for (const auto& p : {ua, a}) {
      if (interior[p]++ == 0 && out) out->push_back({p, NameEntry::interior()});
    }
  }
  void remove_parents(const std::string& name, std::vector<Snapshot::Change>* out) {
    const auto [ua, a] = parents_of(name);
    for (const auto& p : {ua, a}) {
      auto it = interior.find(p);
      if (it != interior.end() && --it->second == 0) {
        interior.erase(it);
        out->push_back({p, NameEntry::tombstone()});
      }
    }
  }

  DeviceStore store;
  std::size_t devices;
  std::unordered_map<std::string, std::uint32_t> interior;
  std::atomic<std::uint64_t> commits{0}, changes{0}, failed{0};
};

Registrar::Registrar(const std::filesystem::path& data_dir, SnapshotHolder& snapshots,
                     const std::vector<DeviceRecord>& initial)
    : impl_(std::make_unique<Impl>(data_dir, initial)), snapshots_(snapshots) {
  writer_ = std::thread([this] { run(); });
}

Registrar::~Registrar() { stop(); }

void Registrar::stop() {
  queue_.lock()->stopping = true;
  queue_cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::vector<ChangeResult> Registrar::apply(std::vector<DeviceChange> changes) {
  std::future<std::vector<ChangeResult>> result;
  {
    auto q = queue_.lock();
    if (q->stopping) return std::vector<ChangeResult>(changes.size());  // store_error
    q->items.push_back(Pending{std::move(changes), {}});
    result = q->items.back().done.get_future();
  }
  queue_cv_.notify_one();
  return result.get();
}

RegistrarStats Registrar::stats() const {
  return {impl_->commits.load(), impl_->changes.load(), impl_->failed.load()};
}

void Registrar::run() {
  std::vector<Pending> group;
  for (;;) {
    {
      auto q = queue_.lock();
      q.wait(queue_cv_, [&] { return q->stopping || !q->items.empty(); });
      if (q->items.empty()) return;  // stopping, and everything queued was answered
      while (!q->items.empty() && group.size() < kMaxGroup) {
        group.push_back(std::move(q->items.front()));
        q->items.pop_front();
      }
    }
    commit_group(group);
    group.clear();
  }
}

void Registrar::commit_group(std::vector<Pending>& group) {
  auto& store = impl_->store;
  std::vector<std::vector<ChangeResult>> results(group.size());
  // Device entries to publish, in order; interior names are derived after commit.
  std::vector<std::pair<std::string, std::optional<DeviceRecord>>> written;
  const std::int64_t now = unix_now();
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
          }
        } else {
          DeviceRecord next = old ? *old : DeviceRecord{c.name, {}, {}, now, {}};
          next.ipv4 = changed(next.ipv4, c.ipv4);
          next.ipv6 = changed(next.ipv6, c.ipv6);
          if (c.services) next.services = *c.services;
          const bool same = old && old->ipv4 == next.ipv4 && old->ipv6 == next.ipv6 &&
                            old->services == next.services;
          if (same) {
            r.status = ChangeStatus::unchanged;
          } else {
            next.updated = now;
            store.put(next);
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
    for (auto& p : group) p.done.set_value(std::vector<ChangeResult>(p.changes.size()));
    return;
  }

  // Publish before answering, so that a DNS query sent after the answer sees it.
  if (!written.empty()) {
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
        changes.push_back({name, NameEntry::device(rec->ipv4, rec->ipv6)});
        if (!it->second) {
          impl_->add_parents(name, &changes);
          ++impl_->devices;
        }
      } else {
        changes.push_back({name, NameEntry::tombstone()});
        if (it->second) {
          impl_->remove_parents(name, &changes);
          --impl_->devices;
        }
      }
      it->second = rec.has_value();
    }
    snapshots_.publish(
        current->with_changes(changes, impl_->devices, static_cast<std::uint32_t>(now)));
  }
  impl_->commits.fetch_add(1);
  for (std::size_t g = 0; g < group.size(); ++g) {
    impl_->changes.fetch_add(group[g].changes.size());
    group[g].done.set_value(std::move(results[g]));
  }
}

}  // namespace pweb::registrar
