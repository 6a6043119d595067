#include "pweb/dht/agent_directory.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <opendht/dhtrunner.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <iterator>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>

#include "grace_timer.hpp"
#include "pweb/dht/label_cert.hpp"
#include "pweb/dht/pins.hpp"
#include "pweb/lock_guarded.hpp"
#include "pweb/registrar/names.hpp"
#include "write_all.hpp"

namespace pweb::dht {
namespace {

namespace od = ::dht;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Our records' value type: its expiration is how long a dead agent's record
// outlives it. Every pweb node registers it; the owner re-announces in time.
constexpr od::ValueType::Id kAgentType = 0x7077;  // "pw"
// OpenDHT re-announces a permanent value REANNOUNCE_MARGIN (10 s) before it
// expires: a shorter lifetime would have it re-announce continuously.
constexpr std::chrono::seconds kMinLifetime{15};
constexpr auto kShutdownWait = 3s;
constexpr std::size_t kDefaultGlobalRequests = 8 * 1024;  // OpenDHT's MAX_REQUESTS_PER_SEC
// How often the pins file is checked for changes made by `pweb-node pin`.
constexpr auto kPinCheckInterval = 1s;
// A lookup settled by the first values it got (this node's own storage, which
// may hold only some of a label's nodes' records) waits this long for other
// nodes' replies; one that brings values settles it at once.
constexpr std::chrono::milliseconds kMoreRepliesGrace{150};

od::InfoHash key_of(const std::string& label) { return od::InfoHash::get("pweb:agent:" + label); }

std::vector<std::uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw DirectoryError("cannot read " + p.string());
  std::vector<std::uint8_t> data{std::istreambuf_iterator<char>(in),
                                 std::istreambuf_iterator<char>()};
  if (in.bad()) throw DirectoryError("cannot read " + p.string());
  return data;
}

// Written whole under a temporary name, then renamed: never a torn identity.
void write_file(const fs::path& p, const std::vector<std::uint8_t>& data, mode_t mode) {
  const fs::path tmp = p.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw DirectoryError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0;  // a leftover .tmp keeps its old mode otherwise
  ok = ok && write_all(fd, data.data(), data.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw DirectoryError("cannot write " + tmp.string());
  fs::rename(tmp, p);
}

od::crypto::Identity load_identity(const fs::path& key_path, const fs::path& crt_path) {
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
    throw DirectoryError("DHT identity certificate " + crt_path.string() +
                         " does not match the key " + key_path.string());
  }
  return id;
}

// <base>.pem (the private key, 0600) and <base>.crt: loaded if present, else
// generated once. RSA: EC signatures do not verify in OpenDHT 2.4.
od::crypto::Identity load_or_make_identity(const fs::path& base, unsigned bits) {
  const fs::path key_path = base.string() + ".pem";
  const fs::path crt_path = base.string() + ".crt";
  try {
    const bool has_key = fs::exists(key_path), has_crt = fs::exists(crt_path);
    if (has_key != has_crt) {
      throw DirectoryError("DHT identity incomplete: " + (has_key ? crt_path : key_path).string() +
                           " is missing (remove " + (has_key ? key_path : crt_path).string() +
                           " to make a new identity, which gives up the agent's label)");
    }
    if (has_key) return load_identity(key_path, crt_path);
    if (base.has_parent_path()) fs::create_directories(base.parent_path());
    od::crypto::Identity id;
    try {
      id = od::crypto::generateIdentity("pweb-agent", {}, bits);
    } catch (const std::exception& e) {
      throw DirectoryError("cannot generate a " + std::to_string(bits) +
                           "-bit RSA DHT identity: " + e.what());
    }
    if (!id.first || !id.second) {
      throw DirectoryError("cannot generate a " + std::to_string(bits) + "-bit RSA DHT identity");
    }
    write_file(crt_path, id.second->getPacked(), 0600);
    write_file(key_path, id.first->serialize(), 0600);  // last: its presence means complete
    return id;
  } catch (const fs::filesystem_error& e) {
    throw DirectoryError("DHT identity " + key_path.string() + ": " + e.what());
  }
}

constexpr std::size_t kNodeIdBytes = 8;

// <base>.node-id: this node's own random id, made once. Not in the identity's
// files, so nodes sharing an identity (a copied key) each have their own.
std::vector<std::uint8_t> load_or_make_node_id(const fs::path& base) {
  const fs::path p = base.string() + ".node-id";
  try {
    if (fs::exists(p)) {
      auto id = read_file(p);
      if (id.size() != kNodeIdBytes) {
        throw DirectoryError("DHT node id " + p.string() + " is not " +
                             std::to_string(kNodeIdBytes) + " bytes (remove it to make a new one)");
      }
      return id;
    }
    std::vector<std::uint8_t> id(kNodeIdBytes);
    if (::getrandom(id.data(), id.size(), 0) != static_cast<ssize_t>(id.size())) {
      throw DirectoryError(std::string("cannot make a DHT node id: ") + std::strerror(errno));
    }
    write_file(p, id, 0600);
    return id;
  } catch (const fs::filesystem_error& e) {
    throw DirectoryError("DHT node id " + p.string() + ": " + e.what());
  }
}

// This node's DHT node id: from the key id and the node id file, so stable
// across restarts and distinct per node sharing the key (OpenDHT would derive
// it from the key alone: two nodes of one label would then have one id).
od::InfoHash own_node_hash(const od::InfoHash& key_id, const std::vector<std::uint8_t>& node_id) {
  std::array<std::uint8_t, od::InfoHash::size() + kNodeIdBytes> both{};
  std::memcpy(both.data(), key_id.data(), od::InfoHash::size());
  std::memcpy(both.data() + od::InfoHash::size(), node_id.data(), kNodeIdBytes);
  return od::InfoHash::get(both.data(), both.size());
}

// The id of this node's value under its label's key, from its node hash: a
// restarted node replaces its record, and each node sharing the key keeps its own.
od::Value::Id own_value_id(const od::InfoHash& node_hash) {
  od::Value::Id vid = 0;
  for (std::size_t i = 0; i < sizeof(od::Value::Id); ++i) vid = (vid << 8) | node_hash[i];
  return vid;
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

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One usable record a search brought back.
struct Seen {
  std::string owner;  // key id, hex
  std::vector<std::uint8_t> owner_spki;
  od::Value::Id value_id = 0;
  std::uint16_t seq = 0;
  AgentRecord record;
};

struct Counters {
  std::atomic<std::uint64_t> lookups{0};
  std::atomic<std::uint64_t> lookups_found{0};
  std::atomic<std::uint64_t> records_invalid{0};
  std::atomic<std::uint64_t> records_foreign{0};
  std::atomic<std::uint64_t> records_uncertified{0};
  std::atomic<std::uint64_t> lookups_contested{0};
  std::atomic<std::uint64_t> pin_write_errors{0};
};

// The usable records among `values` (signatures were checked by SecureDht):
// signed, of our type, decodable, for `label`, and with `anchors` certified
// for it. Counts the others.
void collect(const std::vector<std::shared_ptr<od::Value>>& values, const std::string& label,
             const TrustAnchors& anchors, std::vector<Seen>& out, Counters& counters) {
  for (const auto& v : values) {
    if (!v || v->type != kAgentType || !v->isSigned()) {
      ++counters.records_invalid;
      continue;
    }
    auto decoded = decode(v->data);
    if (!decoded.record || decoded.record->label != label) {
      ++counters.records_invalid;
      continue;
    }
    od::Blob spki;
    v->owner->pack(spki);  // DER SubjectPublicKeyInfo
    if (!anchors.empty() && anchors.verify(label, decoded.record->cert, spki, std::time(nullptr))) {
      ++counters.records_uncertified;
      continue;
    }
    out.push_back(
        {v->owner->getId().toString(), std::move(spki), v->id, v->seq, std::move(*decoded.record)});
  }
}

// The keys that signed what a search saw, sorted.
std::vector<std::string> signers(const std::vector<Seen>& seen) {
  std::set<std::string> keys;
  for (const auto& s : seen) keys.insert(s.owner);
  return {keys.begin(), keys.end()};
}

// A lookup in flight: completed once, by OpenDHT's done callback or by stop().
struct PendingLookup {
  std::string label;
  AgentDirectory::LookupDone done;
  LockGuarded<std::vector<Seen>> seen;
  std::atomic<int> replies{0};  // callbacks that found it settled
};

struct RunState {
  bool stopped = false;
  std::optional<std::pair<od::InfoHash, od::Value::Id>> published;
  std::string label;               // of the published record
  std::uint16_t seq = 0;           // of the published record
  std::vector<std::uint8_t> cert;  // our label certificate, kept on republish
};

std::shared_ptr<od::Value> signed_value(const AgentRecord& record, od::Value::Id id,
                                        std::uint16_t seq) {
  auto value = std::make_shared<od::Value>(encode(record));
  value->type = kAgentType;
  value->id = id;
  value->seq = seq;
  return value;
}

}  // namespace

struct AgentDirectory::Impl {
  DirectoryConfig config;
  od::crypto::Identity identity;
  std::string key_id;
  std::string node_id;
  od::Value::Id value_id = 0;  // of our record
  std::uint16_t port = 0;
  Counters counters;
  TrustAnchors anchors;  // immutable after construction
  LockGuarded<Pins> pins;
  std::atomic<std::int64_t> next_pin_check{0};  // steady clock, ns
  LockGuarded<RunState> state;  // held while calling the runner from our public methods
  LockGuarded<std::unordered_map<std::uint64_t, std::shared_ptr<PendingLookup>>> pending;
  std::atomic<std::uint64_t> next_lookup{0};
  // OpenDHT runs queued operations (shutdown too) only once connected or
  // disconnected, never while connecting: then stop() does not wait for it.
  std::atomic<bool> connecting{false};
  GraceTimer grace{kMoreRepliesGrace, [this](std::uint64_t id) { finish(id); }};
  // Last, so it is destroyed (joined) first: its callbacks use the members above.
  od::DhtRunner runner;

