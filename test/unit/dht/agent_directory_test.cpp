// Real OpenDHT nodes on loopback, each on an ephemeral port, in a private
// network: no mocks. Waits are bounded by deadlines; timings go to stdout.
#include "pweb/dht/agent_directory.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <opendht/dhtrunner.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <ostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../temp_dir.hpp"
#include "pweb/dht/label_cert.hpp"
#include "pweb/dht/pins.hpp"

namespace pweb::dht {

// Readable failures: gtest prints records through this (found by ADL).
static void PrintTo(const AgentRecord& r, std::ostream* os) {
  *os << "{label " << r.label << ", gw " << r.gateway_port << ", http " << r.http_port << ", dns "
      << r.dns_port << ", updated " << r.updated << ", v4";
  for (const auto& a : r.ipv4) *os << ' ' << a;
  *os << ", v6";
  for (const auto& a : r.ipv6) *os << ' ' << a;
  *os << '}';
}

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::uint16_t kAgentType = 0x7077;  // the directory's value type

std::uint32_t random_network() {
  std::random_device rd;
  return 0x70000000u | (rd() & 0x0FFFFFFFu);
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

AgentRecord record(const std::string& label, std::uint16_t port, std::int64_t updated) {
  AgentRecord r;
  r.label = label;
  r.ipv4 = {"127.0.0.1"};
  r.gateway_port = port;
  r.updated = updated;
  return r;
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A bare OpenDHT node with its own key: what a hijacker would run.
class RawNode {
 public:
  RawNode(std::uint32_t network, std::uint16_t bootstrap_port)
      : id_(::dht::crypto::generateIdentity("thief", {}, 1024)) {
    ::dht::DhtRunner::Config rc;
    rc.dht_config.id = id_;
    rc.dht_config.node_config.network = network;
    rc.dht_config.node_config.max_peer_req_per_sec = -1;
    rc.dht_config.node_config.max_req_per_sec = -1;
    rc.threaded = true;
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc.bind4 = ::dht::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
    runner_.run(rc, ::dht::DhtRunner::Context{});
    runner_.bootstrap("127.0.0.1", std::to_string(bootstrap_port));
  }
  ~RawNode() {
    runner_.shutdown({}, true);
    runner_.join();
  }
  RawNode(const RawNode&) = delete;
  RawNode& operator=(const RawNode&) = delete;

  [[nodiscard]] std::string key_id() const { return id_.first->getPublicKey().getId().toString(); }
  [[nodiscard]] std::vector<std::uint8_t> spki() const {
    ::dht::Blob b;
    id_.first->getPublicKey().pack(b);
    return b;
  }

  // Puts a validly signed record of our type under the label's key.
  bool put_signed(const AgentRecord& r) {
    auto v = std::make_shared<::dht::Value>(encode(r));
    v->type = kAgentType;
    auto stored = std::make_shared<std::promise<bool>>();
    auto f = stored->get_future();
    runner_.putSigned(
        key(r.label), v, [stored](bool ok) { stored->set_value(ok); }, /*permanent=*/true);
    return f.wait_for(20s) == std::future_status::ready && f.get();
  }

  // Puts many values under `label`'s key at once, each raw bytes of type `type`,
  // signed by this node's key or not; true when every put was stored.
  bool put_many(const std::string& label, const std::vector<::dht::Blob>& values, bool sign,
                std::uint16_t type = kAgentType) {
    std::vector<std::future<bool>> done;
    for (const auto& bytes : values) {
      auto v = std::make_shared<::dht::Value>(bytes);
      v->type = type;
      auto stored = std::make_shared<std::promise<bool>>();
      done.push_back(stored->get_future());
      auto cb = [stored](bool ok) { stored->set_value(ok); };
      if (sign) {
        runner_.putSigned(key(label), v, cb);
      } else {
        runner_.put(key(label), v, cb);
      }
    }
    bool all = true;
    for (auto& f : done) all = f.wait_for(30s) == std::future_status::ready && f.get() && all;
    return all;
  }

  // Key ids of the signers of what the DHT holds for `label` now.
  std::set<std::string> signers(const std::string& label) {
    std::set<std::string> out;
    for (const auto& v : runner_.get(key(label)).get()) {
      if (v->isSigned()) out.insert(v->owner->getId().toString());
    }
    return out;
  }

  // Waits until values of `n` different signers are in the DHT for `label`.
  bool wait_signers(const std::string& label, std::size_t n, std::chrono::seconds deadline = 15s) {
    const auto end = Clock::now() + deadline;
    while (Clock::now() < end) {
      if (signers(label).size() >= n) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

 private:
  static ::dht::InfoHash key(const std::string& label) {
    return ::dht::InfoHash::get("pweb:agent:" + label);
  }
  ::dht::crypto::Identity id_;
  ::dht::DhtRunner runner_;
};

class Directories : public ::testing::Test {
 protected:
  DirectoryConfig config(const std::string& name, std::uint16_t bootstrap_port = 0) {
    DirectoryConfig c;
    c.bind4 = "127.0.0.1";
    c.port = 0;
    c.network_id = network_;
    c.identity_path = dir_.path() / name / "identity";
    c.key_bits = 1024;
    if (bootstrap_port != 0) c.bootstrap.push_back({"127.0.0.1", bootstrap_port});
    return c;
  }
  std::filesystem::path path(const std::string& name, const std::string& ext) {
    return dir_.path() / name / ("identity" + ext);
  }
  // Gives `to` the identity of `from` (not its node id), as an operator copies it.
  void share_identity(const std::string& from, const std::string& to) {
    std::filesystem::create_directories(path(to, "").parent_path());
    for (const char* ext : {".pem", ".crt"})
      std::filesystem::copy_file(path(from, ext), path(to, ext));
  }
  // Starting `name`'s directory fails, and the error names its file `ext`.
  void expect_startup_error_naming(const std::string& name, const std::string& ext,
                                   const char* what) {
    try {
      AgentDirectory again(config(name));
      ADD_FAILURE() << what << " was accepted";
    } catch (const DirectoryError& e) {
      EXPECT_NE(std::string(e.what()).find(path(name, ext).string()), std::string::npos)
          << e.what();
    }
  }

  // Asks until a record comes back or the deadline passes.
  static std::optional<AgentRecord> lookup_until(AgentDirectory& d, const std::string& label,
                                                 std::chrono::seconds deadline = 10s) {
    const auto end = Clock::now() + deadline;
    while (Clock::now() < end) {
      if (auto r = lookup_once(d, label)) return r;
      std::this_thread::sleep_for(100ms);
    }
    return std::nullopt;
  }
  static std::optional<AgentRecord> lookup_once(AgentDirectory& d, const std::string& label) {
    return lookup_full(d, label).record;
  }
  static LookupResult lookup_full(AgentDirectory& d, const std::string& label) {
    auto p = std::make_shared<std::promise<LookupResult>>();
    auto f = p->get_future();
    d.lookup(label, [p](LookupResult r) { p->set_value(std::move(r)); });
    if (f.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "lookup of " << label << " never called back";
      return {};
    }
    return f.get();
  }
  // Asks until the lookup is contested or the deadline passes.
  static LookupResult contested_until(AgentDirectory& d, const std::string& label,
                                      std::chrono::seconds deadline = 10s) {
    const auto end = Clock::now() + deadline;
    LookupResult r;
    while (Clock::now() < end) {
      r = lookup_full(d, label);
      if (r.contested) break;
      std::this_thread::sleep_for(100ms);
    }
    return r;
  }

  testutil::TempDir dir_;
  std::uint32_t network_ = random_network();
};

TEST_F(Directories, IdentityIsMadeOnceThenReloaded) {
  std::string first;
  {
    AgentDirectory a(config("a"));
    first = a.key_id();
    EXPECT_EQ(first.size(), 40u);
    EXPECT_EQ(a.node_id().size(), 40u);
    EXPECT_NE(a.port(), 0);
  }
  EXPECT_TRUE(std::filesystem::exists(path("a", ".crt")));
  const auto key = std::filesystem::status(path("a", ".pem")).permissions();
  EXPECT_EQ(key & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  AgentDirectory again(config("a"));
  EXPECT_EQ(again.key_id(), first);
  AgentDirectory other(config("b"));
  EXPECT_NE(other.key_id(), first);
}

TEST_F(Directories, DamagedIdentityIsAClearStartupError) {
  { AgentDirectory a(config("a")); }
  const auto crt = read_text(path("a", ".crt"));
  std::ofstream(path("a", ".pem"), std::ios::trunc) << "not a key";
  expect_startup_error_naming("a", ".pem", "a damaged key");
  std::ofstream(path("a", ".pem"), std::ios::trunc).close();  // empty
  EXPECT_THROW(AgentDirectory(config("a")), DirectoryError);

  // A good key with a damaged certificate names the certificate.
  { AgentDirectory b(config("b")); }
  std::ofstream(path("b", ".crt"), std::ios::trunc) << "-----BEGIN CERTIFICATE-----\nxx\n";
  expect_startup_error_naming("b", ".crt", "a damaged certificate");
  // Another identity's certificate beside our key: a mismatch, not a new identity.
  std::ofstream(path("b", ".crt"), std::ios::trunc) << crt;
  EXPECT_THROW(AgentDirectory(config("b")), DirectoryError);

  std::filesystem::remove(path("b", ".pem"));
  // .crt alone: incomplete, never silently replaced.
  expect_startup_error_naming("b", ".pem", "an incomplete identity");
}

TEST_F(Directories, BadConfigurationIsAStartupError) {
  auto c = config("a");
  c.bind4 = "localhost";
  EXPECT_THROW(AgentDirectory{c}, DirectoryError);
  c = config("a");
  c.record_lifetime = 5s;
  EXPECT_THROW(AgentDirectory{c}, DirectoryError);
  AgentDirectory a(config("a"));
  c = config("b");
  c.port = a.port();  // taken
  EXPECT_THROW(AgentDirectory{c}, DirectoryError);
}

TEST_F(Directories, AloneClaimIsQuickAndUnknownLabelsAreAbsent) {
  AgentDirectory a(config("a"));
  const auto t0 = Clock::now();
  EXPECT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  const double claim = seconds_since(t0);
  std::printf("[timing] lone-node claim: %.3f s\n", claim);
  EXPECT_LT(claim, 2.0);  // no peers: the search ends at once, no waiting for the timeout
  const auto t1 = Clock::now();
  EXPECT_EQ(lookup_once(a, "nowhere"), std::nullopt);
  std::printf("[timing] lone-node lookup of an unknown label: %.3f s\n", seconds_since(t1));
  EXPECT_EQ(lookup_once(a, "uw"), record("uw", 4450, 100));  // from its own storage
  EXPECT_EQ(lookup_once(a, "UW"), record("uw", 4450, 100));  // labels are case-insensitive

  const auto err = a.claim_and_publish(record("-bad-", 4450, 100), 1s);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("invalid agent record"), std::string::npos) << *err;
}

TEST_F(Directories, PeersFindTheRecordAndAnotherKeyCannotClaimTheLabel) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  AgentDirectory b(config("b", a.port()));
  const auto t0 = Clock::now();
  const auto found = lookup_until(b, "uw");
  std::printf("[timing] 2-node lookup of a published record: %.3f s\n", seconds_since(t0));
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, record("uw", 4450, 100));

  // A third key claiming the same label is refused, and told whose it is.
  AgentDirectory c(config("c", a.port()));
  const auto t1 = Clock::now();
  const auto err = c.claim_and_publish(record("uw", 9999, 50), 5s);
  std::printf("[timing] 3-node refused claim: %.3f s\n", seconds_since(t1));
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("label 'uw' is already held in the DHT by key " + a.key_id()),
            std::string::npos)
      << *err;
  EXPECT_NE(err->find(path("c", "").string()), std::string::npos) << *err;
  // The refusal published nothing: readers still see a's record only, and c
  // did not pin the label to itself.
  EXPECT_EQ(lookup_until(b, "uw"), record("uw", 4450, 100));
  EXPECT_EQ(lookup_until(c, "uw"), record("uw", 4450, 100));
  EXPECT_EQ(read_text(path("c", ".pins")), "uw " + a.key_id() + "\n");

  // a can claim again (a restart of its agent with the same key).
  EXPECT_EQ(a.claim_and_publish(record("uw", 4450, 101), 5s), std::nullopt);
}

TEST_F(Directories, NeighborsAndGoodNodes) {
  AgentDirectory a(config("a"));
  EXPECT_EQ(a.good_nodes(), 0u);
  EXPECT_TRUE(a.neighbors().empty());
  AgentDirectory b(config("b", a.port()));
  const auto end = Clock::now() + 10s;
  bool seen = false;
  while (!seen && Clock::now() < end) {
    for (const auto& n : a.neighbors()) {
      if (n.id == b.node_id()) {
        EXPECT_EQ(n.address, "127.0.0.1:" + std::to_string(b.port()));
        seen = true;
      }
    }
    if (!seen) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(seen) << "a never listed b as a neighbour";
  while (b.good_nodes() == 0 && Clock::now() < end) std::this_thread::sleep_for(100ms);
  EXPECT_GE(b.good_nodes(), 1u);
}

TEST_F(Directories, AForeignKeysRecordIsNeverFollowedOncePinned) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  AgentDirectory b(config("b", a.port()));
  ASSERT_TRUE(lookup_until(b, "uw"));  // b pins a's key for "uw"

  // A hijacker puts a newer, validly signed record for "uw" with its own key,
  // bypassing the claim check, straight through OpenDHT.
  RawNode thief(network_, a.port());
  ASSERT_TRUE(thief.put_signed(record("uw", 6666, 999)));
  // The foreign record is really in the DHT, beside a's: two signers for "uw".
  ASSERT_TRUE(thief.wait_signers("uw", 2));

  // b keeps following a's key, however many times it asks, and saw the other.
  for (int i = 0; i < 5; ++i) {
    const auto r = lookup_once(b, "uw");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->gateway_port, 4450);
  }
  EXPECT_GT(b.stats().records_foreign, 0u);
  // So does a, and a's claim stands against the newer foreign record.
  EXPECT_EQ(lookup_once(a, "uw"), record("uw", 4450, 100));
  EXPECT_EQ(a.claim_and_publish(record("uw", 4450, 102), 5s), std::nullopt);
}

// A flood of bogus values under an agent's key: junk bytes, unsigned records,
// records for another label, oversized ones, validly signed records of another
// key. The pinned owner's record is still the answer, in bounded time, and
// every bogus value was looked at and dropped.
TEST_F(Directories, BogusValueFloodIsDroppedAndThePinnedRecordStillWins) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  AgentDirectory b(config("b", a.port()));
  ASSERT_TRUE(lookup_until(b, "uw"));  // b pins a's key for "uw"

