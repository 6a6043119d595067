#include "pweb/dht/agent_directory.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <opendht/dhtrunner.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <future>
#include <map>
#include <sstream>

#include "pweb/lock_guarded.hpp"

namespace pweb::dht {
namespace {

namespace od = ::dht;
namespace fs = std::filesystem;

// Our records' value type: its expiration is how long a dead agent's record
// outlives it. Every pweb node registers it; the owner re-announces in time.
constexpr od::ValueType::Id kAgentType = 0x7077;  // "pw"
constexpr auto kShutdownWait = std::chrono::seconds(3);

od::InfoHash key_of(const std::string& label) { return od::InfoHash::get("pweb:agent:" + label); }

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw DirectoryError("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Written whole under a temporary name, then renamed: never a torn identity.
void write_file(const fs::path& p, const std::vector<std::uint8_t>& data, mode_t mode) {
  const fs::path tmp = p.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw DirectoryError("cannot write " + tmp.string());
  const auto* at = data.data();
  std::size_t left = data.size();
  while (left > 0) {
    const auto n = ::write(fd, at, left);
    if (n <= 0) {
      ::close(fd);
      throw DirectoryError("cannot write " + tmp.string());
    }
    at += n;
    left -= static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  fs::rename(tmp, p);
}

od::crypto::Identity load_or_make_identity(const fs::path& base, unsigned bits) {
  const fs::path key_path = base.string() + ".pem";
  const fs::path crt_path = base.string() + ".crt";
  const bool has_key = fs::exists(key_path), has_crt = fs::exists(crt_path);
  if (has_key != has_crt) {
    throw DirectoryError("DHT identity incomplete: " + (has_key ? crt_path : key_path).string() +
                         " is missing (remove the other file to make a new identity)");
  }
  if (has_key) {
    od::crypto::Identity id;
    try {
      id.first = std::make_shared<od::crypto::PrivateKey>(read_file(key_path));
    } catch (const DirectoryError&) {
      throw;
    } catch (const std::exception& e) {
      throw DirectoryError("DHT identity key " + key_path.string() + " is unreadable: " + e.what());
    }
    try {
      id.second = std::make_shared<od::crypto::Certificate>(read_file(crt_path));
    } catch (const DirectoryError&) {
      throw;
    } catch (const std::exception& e) {
      throw DirectoryError("DHT identity certificate " + crt_path.string() +
                           " is unreadable: " + e.what());
    }
    if (id.first->getPublicKey().getId() != id.second->getId()) {
      throw DirectoryError("DHT identity " + crt_path.string() + " does not match " +
                           key_path.string());
    }
    return id;
  }
  if (base.has_parent_path()) fs::create_directories(base.parent_path());
  // RSA: EC signatures do not verify in OpenDHT 2.4.
  auto id = od::crypto::generateIdentity("pweb-agent", {}, bits);
  write_file(key_path, id.first->serialize(), 0600);
  write_file(crt_path, id.second->getPacked(), 0644);
  return id;
}

od::SockAddr ipv4_address(const std::string& host, std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) {
    throw DirectoryError("DHT bind address '" + host + "' is not a numeric IPv4 address");
  }
  return od::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
}

// A label -> key id map, persisted one "label keyid" line at a time.
class Pins {
 public:
  explicit Pins(fs::path path) : path_(std::move(path)) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string label, key;
      // A torn last line (crash while appending) has no key, or a short one.
      if (fields >> label >> key && key.size() == 40) pins_.emplace(label, key);
    }
  }
  [[nodiscard]] std::optional<std::string> find(const std::string& label) const {
    const auto it = pins_.find(label);
    if (it == pins_.end()) return std::nullopt;
    return it->second;
  }
  void pin(const std::string& label, const std::string& key) {
    if (!pins_.emplace(label, key).second) return;
    std::ofstream out(path_, std::ios::app);
    out << label << ' ' << key << '\n';
  }

 private:
  fs::path path_;
  std::map<std::string, std::string> pins_;
};

struct Seen {
  std::string owner;  // key id, hex
  AgentRecord record;
};

// The usable records among `values`: ours, signed, decodable, for `label`.
void collect(const std::vector<std::shared_ptr<od::Value>>& values, const std::string& label,
             std::vector<Seen>& out) {
  for (const auto& v : values) {
    if (!v || v->type != kAgentType || !v->isSigned()) continue;
    auto decoded = decode(v->data);
    if (!decoded.record || decoded.record->label != label) continue;
    out.push_back({v->owner->getId().toString(), std::move(*decoded.record)});
  }
}

}  // namespace

struct AgentDirectory::Impl {
  DirectoryConfig config;
  od::crypto::Identity identity;
  std::string key_id;
  od::DhtRunner runner;
  LockGuarded<Pins> pins;
  std::optional<std::pair<od::InfoHash, od::Value::Id>> published;  // start-up thread only
  bool stopped = false;

  Impl(DirectoryConfig c, od::crypto::Identity id)
      : config(std::move(c)),
        identity(std::move(id)),
        key_id(identity.first->getPublicKey().getId().toString()),
        pins(fs::path(config.identity_path.string() + ".pins")) {}

