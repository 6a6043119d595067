// The resolver against real gateway servers on loopback; agent records come
// from a lookup function given to it (the DHT itself is tested in dht_tests
// and in the multi-node integration tests).
#include "pweb/node/resolver.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "pweb/gateway/server.hpp"
#include "pweb/lock_guarded.hpp"

namespace pweb::node {
namespace {

using namespace std::chrono_literals;
using Status = dns::RemoteAnswer::Status;

// An agent: answers its devices, "failure" for anything else; can be slowed.
class Agent {
 public:
  explicit Agent(std::map<std::string, registrar::Ipv4> devices,
                 std::chrono::milliseconds delay = 0ms)
      : devices_(std::move(devices)),
        server_(
            [] {
              gateway::ServerConfig c;
              c.port = 0;
              return c;
            }(),
            [this](const std::string& name, std::function<void(gateway::Reply)> done) {
              ++queries;
              gateway::Reply r;
              if (const auto it = devices_.find(name); it != devices_.end()) {
                r.success = true;
                r.family = 4;
                std::copy(it->second.begin(), it->second.end(), r.address.begin());
              }
              if (delay_ == 0ms) return done(r);
              slow_.lock()->emplace_back([r, done, d = delay_] {
                std::this_thread::sleep_for(d);
                done(r);
              });
            }),
        delay_(delay) {
    server_.start();
  }
  ~Agent() {
    // Late answers land while the server still exists (stopped or not).
    for (auto& t : *slow_.lock()) t.join();
  }
  std::uint16_t port() const { return server_.port(); }
  void stop() { server_.stop(); }
  std::atomic<int> queries{0};

 private:
  std::map<std::string, registrar::Ipv4> devices_;
  gateway::GatewayServer server_;
  std::chrono::milliseconds delay_;
  LockGuarded<std::vector<std::thread>> slow_;
};

dht::AgentRecord record(const std::string& label, std::uint16_t port) {
  dht::AgentRecord r;
  r.label = label;
  r.ipv4 = {"127.0.0.1"};
  r.gateway_port = port;
  return r;
}

class ResolverTest : public ::testing::Test {
 protected:
  ResolverTest() {
    std::vector<registrar::DeviceRecord> recs(1);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    snapshots_ = std::make_unique<registrar::SnapshotHolder>(registrar::Snapshot::build(recs, 1));
  }

  // Records served by the "DHT": label -> record; counts lookups.
  AgentLookup lookup() {
    return [this](const std::string& label, std::function<void(AgentLookupResult)> done) {
      ++lookups_;
      AgentLookupResult r;
      {
        auto records = records_.lock();
        if (const auto it = records->find(label); it != records->end()) r.record = it->second;
      }
      r.failed = dht_down_;
      std::thread([r, done] {
        std::this_thread::sleep_for(5ms);  // answers come from another thread, later
        done(r);
      }).detach();
    };
  }
  void publish(const dht::AgentRecord& r) { (*records_.lock())[r.label] = r; }

  std::unique_ptr<Resolver> make(ResolverConfig cfg = {}) {
    if (cfg.own_label.empty() && cfg.home_agents.empty()) cfg.own_label = "uw";
    auto r = std::make_unique<Resolver>(cfg, *snapshots_, lookup());
    r->start();
    return r;
  }

  static Resolution ask(Resolver& r, const std::string& key) {
    std::promise<Resolution> p;
    auto f = p.get_future();
    r.resolve_detailed(key, [&p](const Resolution& res) { p.set_value(res); });
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready) << key;
    return f.get();
  }

  std::unique_ptr<registrar::SnapshotHolder> snapshots_;
  LockGuarded<std::map<std::string, dht::AgentRecord>> records_;
  std::atomic<int> lookups_{0};
  std::atomic<bool> dht_down_{false};
};

TEST_F(ResolverTest, OwnDevicesAreLocalAndOwnMissingNamesNxdomain) {
  auto r = make();
  auto res = ask(*r, "laptop.alice.uw");
  EXPECT_EQ(res.answer.status, Status::found);
  EXPECT_EQ(res.source, Source::local);
  EXPECT_EQ(res.answer.entry.v4, (registrar::Ipv4{192, 0, 2, 10}));
  res = ask(*r, "tablet.alice.uw");
  EXPECT_EQ(res.answer.status, Status::nxdomain);
  EXPECT_EQ(res.source, Source::local);
  EXPECT_EQ(lookups_, 0);
}

TEST_F(ResolverTest, RemoteDeviceThroughTheAgentRecordThenCached) {
  Agent mit({{"laptop.bob.mit", {198, 51, 100, 7}}});
  publish(record("mit", mit.port()));
  auto r = make();
  auto res = ask(*r, "laptop.bob.mit");
  EXPECT_EQ(res.answer.status, Status::found);
  EXPECT_EQ(res.source, Source::remote);
  EXPECT_EQ(res.answer.entry.v4, (registrar::Ipv4{198, 51, 100, 7}));
  EXPECT_EQ(res.answer.ttl, 60u);
  EXPECT_NE(res.agent.find("mit@127.0.0.1:"), std::string::npos);
  res = ask(*r, "laptop.bob.mit");
  EXPECT_EQ(res.source, Source::cache);
  EXPECT_EQ(mit.queries, 1);
  // A second name of the same agent needs no second record lookup.
  res = ask(*r, "phone.bob.mit");
  EXPECT_EQ(res.answer.status, Status::nxdomain);
  EXPECT_EQ(lookups_, 1);
  EXPECT_EQ(mit.queries, 2);
}

TEST_F(ResolverTest, ConcurrentQueriesForOneNameShareOneLookup) {
  Agent mit({{"laptop.bob.mit", {198, 51, 100, 7}}}, 200ms);
  publish(record("mit", mit.port()));
  auto r = make();
  std::vector<std::future<Resolution>> answers;
  std::vector<std::shared_ptr<std::promise<Resolution>>> promises;
  for (int i = 0; i < 50; ++i) {
    auto p = std::make_shared<std::promise<Resolution>>();
    answers.push_back(p->get_future());
    r->resolve_detailed("laptop.bob.mit", [p](const Resolution& res) { p->set_value(res); });
    promises.push_back(p);
  }
  for (auto& f : answers) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    EXPECT_EQ(f.get().answer.status, Status::found);
  }
  EXPECT_EQ(mit.queries, 1);
  EXPECT_EQ(lookups_, 1);
  EXPECT_EQ(r->stats().joined, 49u);
}