  RawNode flood(network_, a.port());
  std::mt19937 rng(7);
  std::vector<::dht::Blob> junk, records;
  for (int i = 0; i < 60; ++i) {
    ::dht::Blob j(16 + rng() % 200);
    for (auto& byte : j) byte = static_cast<std::uint8_t>(rng());
    junk.push_back(j);
  }
  for (int i = 0; i < 20; ++i) {
    records.push_back(encode(record("mit", static_cast<std::uint16_t>(7000 + i), 900 + i)));
    records.push_back(::dht::Blob(4096 + i, 0x91));  // oversized
  }
  ASSERT_TRUE(flood.put_many("uw", junk, /*sign=*/false));
  ASSERT_TRUE(flood.put_many("uw", junk, /*sign=*/true));
  ASSERT_TRUE(flood.put_many("uw", records, /*sign=*/false));
  ASSERT_TRUE(flood.put_many("uw", records, /*sign=*/true));
  ASSERT_TRUE(flood.put_signed(record("uw", 6666, 999)));
  ASSERT_TRUE(flood.put_many("uw", junk, /*sign=*/false, /*type=*/0));  // OpenDHT's own type

  for (auto* d : {&a, &b}) {
    const auto t0 = Clock::now();
    const auto r = lookup_once(*d, "uw");
    EXPECT_LT(Clock::now() - t0, 10s);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, record("uw", 4450, 100));
  }
  const auto st = b.stats();
  EXPECT_GT(st.records_invalid, 100u) << "the junk was seen and dropped";
  EXPECT_GE(st.records_foreign, 1u) << "the other key's record was seen and dropped";
  // A label nobody holds, flooded with the same junk only: no record, not a crash.
  ASSERT_TRUE(flood.put_many("ghost", junk, /*sign=*/true));
  EXPECT_FALSE(lookup_once(b, "ghost"));
}

