// Real OpenDHT nodes on loopback, each on an ephemeral port, in a private network.
#include "pweb/dht/agent_directory.hpp"

#include <gtest/gtest.h>
#include <opendht/dhtrunner.h>

#include <fstream>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "../temp_dir.hpp"

namespace pweb::dht {
namespace {

using namespace std::chrono_literals;

std::uint32_t random_network() {
  std::random_device rd;
  return 0x70000000u | (rd() & 0x0FFFFFFFu);
}

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

  static AgentRecord record(const std::string& label, std::uint16_t port, std::int64_t updated) {
    AgentRecord r;
    r.label = label;
    r.ipv4 = {"127.0.0.1"};
    r.gateway_port = port;
    r.updated = updated;
    return r;
  }

  // Asks until a record comes back or the deadline passes.
  static std::optional<AgentRecord> lookup_until(AgentDirectory& d, const std::string& label,
                                                 std::chrono::seconds deadline = 15s) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (auto r = lookup_once(d, label)) return r;
      std::this_thread::sleep_for(200ms);
    }
    return std::nullopt;
  }
  static std::optional<AgentRecord> lookup_once(AgentDirectory& d, const std::string& label) {
    auto p = std::make_shared<std::promise<std::optional<AgentRecord>>>();
    auto f = p->get_future();
    d.lookup(label, [p](std::optional<AgentRecord> r) { p->set_value(std::move(r)); });
    if (f.wait_for(20s) != std::future_status::ready) {
      ADD_FAILURE() << "lookup of " << label << " never called back";
      return std::nullopt;
    }
    return f.get();
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
    EXPECT_NE(a.port(), 0);
  }
  AgentDirectory again(config("a"));
  EXPECT_EQ(again.key_id(), first);
  const auto key = std::filesystem::status(dir_.path() / "a" / "identity.pem").permissions();
  EXPECT_EQ(key & std::filesystem::perms::group_read, std::filesystem::perms::none);
  EXPECT_EQ(key & std::filesystem::perms::others_read, std::filesystem::perms::none);
}

TEST_F(Directories, DamagedIdentityIsAClearStartupError) {
  { AgentDirectory a(config("a")); }
  std::ofstream(dir_.path() / "a" / "identity.pem", std::ios::trunc) << "not a key";
  try {
    AgentDirectory again(config("a"));
    FAIL() << "a damaged key was accepted";
  } catch (const DirectoryError& e) {
    EXPECT_NE(std::string(e.what()).find("identity.pem"), std::string::npos) << e.what();
  }
  std::filesystem::remove(dir_.path() / "a" / "identity.pem");
  EXPECT_THROW(AgentDirectory(config("a")), DirectoryError);  // .crt alone: incomplete
}

TEST_F(Directories, AlonePublishingSucceedsAndUnknownLabelsAreAbsent) {
  AgentDirectory a(config("a"));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);  // no peers: no long wait
  EXPECT_EQ(lookup_once(a, "nowhere"), std::nullopt);
}

TEST_F(Directories, PeersFindTheRecordAndAnotherKeyCannotClaimTheLabel) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  AgentDirectory b(config("b", a.port()));
  const auto found = lookup_until(b, "uw");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, record("uw", 4450, 100));
  EXPECT_GE(b.good_nodes() + a.neighbors().size(), 1u);

  AgentDirectory c(config("c", a.port()));
  const auto err = c.claim_and_publish(record("uw", 9999, 200), 5s);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find(a.key_id()), std::string::npos) << *err;
  EXPECT_NE(err->find("already held"), std::string::npos) << *err;
  // The refusal published nothing: readers still see a's record only.
  EXPECT_EQ(lookup_until(b, "uw"), record("uw", 4450, 100));
}

TEST_F(Directories, AForeignKeysRecordIsNeverFollowedOncePinned) {
  AgentDirectory a(config("a"));
  ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  AgentDirectory b(config("b", a.port()));
  ASSERT_TRUE(lookup_until(b, "uw"));  // b pins a's key for "uw"

  // A hijacker puts a newer, validly signed record for "uw" with its own key,
  // bypassing the claim check, straight through OpenDHT.
  ::dht::DhtRunner thief;
  ::dht::DhtRunner::Config rc;
  rc.dht_config.id = ::dht::crypto::generateIdentity("thief", {}, 1024);
  rc.dht_config.node_config.network = network_;
  rc.dht_config.node_config.max_peer_req_per_sec = -1;
  rc.dht_config.node_config.max_req_per_sec = -1;
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rc.bind4 = ::dht::SockAddr(reinterpret_cast<const sockaddr*>(&sin), sizeof sin);
  thief.run(rc, ::dht::DhtRunner::Context{});
  thief.bootstrap("127.0.0.1", std::to_string(a.port()));
  auto v = std::make_shared<::dht::Value>(encode(record("uw", 6666, 999)));
  v->type = 0x7077;
  auto stored = std::make_shared<std::promise<bool>>();
  auto stored_f = stored->get_future();
  thief.putSigned(
      ::dht::InfoHash::get("pweb:agent:uw"), v, [stored](bool ok) { stored->set_value(ok); }, true);
  ASSERT_EQ(stored_f.wait_for(20s), std::future_status::ready);

  // The foreign record is really in the DHT, beside a's: two signers for "uw".
  std::set<std::string> owners;
  const auto end = std::chrono::steady_clock::now() + 15s;
  while (owners.size() < 2 && std::chrono::steady_clock::now() < end) {
    for (const auto& value : thief.get(::dht::InfoHash::get("pweb:agent:uw")).get()) {
      if (value->isSigned()) owners.insert(value->owner->getId().toString());
    }
  }
  ASSERT_EQ(owners.size(), 2u);
  // But b keeps following a's key, however many times it asks.
  for (int i = 0; i < 5; ++i) {
    const auto r = lookup_once(b, "uw");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->gateway_port, 4450);
  }
  thief.shutdown({}, true);
  thief.join();
}

TEST_F(Directories, PinsSurviveARestart) {
  std::string a_key;
  {
    AgentDirectory a(config("a"));
    a_key = a.key_id();
    ASSERT_EQ(a.claim_and_publish(record("uw", 4450, 100), 5s), std::nullopt);
  }
  // Same data dir, same key: a restart keeps its label.
  AgentDirectory a(config("a"));
  EXPECT_EQ(a.key_id(), a_key);
  EXPECT_EQ(a.claim_and_publish(record("uw", 4450, 101), 5s), std::nullopt);
  std::ifstream pins(dir_.path() / "a" / "identity.pins");
  std::string label, key;
  ASSERT_TRUE(pins >> label >> key);
  EXPECT_EQ(label, "uw");
  EXPECT_EQ(key, a_key);
}

}  // namespace
}  // namespace pweb::dht