  Impl(DirectoryConfig c, od::crypto::Identity id, TrustAnchors a)
      : config(std::move(c)),
        identity(std::move(id)),
        key_id(identity.first->getPublicKey().getId().toString()),
        anchors(std::move(a)),
        pins(fs::path(config.identity_path.string() + ".pins")) {}

  // The pins, re-read first if `pweb-node pin` changed the file (checked at
  // most once per kPinCheckInterval; an unreadable file keeps the old pins).
  LockGuarded<Pins>::Holder current_pins() {
    auto p = pins.lock();
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (now >= next_pin_check.load(std::memory_order_relaxed)) {
      next_pin_check = now + std::chrono::nanoseconds(kPinCheckInterval).count();
      try {
        p->reload_if_changed();
      } catch (const DirectoryError&) {
      }
    }
    return p;
  }

  // The pin that decides for `label`: with anchors only the operator's.
  std::optional<Pin> pin_of(const std::string& label) {
    auto pinned = current_pins()->find(label);
    if (pinned && !anchors.empty() && pinned->kind == PinKind::automatic) return std::nullopt;
    return pinned;
  }

  // Pins `label` to `key` unless pinned already; returns the pinned key.
  std::string pin(Pins& p, const std::string& label, const std::string& key) {
    bool written = true;
    auto owner = p.pin(label, key, &written);
    if (!written) ++counters.pin_write_errors;
    return owner;
  }