// Takeover by backdating: a foreign key's record claiming to be older than
// the holder's. No field the signer writes decides: a reader with no pin sees
// two keys and follows neither, until its operator pins one.
TEST_F(Directories, ABackdatedForeignRecordMakesTheLabelContested) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  RawNode older(network_, a.port());
  ASSERT_TRUE(older.put_signed(record("uw", 5555, 40)));
  ASSERT_TRUE(older.wait_signers("uw", 2));
  AgentDirectory d(config("d", a.port()));
  auto r = contested_until(d, "uw");
  EXPECT_FALSE(r.record) << "followed port " << r.record->gateway_port;
  EXPECT_TRUE(r.contested);
  auto expected = std::vector<std::string>{a.key_id(), older.key_id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(r.contenders, expected);
  EXPECT_GE(d.stats().lookups_contested, 1u);
  // Nothing was pinned: a contested label is not learnt.
  EXPECT_EQ(read_text(path("d", ".pins")).find("uw "), std::string::npos);
  EXPECT_EQ(d.stats().pins, 0u);

  // The operator pins the rightful key (`pweb-node pin add`, another process):
  // the running reader follows it, and drops the other.
  Pins(path("d", ".pins")).set_operator("uw", a.key_id());
  std::this_thread::sleep_for(1100ms);  // the pins file is checked once a second
  r = lookup_full(d, "uw");
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->gateway_port, 4450);
  EXPECT_EQ(r.owner, a.key_id());
  EXPECT_FALSE(r.contested);
  EXPECT_GT(d.stats().records_foreign, 0u);
  // An operator pin to the other key wins just the same.
  Pins(path("d", ".pins")).set_operator("uw", older.key_id());
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(lookup_once(d, "uw")->gateway_port, 5555);
  // `pin del`: contested again.
  Pins(path("d", ".pins")).remove("uw");
  std::this_thread::sleep_for(1100ms);
  EXPECT_TRUE(lookup_full(d, "uw").contested);
}