  // The record to follow among what one search saw; pins the owner if new.
  std::optional<AgentRecord> choose(const std::string& label, std::vector<Seen>& seen) {
    if (seen.empty()) return std::nullopt;
    auto p = pins.lock();
    auto owner = p->find(label);
    if (!owner) {
      // No pin yet: the key whose record is oldest is taken as the first holder.
      const auto oldest = std::min_element(
          seen.begin(), seen.end(),
          [](const auto& a, const auto& b) { return a.record.updated < b.record.updated; });
      owner = oldest->owner;
      p->pin(label, *owner);
    }
    const Seen* best = nullptr;
    for (const auto& s : seen) {
      if (s.owner == *owner && (!best || s.record.updated > best->record.updated)) best = &s;
    }
    if (!best) return std::nullopt;
    return best->record;
  }
};

AgentDirectory::AgentDirectory(DirectoryConfig config) {
  if (config.identity_path.empty()) throw DirectoryError("no DHT identity path");
  auto identity = load_or_make_identity(config.identity_path, config.key_bits);
  impl_ = std::make_unique<Impl>(std::move(config), std::move(identity));
  auto& c = impl_->config;

  od::DhtRunner::Config rc;
  rc.threaded = true;
  rc.dht_config.id = impl_->identity;
  rc.dht_config.node_config.network = c.network_id;
  rc.dht_config.node_config.max_peer_req_per_sec = c.max_peer_requests_per_second;
  rc.dht_config.node_config.max_req_per_sec = c.max_peer_requests_per_second;
  // run("127.0.0.1", ...) throws in OpenDHT 2.4: give the socket address itself.
  rc.bind4 = ipv4_address(c.bind4, c.port);
  try {
    impl_->runner.run(rc, od::DhtRunner::Context{});
  } catch (const std::exception& e) {
    throw DirectoryError("cannot start the DHT node on " + c.bind4 + ":" + std::to_string(c.port) +
                         ": " + e.what());
  }
  impl_->runner.registerType(od::ValueType(kAgentType, "pweb-agent", c.record_lifetime));
  for (const auto& b : c.bootstrap) impl_->runner.bootstrap(b.host, std::to_string(b.port));
}

AgentDirectory::~AgentDirectory() { stop(); }

std::uint16_t AgentDirectory::port() const noexcept { return impl_->runner.getBoundPort(AF_INET); }

std::string AgentDirectory::key_id() const { return impl_->key_id; }

std::string AgentDirectory::node_id() const { return impl_->runner.getNodeId().toString(); }

std::optional<std::string> AgentDirectory::claim_and_publish(const AgentRecord& record,
                                                             std::chrono::milliseconds timeout) {
  const std::string& label = record.label;
  const auto refuse = [&](const std::string& holder) {
    return "label '" + label + "' is already held in the DHT by key " + holder +
           "; refusing to start with another key (identity " +
           impl_->config.identity_path.string() + ".pem, key " + impl_->key_id + ")";
  };
  if (auto pinned = impl_->pins.lock()->find(label); pinned && *pinned != impl_->key_id) {
    return refuse(*pinned);
  }
  // Who holds the label now? Whatever arrived by the timeout counts.
  auto seen = std::make_shared<LockGuarded<std::vector<Seen>>>();
  auto finished = std::make_shared<std::promise<void>>();
  auto done = finished->get_future();
  impl_->runner.get(
      key_of(label),
      [seen, label](const std::vector<std::shared_ptr<od::Value>>& values) {
        collect(values, label, *seen->lock());
        return true;
      },
      [finished](bool) { finished->set_value(); });
  done.wait_for(timeout);
  for (const auto& s : *seen->lock()) {
    if (s.owner != impl_->key_id) return refuse(s.owner);
  }
  impl_->pins.lock()->pin(label, impl_->key_id);

  auto value = std::make_shared<od::Value>(encode(record));
  value->type = kAgentType;
  // Stable across restarts, so a restarted agent replaces its old record.
  const auto key_hash = impl_->identity.first->getPublicKey().getId();
  value->id = 0;
  for (std::size_t i = 0; i < sizeof(od::Value::Id); ++i) {
    value->id = (value->id << 8) | key_hash[i];
  }
  impl_->runner.putSigned(
      key_of(label), value, [](bool) {}, /*permanent=*/true);
  impl_->published = std::make_pair(key_of(label), value->id);
  return std::nullopt;
}

void AgentDirectory::lookup(const std::string& label, LookupDone done) {
  auto seen = std::make_shared<LockGuarded<std::vector<Seen>>>();
  Impl* impl = impl_.get();
  impl_->runner.get(
      key_of(label),
      [seen, label](const std::vector<std::shared_ptr<od::Value>>& values) {
        collect(values, label, *seen->lock());
        return true;
      },
      [impl, seen, label, done = std::move(done)](bool) {
        auto all = std::move(*seen->lock());
        done(impl->choose(label, all));
      });
}

std::vector<Neighbor> AgentDirectory::neighbors() const {
  std::vector<Neighbor> out;
  for (const auto& n : impl_->runner.exportNodes()) {
    out.push_back({n.id.toString(), od::SockAddr(n.ss, n.sslen).toString()});
  }
  return out;
}

std::size_t AgentDirectory::good_nodes() const {
  return impl_->runner.getNodesStats(AF_INET).good_nodes +
         impl_->runner.getNodesStats(AF_INET6).good_nodes;
}

void AgentDirectory::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  if (impl_->published) {
    impl_->runner.cancelPut(impl_->published->first, impl_->published->second);
  }
  auto finished = std::make_shared<std::promise<void>>();
  auto done = finished->get_future();
  impl_->runner.shutdown([finished] { finished->set_value(); });
  done.wait_for(kShutdownWait);
  impl_->runner.join();
}

}  // namespace pweb::dht