  // The record to follow among what one search saw: the pinned key's; with
  // no pin the only key seen (pinned now, without anchors); several keys and
  // no pin: contested. Nothing the signer writes into a record decides.
  LookupResult choose(const std::string& label, const std::vector<Seen>& seen) {
    if (seen.empty()) return {};
    std::string owner;
    if (const auto pinned = pin_of(label)) {
      owner = pinned->key;
    } else {
      auto keys = signers(seen);
      if (keys.size() > 1) {
        ++counters.lookups_contested;
        LookupResult r;
        r.contested = true;
        r.contenders = std::move(keys);
        return r;
      }
      owner = keys.front();
      // A concurrent lookup may have pinned another key meanwhile: that one holds.
      if (anchors.empty()) owner = pin(*current_pins(), label, owner);
    }
    LookupResult r = nodes_of(owner, seen);
    if (!r.record) return {};
    return r;
  }

  // The records `owner` signed among `seen`: per value id (a node) the newest,
  // per gateway endpoint the newest (a node's record from before an upgrade
  // or a new node id, still stored, names the same gateway), ordered by value
  // id; `record` the newest of them. Counts the records of other keys.
  LookupResult nodes_of(const std::string& owner, const std::vector<Seen>& seen) {
    std::map<od::Value::Id, const Seen*> per_node;
    for (const auto& s : seen) {
      if (s.owner != owner) {
        ++counters.records_foreign;
        continue;
      }
      auto& best = per_node[s.value_id];
      if (!best || newer(s, *best)) best = &s;  // the same signer's records: its own order counts
    }
    std::map<std::pair<std::string, std::uint16_t>, const Seen*> per_endpoint;
    for (const auto& [vid, s] : per_node) {
      const auto& rec = s->record;
      const std::string host = !rec.ipv4.empty()   ? rec.ipv4.front()
                               : !rec.ipv6.empty() ? rec.ipv6.front()
                                                   : "";
      auto& best = per_endpoint[{host, rec.gateway_port}];
      if (!best || newer(*s, *best)) best = s;
    }
    std::vector<const Seen*> kept;
    for (const auto& [endpoint, s] : per_endpoint) kept.push_back(s);
    std::sort(kept.begin(), kept.end(),
              [](const Seen* a, const Seen* b) { return a->value_id < b->value_id; });
    if (kept.size() > kMaxNodeRecords) kept.resize(kMaxNodeRecords);
    LookupResult r;
    const Seen* newest = nullptr;
    for (const Seen* s : kept) {
      r.records.push_back(s->record);
      if (!newest || newer(*s, *newest)) newest = s;
    }
    if (!newest) return r;
    r.record = newest->record;
    r.owner = newest->owner;
    r.owner_spki = newest->owner_spki;
    return r;
  }