// Squatting: a foreign key published for a label nobody holds yet. The real
// agent is refused and told how to resolve it; its operator's pin of its own
// key lets it claim.
TEST_F(Directories, AnOperatorPinOfTheOwnKeyOvercomesASquatter) {
  AgentDirectory b(config("b"));
  RawNode squatter(network_, b.port());
  ASSERT_TRUE(squatter.put_signed(record("mit", 6666, 1)));
  ASSERT_TRUE(squatter.wait_signers("mit", 1));
  AgentDirectory m(config("m", b.port()));
  const auto err = m.claim_and_publish(record("mit", 4450, 100), 5s);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("held in the DHT by key " + squatter.key_id()), std::string::npos) << *err;
  EXPECT_NE(err->find("pweb-node pin add mit " + m.key_id()), std::string::npos) << *err;
  Pins(path("m", ".pins")).set_operator("mit", m.key_id());
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(m.claim_and_publish(record("mit", 4450, 100), 5s), std::nullopt);
  // And an operator pin to another key refuses our own claim, saying so.
  Pins(path("m", ".pins")).set_operator("mit", squatter.key_id());
  std::this_thread::sleep_for(1100ms);
  const auto pinned = m.claim_and_publish(record("mit", 4450, 101), 1s);
  ASSERT_TRUE(pinned);
  EXPECT_NE(pinned->find("pinned by the operator"), std::string::npos) << *pinned;
}