TEST_F(ResolverTest, UnknownAgentIsNxdomainAndAFailedDhtServfail) {
  auto r = make();
  auto res = ask(*r, "laptop.bob.nowhere");
  EXPECT_EQ(res.answer.status, Status::nxdomain);
  EXPECT_NE(res.detail.find("no agent 'nowhere'"), std::string::npos);
  dht_down_ = true;
  res = ask(*r, "laptop.bob.elsewhere");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_EQ(res.answer.ttl, 1u);  // retried soon, not remembered long
}

TEST_F(ResolverTest, DeadAgentIsServfailWithinTheTimeout) {
  std::uint16_t port = 0;
  {
    Agent gone({});
    port = gone.port();
  }  // closed: connections are refused
  publish(record("mit", port));
  ResolverConfig cfg;
  cfg.timeout = 500ms;
  auto r = make(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = ask(*r, "laptop.bob.mit");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(res.answer.status, Status::servfail);
}

TEST_F(ResolverTest, SlowAgentIsServfailAtTheTimeoutNeverAHang) {
  Agent slow({{"laptop.bob.mit", {198, 51, 100, 7}}}, 1500ms);
  publish(record("mit", slow.port()));
  ResolverConfig cfg;
  cfg.timeout = 300ms;
  auto r = make(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = ask(*r, "laptop.bob.mit");
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  EXPECT_EQ(r->stats().timeouts, 1u);
}

TEST_F(ResolverTest, GatewayModeRoundRobinSkipsDeadAgents) {
  Agent a({{"laptop.alice.uw", {192, 0, 2, 1}}});
  Agent b({{"laptop.alice.uw", {192, 0, 2, 2}}});
  std::uint16_t dead_port = 0;
  {
    Agent dead({});
    dead_port = dead.port();
  }
  ResolverConfig cfg;
  cfg.timeout = 2s;
  cfg.ttl = 0;  // no caching: every ask goes out
  cfg.home_agents = {{"127.0.0.1", a.port()}, {"127.0.0.1", dead_port}, {"127.0.0.1", b.port()}};
  const registrar::SnapshotHolder empty(registrar::Snapshot::build({}, 1));
  auto r = std::make_unique<Resolver>(cfg, empty, AgentLookup{});
  r->start();
  std::map<int, int> seen;
  for (int i = 0; i < 12; ++i) {
    const auto res = ask(*r, "laptop.alice.uw");
    ASSERT_EQ(res.answer.status, Status::found) << i;
    ++seen[res.answer.entry.v4[3]];
  }
  EXPECT_GE(seen[1], 3);  // both live agents share the load
  EXPECT_GE(seen[2], 3);
  EXPECT_EQ(a.queries + b.queries, 12);
}

TEST_F(ResolverTest, GatewayModeSkipsAHungAgentWithinTheTimeout) {
  Agent hung({{"laptop.alice.uw", {192, 0, 2, 1}}}, 2500ms);  // connected, never in time
  Agent live({{"laptop.alice.uw", {192, 0, 2, 2}}});
  ResolverConfig cfg;
  cfg.timeout = 1s;
  cfg.ttl = 0;  // no caching: every ask goes out
  cfg.home_agents = {{"127.0.0.1", hung.port()}, {"127.0.0.1", live.port()}};
  const registrar::SnapshotHolder empty(registrar::Snapshot::build({}, 1));
  Resolver r(cfg, empty, AgentLookup{});
  r.start();
  int waited = 0;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto res = ask(r, "laptop.alice.uw");
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(res.answer.status, Status::found) << i;  // the live agent, in time
    EXPECT_EQ(res.answer.entry.v4[3], 2) << i;
    EXPECT_LT(took, 1s) << i;
    if (took >= 400ms) ++waited;  // this one tried the hung agent first
  }
  EXPECT_GE(waited, 1);  // the hung agent was tried...
  EXPECT_LE(waited, 4);  // ...but not every other time: it is skipped while suspect
  r.stop();
}

}  // namespace
}  // namespace pweb::node