  static bool newer(const Seen& a, const Seen& b) {
    return std::tie(a.record.updated, a.seq, a.value_id) >
           std::tie(b.record.updated, b.seq, b.value_id);
  }

  // Whether `seen` already settles a lookup: a record from the pinned key. With
  // no pin the whole search is awaited: another key's record may still come,
  // and then the label is contested.
  bool decided(const std::string& label, const std::vector<Seen>& seen) {
    if (seen.empty()) return false;
    const auto pinned = pin_of(label);
    return pinned && std::any_of(seen.begin(), seen.end(),
                                 [&](const Seen& s) { return s.owner == pinned->key; });
  }

  // Removes a lookup from the table; whoever gets it calls its `done`.
  std::shared_ptr<PendingLookup> take(std::uint64_t id) {
    auto table = pending.lock();
    const auto it = table->find(id);
    if (it == table->end()) return nullptr;
    auto p = std::move(it->second);
    table->erase(it);
    return p;
  }

  void finish(std::uint64_t id) {
    const auto p = take(id);
    if (!p) return;  // stop() completed it already
    std::vector<Seen> seen = std::move(*p->seen.lock());
    auto result = choose(p->label, seen);
    if (result.record) ++counters.lookups_found;
    p->done(std::move(result));
  }
};

AgentDirectory::AgentDirectory(DirectoryConfig config) {
  if (config.identity_path.empty()) throw DirectoryError("no DHT identity path");
  if (config.record_lifetime < kMinLifetime) {
    throw DirectoryError(
        "DHT record lifetime of " + std::to_string(config.record_lifetime.count()) +
        " s is too short (at least " + std::to_string(kMinLifetime.count()) + " s)");
  }
  const auto bind4 = ipv4_address(config.bind4, config.port);
  auto anchors = TrustAnchors::load(config.trust_anchors);
  auto identity = load_or_make_identity(config.identity_path, config.key_bits);
  const auto node_id = load_or_make_node_id(config.identity_path);
  impl_ = std::make_unique<Impl>(std::move(config), std::move(identity), std::move(anchors));
  const auto node_hash = own_node_hash(impl_->identity.first->getPublicKey().getId(), node_id);
  impl_->value_id = own_value_id(node_hash);
  auto& c = impl_->config;

  od::DhtRunner::Config rc;
  rc.threaded = true;
  rc.dht_config.id = impl_->identity;  // SecureDht signs our values with it
  rc.dht_config.node_config.node_id = node_hash;
  rc.dht_config.node_config.network = c.network_id;
  if (c.max_peer_requests_per_second < 0) {
    rc.dht_config.node_config.max_peer_req_per_sec = -1;
    rc.dht_config.node_config.max_req_per_sec = -1;
  } else if (c.max_peer_requests_per_second > 0) {
    rc.dht_config.node_config.max_peer_req_per_sec = c.max_peer_requests_per_second;
    rc.dht_config.node_config.max_req_per_sec =
        std::max(static_cast<ssize_t>(kDefaultGlobalRequests),
                 static_cast<ssize_t>(8 * c.max_peer_requests_per_second));
  }  // 0: OpenDHT's defaults
  // run("127.0.0.1", ...) throws in OpenDHT 2.4: give the socket address itself.
  rc.bind4 = bind4;
  od::DhtRunner::Context context;
  context.statusChangedCallback = [im = impl_.get()](od::NodeStatus v4, od::NodeStatus v6) {
    im->connecting = std::max(v4, v6) == od::NodeStatus::Connecting;
  };
  try {
    impl_->runner.run(rc, std::move(context));
  } catch (const std::exception& e) {
    throw DirectoryError("cannot start the DHT node on " + c.bind4 + ":" + std::to_string(c.port) +
                         ": " + e.what());
  }
  impl_->port = impl_->runner.getBoundPort(AF_INET);
  if (impl_->port == 0) {
    throw DirectoryError("cannot bind the DHT node to " + c.bind4 + ":" + std::to_string(c.port));
  }
  impl_->node_id = impl_->runner.getNodeId().toString();
  impl_->runner.registerType(od::ValueType(kAgentType, "pweb-agent", c.record_lifetime));
  for (const auto& b : c.bootstrap) impl_->runner.bootstrap(b.host, std::to_string(b.port));
}

AgentDirectory::~AgentDirectory() { stop(); }

std::uint16_t AgentDirectory::port() const noexcept { return impl_->port; }

std::string AgentDirectory::key_id() const { return impl_->key_id; }

bool make_identity(const fs::path& identity_path, unsigned key_bits) {
  std::error_code ec;
  const bool had = fs::exists(identity_path.string() + ".pem", ec) ||
                   fs::exists(identity_path.string() + ".crt", ec);
  load_or_make_identity(identity_path, key_bits);
  return !had;
}

std::string AgentDirectory::node_id() const { return impl_->node_id; }

std::uint64_t AgentDirectory::value_id() const noexcept { return impl_->value_id; }

std::optional<std::string> AgentDirectory::claim_and_publish(const AgentRecord& given,
                                                             std::chrono::milliseconds timeout) {
  const auto checked = decode(encode(given));
  if (!checked.record) return "invalid agent record: " + checked.error;
  AgentRecord record = *checked.record;  // label lowercased
  const std::string label = record.label;
  Impl& im = *impl_;
  const std::string data_dir = im.config.identity_path.parent_path().string();
  const std::string identity = im.config.identity_path.string() + ".pem, key " + im.key_id;
  const auto refuse = [&](const std::string& holder) {
    return "label '" + label + "' is already held in the DHT by key " + holder +
           "; refusing to start with another key (data dir identity " + identity +
           "). If this node is the label's rightful owner, pin its key here and on the agents "
           "that follow the label (pweb-node pin add " +
           label + " " + im.key_id + " --data-dir " + data_dir +
           "), or run a federation CA (pweb-node ca sign, --trust-anchor on every node)";
  };
  if (im.state.lock()->stopped) return std::string("the DHT node is stopped");

  // Our label certificate goes into the record; with anchors it must verify.
  od::Blob own_spki;
  im.identity.first->getPublicKey().pack(own_spki);
  const fs::path cert_path = im.config.identity_path.string() + kLabelCertSuffix;
  std::error_code ec;
  if (fs::exists(cert_path, ec)) {
    try {
      record.cert = read_certificate_der(cert_path);
    } catch (const DirectoryError& e) {
      return std::string("label certificate: ") + e.what();
    }
    if (record.cert.size() > kMaxCertBytes) {
      return "label certificate " + cert_path.string() + " is over " +
             std::to_string(kMaxCertBytes) + " bytes";
    }
    if (certificate_spki(record.cert) != own_spki) {
      return "label certificate " + cert_path.string() +
             " is for another key than this node's DHT identity " + identity;
    }
  }
  if (!im.anchors.empty()) {
    if (record.cert.empty()) {
      return "trust anchors are configured but this node has no certificate for label '" + label +
             "' (" + cert_path.string() +
             "): have the federation CA certify it with "
             "pweb-node ca sign --ca CA_DIR --label " +
             label + " --data-dir " + data_dir;
    }
    if (auto err = im.anchors.verify(label, record.cert, own_spki, std::time(nullptr))) {
      return "label certificate " + cert_path.string() + ": " + *err +
             "; have the federation CA certify this node again with pweb-node ca sign --ca "
             "CA_DIR --label " +
             label + " --data-dir " + data_dir;
    }
  }

  const auto pinned = im.pin_of(label);
  if (pinned && pinned->key != im.key_id) {
    if (pinned->kind == PinKind::operator_set) {
      return "label '" + label + "' is pinned by the operator to key " + pinned->key + " in " +
             im.config.identity_path.string() + ".pins; refusing to start with key " + im.key_id +
             " (pweb-node pin del " + label + " --data-dir " + data_dir + " removes the pin)";
    }
    return refuse(pinned->key);
  }

  // Who holds the label now? Whatever arrived by the timeout counts.
  auto seen = std::make_shared<LockGuarded<std::vector<Seen>>>();
  auto finished = std::make_shared<std::promise<void>>();
  auto search_done = finished->get_future();
  Counters* counters = &im.counters;
  const TrustAnchors* anchors = &im.anchors;
  im.runner.get(
      key_of(label),
      [seen, label, counters, anchors](const std::vector<std::shared_ptr<od::Value>>& values) {
        collect(values, label, *anchors, *seen->lock(), *counters);
        return true;
      },
      [finished](bool) { finished->set_value(); });
  search_done.wait_for(timeout);

  // Stable across restarts, so a restarted agent replaces its old record; its
  // own per node, so nodes sharing the key each keep theirs.
  const od::Value::Id vid = im.value_id;
  // Storing nodes only take a changed value with a higher sequence number, and
  // our permanent put just refreshes what they hold otherwise: start above
  // any earlier run's value (putSigned also bumps past one it finds).
  auto value = signed_value(record, vid, static_cast<std::uint16_t>(unix_now() / 2));
  {
    auto all = seen->lock();
    std::vector<std::string> foreign;
    for (const auto& s : *all) {
      if (s.owner == im.key_id) {  // ours: this node's earlier run, or another node of the label
        if (s.value_id == vid && s.seq >= value->seq)
          value->seq = static_cast<std::uint16_t>(s.seq + 1);
      } else {
        foreign.push_back(s.owner);
      }
    }
    // Pinned to us by the operator (or our label from an earlier run):
    // another key's record is a hijack attempt, not a prior claim.
    std::sort(foreign.begin(), foreign.end());
    if (!foreign.empty() && !pinned) return refuse(foreign.front());
  }
  if (im.anchors.empty()) {
    auto p = im.current_pins();
    const auto owner = im.pin(*p, label, im.key_id);
    if (owner != im.key_id) return refuse(owner);  // a lookup pinned it meanwhile
  }
  {
    auto s = im.state.lock();
    if (s->stopped) return std::string("the DHT node is stopped");
    if (s->published && s->published->first != key_of(label)) {
      im.runner.cancelPut(s->published->first, s->published->second);
    }
    im.runner.putSigned(
        key_of(label), value, [](bool) {}, /*permanent=*/true);
    s->published = std::make_pair(key_of(label), vid);
    s->label = label;
    s->seq = value->seq;
    s->cert = record.cert;
  }
  return std::nullopt;
}

std::optional<std::string> AgentDirectory::republish(const AgentRecord& given) {
  const auto checked = decode(encode(given));
  if (!checked.record) return "invalid agent record: " + checked.error;
  Impl& im = *impl_;
  auto s = im.state.lock();
  if (s->stopped) return std::string("the DHT node is stopped");
  if (!s->published || s->label != checked.record->label) {
    return "no record for label '" + checked.record->label + "' was published: claim it first";
  }
  // Same value id, higher sequence number: storing nodes replace the old record.
  AgentRecord record = *checked.record;
  if (record.cert.empty()) record.cert = s->cert;
  auto value = signed_value(record, s->published->second, ++s->seq);
  im.runner.cancelPut(s->published->first, s->published->second);
  im.runner.putSigned(
      s->published->first, value, [](bool) {}, /*permanent=*/true);
  return std::nullopt;
}

void AgentDirectory::lookup(const std::string& label_in, LookupDone done) {
  Impl* im = impl_.get();
  ++im->counters.lookups;
  const std::string label = registrar::to_lower(label_in);
  const auto id = im->next_lookup++;
  auto p = std::make_shared<PendingLookup>();
  p->label = label;
  p->done = std::move(done);
  im->pending.lock()->emplace(id, p);
  // Registered first: if the runner is stopping, stop() or the runner's own
  // immediate done call completes it, whichever takes it from the table.
  im->runner.get(
      key_of(label),
      [p, im, id](const std::vector<std::shared_ptr<od::Value>>& values) {
        bool decided = false;
        {
          auto seen = p->seen.lock();
          collect(values, p->label, im->anchors, *seen, im->counters);
          decided = im->decided(p->label, *seen);
        }
        if (!decided) return true;
        if (++p->replies == 1) {
          // Perhaps our own storage only: give other nodes' replies a moment.
          im->grace.add(id);
          return true;
        }
        // Answer now: the search itself ends only when every node asked has
        // replied or timed out, seconds later if one of them is dead.
        im->finish(id);
        return false;
      },
      [im, id](bool) { im->finish(id); });
}

std::vector<Neighbor> AgentDirectory::neighbors() const {
  std::vector<Neighbor> out;
  auto s = impl_->state.lock();
  if (s->stopped) return out;
  for (const auto& n : impl_->runner.exportNodes()) {
    out.push_back({n.id.toString(), od::SockAddr(n.ss, n.sslen).toString()});
  }
  return out;
}

std::size_t AgentDirectory::good_nodes() const {
  auto s = impl_->state.lock();
  if (s->stopped) return 0;
  return impl_->runner.getNodesStats(AF_INET).good_nodes +
         impl_->runner.getNodesStats(AF_INET6).good_nodes;
}

DirectoryStats AgentDirectory::stats() const {
  const auto& c = impl_->counters;
  DirectoryStats out;
  out.lookups = c.lookups;
  out.lookups_found = c.lookups_found;
  out.records_invalid = c.records_invalid;
  out.records_foreign = c.records_foreign;
  out.records_uncertified = c.records_uncertified;
  out.lookups_contested = c.lookups_contested;
  out.pin_write_errors = c.pin_write_errors;
  out.pins = impl_->current_pins()->size();
  return out;
}

void AgentDirectory::stop() {
  if (!impl_) return;
  Impl& im = *impl_;
  {
    auto s = im.state.lock();
    if (s->stopped) return;
    s->stopped = true;
    if (s->published) im.runner.cancelPut(s->published->first, s->published->second);
  }
  im.grace.stop();  // what it held is completed below
  // stop=true: OpenDHT calls the done callbacks of searches in flight.
  auto finished = std::make_shared<std::promise<void>>();
  auto done = finished->get_future();
  im.runner.shutdown([finished] { finished->set_value(); }, /*stop=*/true);
  if (!im.connecting) done.wait_for(kShutdownWait);
  im.runner.join();
  // join() drops queued operations without calling them: complete those lookups.
  auto left = std::move(*im.pending.lock());
  for (auto& [id, p] : left) p->done(LookupResult{});
}

}  // namespace pweb::dht