// A federation: every node trusts one CA. Forged records (a backdated one for
// a live label, one for a label not yet claimed) carry certificates of the
// forger's own CA, or none: they are dropped, the real agents claim and are
// followed.
TEST_F(Directories, WithTrustAnchorsForgedRecordsAreDroppedAndCertifiedAgentsFollowed) {
  const auto ca = dir_.path() / "ca";
  make_ca(ca, "federation", 30);
  const auto forger_ca = dir_.path() / "forger-ca";
  make_ca(forger_ca, "federation", 30);
  const auto anchored = [&](const std::string& name, std::uint16_t port = 0) {
    auto c = config(name, port);
    c.trust_anchors = {ca / kCaCertFile};
    return c;
  };
  AgentDirectory a(anchored("a"));
  // No label certificate yet: a clear error naming the command.
  const auto missing = a.claim_and_publish(record("uw", 4450, 100), 1s);
  ASSERT_TRUE(missing);
  EXPECT_NE(missing->find("pweb-node ca sign --ca CA_DIR --label uw --data-dir"), std::string::npos)
      << *missing;
  certify_node(ca, "uw", path("a", ""), 30);
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);

  RawNode forger(network_, a.port());
  const auto forged_cert = [&](const std::string& label) {
    return read_certificate_der([&] {
      const auto f = dir_.path() / (label + ".forged.pem");
      std::ofstream(f) << issue_label_cert(forger_ca, label, forger.spki(), 30, std::time(nullptr));
      return f;
    }());
  };
  auto backdated = record("uw", 5555, 40);
  backdated.cert = forged_cert("uw");
  ASSERT_TRUE(forger.put_signed(backdated));
  auto squat = record("mit", 6666, 1);
  squat.cert = forged_cert("mit");
  ASSERT_TRUE(forger.put_signed(squat));
  ASSERT_TRUE(forger.put_signed(record("cmu", 7777, 1)));  // no certificate at all
  ASSERT_TRUE(forger.wait_signers("uw", 2));
  ASSERT_TRUE(forger.wait_signers("mit", 1));

  // The squatted label: the certified agent claims it all the same.
  AgentDirectory m(anchored("m", a.port()));
  certify_node(ca, "mit", path("m", ""), 30);
  ASSERT_EQ(m.claim_and_publish(record("mit", 4450, 100), 5s), std::nullopt);
  // A certificate for another label does not do.
  AgentDirectory e(anchored("e", a.port()));
  certify_node(ca, "uw", path("e", ""), 30);
  const auto wrong = e.claim_and_publish(record("eth", 4450, 100), 1s);
  ASSERT_TRUE(wrong);
  EXPECT_NE(wrong->find("not 'eth'"), std::string::npos) << *wrong;

  // A new anchored reader follows the certified keys only.
  AgentDirectory d(anchored("d", a.port()));
  auto r = lookup_full(d, "uw");
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->gateway_port, 4450);
  EXPECT_EQ(r.owner, a.key_id());
  EXPECT_FALSE(r.record->cert.empty());
  r = lookup_full(d, "mit");
  ASSERT_TRUE(r.record);
  EXPECT_EQ(r.record->gateway_port, 4450);
  EXPECT_EQ(r.owner, m.key_id());
  EXPECT_EQ(lookup_once(d, "cmu"), std::nullopt);
  EXPECT_GE(d.stats().records_uncertified, 3u);
  EXPECT_EQ(d.stats().lookups_contested, 0u);
  EXPECT_EQ(d.stats().pins, 0u);  // the CA decides: nothing learnt on first use

  // The same DHT without anchors: both labels are contested.
  AgentDirectory plain(config("plain", a.port()));
  EXPECT_TRUE(contested_until(plain, "uw").contested);
  EXPECT_TRUE(contested_until(plain, "mit").contested);
}

TEST_F(Directories, PinsSurviveReconstruction) {
  std::string a_key;
  {
    AgentDirectory a(config("a"));
    a_key = a.key_id();
    ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
    AgentDirectory b(config("b", a.port()));
    ASSERT_TRUE(lookup_until(b, "uw"));  // b pins a's key
  }
  EXPECT_EQ(read_text(path("b", ".pins")), "uw " + a_key + "\n");

  // Later a new key holds "uw" in the DHT (a is gone, its record with it).
  AgentDirectory a2(config("a2"));
  ASSERT_NE(a2.key_id(), a_key);
  ASSERT_EQ(a2.claim_and_publish(record("uw", 7777, 300), 5s), std::nullopt);
  // b, restarted on its data dir, still follows a's key: it sees a2's record
  // and drops it.
  AgentDirectory b(config("b", a2.port()));
  EXPECT_EQ(b.stats().pins, 1u);
  const auto end = Clock::now() + 10s;
  while (b.stats().records_foreign == 0 && Clock::now() < end) {
    EXPECT_EQ(lookup_once(b, "uw"), std::nullopt);
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(b.stats().records_foreign, 0u);
  EXPECT_EQ(lookup_once(b, "uw"), std::nullopt);
  // And b may not claim "uw" for itself either: its pins say it is a's.
  const auto err = b.claim_and_publish(record("uw", 4450, 400), 1s);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find(a_key), std::string::npos) << *err;
  // The owner itself keeps its label across restarts.
  AgentDirectory a(config("a", a2.port()));
  EXPECT_EQ(a.key_id(), a_key);
}

TEST_F(Directories, TornPinsFileIsTolerated) {
  const std::string other(40, 'a');
  std::filesystem::create_directories(dir_.path() / "a");
  std::ofstream(path("a", ".pins")) << "uw " << other << "\nbad line here\nmit 12ab";
  AgentDirectory a(config("a"));
  EXPECT_EQ(a.stats().pins, 1u);
  const auto err = a.claim_and_publish(record("uw", 4450, 100), 1s);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find(other), std::string::npos) << *err;
  EXPECT_EQ(a.claim_and_publish(record("mit", 4450, 100), 1s), std::nullopt);
  // The new pin went on a line of its own, after the torn one.
  EXPECT_EQ(read_text(path("a", ".pins")),
            "uw " + other + "\nbad line here\nmit 12ab\nmit " + a.key_id() + "\n");
  a.stop();
  AgentDirectory again(config("a"));
  EXPECT_EQ(again.stats().pins, 2u);
}

TEST_F(Directories, ARestartedAgentReplacesItsRecord) {
  AgentDirectory b(config("b"));
  {
    AgentDirectory a(config("a", b.port()));
    ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
    ASSERT_EQ(lookup_until(b, "uw"), record("uw", 4450, 100));
  }
  // Same key, new address/ports: the same value id with a higher sequence
  // number, so storing nodes replace the old record rather than keep both.
  AgentDirectory a(config("a", b.port()));
  ASSERT_EQ(a.claim_and_publish(record("uw", 5555, 200), 5s), std::nullopt);
  const auto t0 = Clock::now();
  std::optional<AgentRecord> r;
  while (Clock::now() - t0 < 10s) {
    r = lookup_once(b, "uw");
    if (r && r->gateway_port == 5555) break;
    std::this_thread::sleep_for(100ms);
  }
  std::printf("[timing] restarted agent's record replaced in %.3f s\n", seconds_since(t0));
  EXPECT_EQ(r, record("uw", 5555, 200));
}

// A running agent whose addresses change publishes its new record: peers
// follow it without a restart, and only to the new one.
TEST_F(Directories, ARunningAgentRepublishesItsNewAddresses) {
  AgentDirectory b(config("b"));
  AgentDirectory a(config("a", b.port()));
  auto moved = record("mv", 4450, 100);
  EXPECT_NE(a.republish(moved), std::nullopt);  // nothing claimed yet
  ASSERT_EQ(a.claim_and_publish(moved, 5s), std::nullopt);
  ASSERT_EQ(lookup_until(b, "mv"), moved);
  auto other = record("uw", 4450, 100);
  EXPECT_NE(a.republish(other), std::nullopt);  // not the label it holds
  AgentRecord bad = moved;
  bad.ipv4 = {"not an address"};
  EXPECT_NE(a.republish(bad), std::nullopt);

  for (const char* address : {"127.0.0.2", "127.0.0.3"}) {
    moved.ipv4 = {address};
    moved.updated += 10;
    ASSERT_EQ(a.republish(moved), std::nullopt);
    const auto t0 = Clock::now();
    std::optional<AgentRecord> r;
    while (Clock::now() - t0 < 10s) {
      r = lookup_once(b, "mv");
      if (r && r->ipv4 == moved.ipv4) break;
      std::this_thread::sleep_for(100ms);
    }
    std::printf("[timing] republished record (%s) seen by a peer in %.3f s\n", address,
                seconds_since(t0));
    EXPECT_EQ(r, moved);
  }
}

TEST_F(Directories, LookupDoneIsCalledExactlyOnceEvenAcrossStop) {
  AgentDirectory a(config("a"));
  AgentDirectory b(config("b", a.port()));
  std::atomic<int> calls{0};
  std::atomic<int> found{0};
  constexpr int kLookups = 20;
  for (int i = 0; i < kLookups; ++i) {
    b.lookup("label" + std::to_string(i), [&](LookupResult r) {
      ++calls;
      if (r.record) ++found;
    });
  }
  b.stop();  // some may still be in flight or queued
  const auto end = Clock::now() + 5s;
  while (calls < kLookups && Clock::now() < end) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(calls, kLookups);
  // After stop: answered at once, still once.
  b.lookup("uw", [&](LookupResult r) {
    ++calls;
    if (r.record) ++found;
  });
  EXPECT_EQ(calls, kLookups + 1);
  b.stop();  // idempotent
  EXPECT_EQ(b.good_nodes(), 0u);
  EXPECT_TRUE(b.neighbors().empty());
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(calls, kLookups + 1);
  EXPECT_EQ(found, 0);
  EXPECT_EQ(b.claim_and_publish(record("uw", 4450, 1), 1s), "the DHT node is stopped");
}

// OpenDHT re-announces a permanent value 10 s before its type's expiration.
constexpr auto kShortLifetime = 15s;

TEST_F(Directories, ARecordOutlivesItsLifetimeWhileItsAgentRuns) {
  auto ca = config("a");
  ca.record_lifetime = kShortLifetime;
  AgentDirectory a(ca);
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  auto cb = config("b", a.port());
  cb.record_lifetime = kShortLifetime;
  auto b = std::make_unique<AgentDirectory>(cb);
  ASSERT_TRUE(lookup_until(*b, "uw"));  // b stores a copy about now
  const auto t0 = Clock::now();
  while (Clock::now() - t0 < kShortLifetime + 3s) {
    ASSERT_EQ(lookup_once(*b, "uw"), record("uw", 4450, 100))
        << "gone after " << seconds_since(t0) << " s";
    std::this_thread::sleep_for(500ms);
  }
  // a always answers from its own storage; b's copy, stored about t0, would
  // have expired by now had a not refreshed it. Without a, b still has it.
  a.stop();
  EXPECT_EQ(lookup_once(*b, "uw"), record("uw", 4450, 100));
}

TEST_F(Directories, ADeadAgentsRecordExpires) {
  auto cb = config("b");
  cb.record_lifetime = kShortLifetime;
  AgentDirectory b(cb);
  auto ca = config("a", b.port());
  ca.record_lifetime = kShortLifetime;
  auto a = std::make_unique<AgentDirectory>(ca);
  ASSERT_EQ(a->claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  ASSERT_TRUE(lookup_until(b, "uw"));
  const auto t0 = Clock::now();
  a.reset();  // stops re-announcing; what b stores lives out its lifetime
  std::printf("[timing] stop of a node: %.3f s\n", seconds_since(t0));
  double last_seen = 0, longest_lookup = 0;
  bool gone = false;
  while (Clock::now() - t0 < kShortLifetime + 15s) {
    const auto t1 = Clock::now();
    const auto r = lookup_once(b, "uw");
    longest_lookup = std::max(longest_lookup, seconds_since(t1));
    if (!r) {
      gone = true;
      break;
    }
    last_seen = seconds_since(t0);
    std::this_thread::sleep_for(250ms);
  }
  std::printf(
      "[timing] dead agent's record last seen %.1f s after its stop, gone at %.1f s; "
      "longest lookup %.2f s\n",
      last_seen, seconds_since(t0), longest_lookup);
  EXPECT_TRUE(gone) << "still there " << seconds_since(t0) << " s after its agent stopped";
}

// Several nodes serve one label with one identity (its files copied): each
// publishes its own record, a reader gets them all, and a dead node's record
// is gone once its lifetime passes (15 s here, the minimum; 120 s by default).
TEST_F(Directories, NodesSharingAnIdentityEachPublishAndADeadOnesRecordExpires) {
  auto cb = config("b");
  cb.record_lifetime = kShortLifetime;
  AgentDirectory b(cb);
  auto c1 = config("a1", b.port());
  c1.record_lifetime = kShortLifetime;
  auto a1 = std::make_unique<AgentDirectory>(c1);
  const auto first_value_id = a1->value_id();
  const auto first_node_id = a1->node_id();
  share_identity("a1", "a2");
  auto c2 = config("a2", b.port());
  c2.record_lifetime = kShortLifetime;
  AgentDirectory a2(c2);
  EXPECT_EQ(a2.key_id(), a1->key_id());
  EXPECT_NE(a2.value_id(), a1->value_id());  // its own node id, not copied
  EXPECT_NE(a2.node_id(), a1->node_id());    // two places in the DHT, not one
  const auto mode = std::filesystem::status(path("a2", ".node-id")).permissions();
  EXPECT_EQ(mode & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_EQ(std::filesystem::file_size(path("a2", ".node-id")), 8u);

  ASSERT_EQ(a1->claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  // The other node's record under our key is no obstacle.
  ASSERT_EQ(a2.claim_and_publish(record("uw", 4451, 101), 5s), std::nullopt);
  const auto t0 = Clock::now();
  LookupResult r;
  while (Clock::now() - t0 < 10s) {
    r = lookup_full(b, "uw");
    if (r.records.size() == 2) break;
    std::this_thread::sleep_for(100ms);
  }
  std::printf("[timing] both nodes' records seen in %.3f s\n", seconds_since(t0));
  ASSERT_EQ(r.records.size(), 2u);
  std::set<std::uint16_t> ports;
  for (const auto& rec : r.records) ports.insert(rec.gateway_port);
  EXPECT_EQ(ports, (std::set<std::uint16_t>{4450, 4451}));
  EXPECT_EQ(r.record, record("uw", 4451, 101));  // the newest
  EXPECT_EQ(r.owner, a1->key_id());
  // The same order on every asker: a node of the label sees the same list.
  const auto from_a2 = lookup_full(a2, "uw");
  EXPECT_EQ(from_a2.records, r.records);

  a1.reset();  // dead: its record lives out its lifetime at the storing nodes
  const auto t1 = Clock::now();
  bool gone = false;
  while (Clock::now() - t1 < kShortLifetime + 15s) {
    r = lookup_full(b, "uw");
    ASSERT_TRUE(r.record) << "the live node's record vanished";
    if (r.records.size() == 1) {
      gone = true;
      break;
    }
    std::this_thread::sleep_for(250ms);
  }
  std::printf("[timing] dead node's record gone %.1f s after its stop\n", seconds_since(t1));
  ASSERT_TRUE(gone) << "still there " << seconds_since(t1) << " s after its node stopped";
  EXPECT_EQ(r.records.front(), record("uw", 4451, 101));

  // The node id lasts across restarts: a restarted node replaces its record.
  AgentDirectory again(c1);
  EXPECT_EQ(again.value_id(), first_value_id);
  EXPECT_EQ(again.node_id(), first_node_id);
}

// Two records naming one gateway (say a node's record from before it got a
// new node id, still stored) are one node to ask: the newer one.
TEST_F(Directories, RecordsNamingOneGatewayCountOnce) {
  AgentDirectory b(config("b"));
  AgentDirectory a1(config("a1", b.port()));
  share_identity("a1", "a2");
  AgentDirectory a2(config("a2", b.port()));
  ASSERT_EQ(a1.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  ASSERT_EQ(lookup_until(b, "uw"), record("uw", 4450, 100));  // b holds a1's now
  ASSERT_EQ(a2.claim_and_publish(record("uw", 4450, 200), 5s), std::nullopt);
  const auto t0 = Clock::now();
  LookupResult r;
  while (Clock::now() - t0 < 10s) {
    r = lookup_full(b, "uw");
    if (r.record && r.record->updated == 200) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(r.record, record("uw", 4450, 200));
  EXPECT_EQ(r.records, std::vector<AgentRecord>{record("uw", 4450, 200)});
}

TEST_F(Directories, ADamagedNodeIdIsAClearStartupError) {
  { AgentDirectory a(config("a")); }
  std::ofstream(path("a", ".node-id"), std::ios::trunc) << "short";
  expect_startup_error_naming("a", ".node-id", "a damaged node id");
}

TEST_F(Directories, ADeadPeerDoesNotSlowLookupsOfALiveAgent) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  auto c = std::make_unique<AgentDirectory>(config("c", a.port()));
  ASSERT_TRUE(lookup_until(*c, "uw"));
  AgentDirectory b(config("b", a.port()));
  ASSERT_TRUE(lookup_until(b, "uw"));  // b knows c now, and pins a's key
  c.reset();                           // dead: its replies will never come
  double longest = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = Clock::now();
    EXPECT_EQ(lookup_once(b, "uw"), record("uw", 4450, 100));
    longest = std::max(longest, seconds_since(t0));
  }
  std::printf("[timing] longest lookup with a dead peer: %.3f s\n", longest);
  // OpenDHT's search waits seconds for the dead peer; the answer must not.
  EXPECT_LT(longest, 0.5);
}

}  // namespace
}  // namespace pweb::dht
