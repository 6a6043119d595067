// The resolver against real gateway servers on loopback; agent records come
// from a lookup function given to it (the DHT itself is tested in dht_tests
// and in the multi-node integration tests).
#include "pweb/node/resolver.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <map>
#include <thread>

#include "pweb/gateway/frame.hpp"
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
            [this](const std::string& name, std::function<void(gateway::Answer)> done) {
              ++queries;
              gateway::Answer r;
              if (const auto it = devices_.find(name); it != devices_.end()) {
                r.status = gateway::AnswerStatus::found;
                r.ipv4.push_back(it->second);
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
    // Stopped first: no query (a client's probe too) adds a thread after the
    // joins. Late answers land while the server still exists.
    server_.stop();
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

// An agent that lies: it shakes hands, reads one QUERY, and answers it wrongly.
enum class Lie {
  wrong_serial,
  truncated_reply,
  garbage,
  bad_handshake,
  bad_family,
  silence_then_close
};

class LyingAgent {
 public:
  explicit LyingAgent(Lie lie) : lie_(lie) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      ADD_FAILURE() << "cannot listen";
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LyingAgent() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::atomic<int> queries{0};

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      talk(c);
      ::close(c);
    }
  }
  // Reads what is there within `ms`, appending to `in`.
  static void read_some(int c, std::vector<std::uint8_t>& in, int ms) {
    pollfd p{c, POLLIN, 0};
    if (::poll(&p, 1, ms) <= 0) return;
    std::uint8_t buf[512];
    const auto n = ::read(c, buf, sizeof buf);
    if (n > 0) in.insert(in.end(), buf, buf + n);
  }
  static void write_all(int c, const std::vector<std::uint8_t>& out) {
    (void)!::write(c, out.data(), out.size());
  }
  void talk(int c) {
    std::vector<std::uint8_t> in, out;
    read_some(c, in, 1000);  // the version
    if (lie_ == Lie::bad_handshake) return write_all(c, {0x00, 0x07, 0xde, 0xad});
    gateway::encode_version(out);
    write_all(c, out);
    // It speaks v1 only: to a client offering more it says so and parts (the
    // client comes back with v1).
    if (gateway::decode_version(in) != gateway::kVersion) return;
    in.clear();
    gateway::Query q;
    for (int i = 0; i < 20 && !stop_; ++i) {
      read_some(c, in, 100);
      const auto d = gateway::decode(in);
      if (d.status == gateway::DecodeStatus::frame) {
        q = std::get<gateway::Query>(d.frame);
        break;
      }
    }
    ++queries;
    out.clear();
    gateway::Reply r;
    r.serial = q.serial;
    r.success = true;
    r.family = 4;
    r.address = {198, 51, 100, 66};
    switch (lie_) {
      case Lie::wrong_serial:
        r.serial = static_cast<std::uint16_t>(q.serial + 1);
        gateway::encode(out, r);
        break;
      case Lie::truncated_reply:
        gateway::encode(out, r);
        out.resize(out.size() - 2);
        break;
      case Lie::garbage:
        out = {0xff, 0xff, 0x13, 0x37, 0x00, 0x01, 0x02, 0x03, 0x04};
        break;
      case Lie::bad_family:
        gateway::encode(out, r);
        out[5] = 5;  // family byte: neither 4 nor 6
        break;
      case Lie::silence_then_close:
      case Lie::bad_handshake:
        break;
    }
    write_all(c, out);
    // Then hold the connection open a while: a client must not wait on it forever.
    for (int i = 0; i < 10 && !stop_; ++i) read_some(c, in, 50);
  }

  Lie lie_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
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
        if (const auto it = nodes_.find(label); it != nodes_.end()) {
          r.records = it->second;  // several nodes serve the label
          r.record = it->second.front();
        }
      }
      if (label == contested_label_) {
        r.contested = true;
        r.contenders = {std::string(40, 'a'), std::string(40, 'b')};
      }
      r.failed = dht_down_;
      std::thread([r, done] {
        std::this_thread::sleep_for(5ms);  // answers come from another thread, later
        done(r);
      }).detach();
    };
  }
  void publish(const dht::AgentRecord& r) { (*records_.lock())[r.label] = r; }
  // Set before make(): the records of the nodes serving `label`, in the DHT's order.
  void publish_nodes(const std::string& label, std::vector<dht::AgentRecord> nodes) {
    nodes_[label] = std::move(nodes);
  }

  std::unique_ptr<Resolver> make(ResolverConfig cfg = {}) {
    if (cfg.own_label.empty() && cfg.home_agents.empty()) cfg.own_label = "uw";
    auto r = std::make_unique<Resolver>(cfg, *snapshots_, lookup());
    r->start();
    return r;
  }

  // Label mit on two nodes: the first hung (connected, never in time), the
  // second live; asked with a timeout of 1 s (500 ms a node) and no caching.
  struct HungAndLive {
    Agent hung{{{"laptop.bob.mit", {198, 51, 100, 1}}}, 2500ms};
    Agent live{{{"laptop.bob.mit", {198, 51, 100, 2}}}};
  };
  std::unique_ptr<Resolver> make(const HungAndLive& nodes) {
    publish_nodes("mit", {record("mit", nodes.hung.port()), record("mit", nodes.live.port())});
    ResolverConfig cfg;
    cfg.timeout = 1s;
    cfg.ttl = 0;
    return make(cfg);
  }

  static Resolution ask(Resolver& r, const std::string& key, std::uint16_t qtype = dns::type::A) {
    std::promise<Resolution> p;
    auto f = p.get_future();
    r.resolve_detailed(key, qtype, [&p](const Resolution& res) { p.set_value(res); });
    EXPECT_EQ(f.wait_for(10s), std::future_status::ready) << key;
    return f.get();
  }

  std::unique_ptr<registrar::SnapshotHolder> snapshots_;
  LockGuarded<std::map<std::string, dht::AgentRecord>> records_;
  std::map<std::string, std::vector<dht::AgentRecord>> nodes_;
  std::atomic<int> lookups_{0};
  std::atomic<bool> dht_down_{false};
  std::string contested_label_;  // the DHT finds several keys for it, none pinned
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
    r->resolve_detailed("laptop.bob.mit", dns::type::A,
                        [p](const Resolution& res) { p->set_value(res); });
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
  EXPECT_EQ(res.failure, Failure::dht);
  EXPECT_EQ(res.answer.ttl, 1u);  // retried soon, not remembered long
  // A failure answered from the cache still says what failed.
  res = ask(*r, "laptop.bob.elsewhere");
  EXPECT_EQ(res.source, Source::cache);
  EXPECT_EQ(res.failure, Failure::dht);
}

TEST_F(ResolverTest, ContestedAgentLabelIsServfailWithAnExtendedError) {
  contested_label_ = "mit";
  auto r = make();
  auto res = ask(*r, "laptop.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_EQ(res.failure, Failure::contested);
  EXPECT_STREQ(to_string(res.failure), "contested");
  EXPECT_TRUE(res.answer.ede.present);
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeInvalidData);
  EXPECT_EQ(res.answer.ede.text, "agent label contested: signed by several keys");
  EXPECT_NE(res.detail.find(std::string(40, 'b')), std::string::npos) << res.detail;
  EXPECT_EQ(r->stats().agent_lookup_contested, 1u);
  // Another name of the agent: the contested state is remembered briefly, not asked again.
  res = ask(*r, "phone.bob.mit");
  EXPECT_EQ(res.failure, Failure::contested);
  EXPECT_EQ(lookups_, 1);
  // An unreachable DHT says so with its own code (RFC 8914 22 No Reachable Authority).
  dht_down_ = true;
  res = ask(*r, "laptop.bob.elsewhere");
  EXPECT_EQ(res.failure, Failure::dht);
  EXPECT_TRUE(res.answer.ede.present);
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeNoReachableAuthority);
  EXPECT_EQ(res.answer.ede.text, "DHT unreachable");
}

// Protocol v2: a dual-stack device's both addresses, the agent's own TTL
// (within ours), and "could not tell" kept apart from "no such device".
TEST_F(ResolverTest, VersionTwoAgentGivesBothAddressesItsTtlAndFailures) {
  gateway::ServerConfig sc;
  sc.port = 0;
  gateway::GatewayServer agent(sc, [](const std::string& name, auto done) {
    gateway::Answer a;
    if (name == "dual.bob.mit") {
      a = {0, gateway::AnswerStatus::found, 5, {{198, 51, 100, 9}}, {{0x20, 0x01, 0x0d, 0xb8}}};
    } else if (name == "long.bob.mit") {
      a = {0, gateway::AnswerStatus::found, 86400, {{198, 51, 100, 10}}, {}};
    } else if (name == "broken.bob.mit") {
      a = {0, gateway::AnswerStatus::failed, 0, {}, {}};
    } else {
      a = {0, gateway::AnswerStatus::absent, 30, {}, {}};
    }
    done(a);
  });
  agent.start();
  publish(record("mit", agent.port()));
  auto r = make();
  // Answers are per type now: ANY asks for both addresses.
  auto res = ask(*r, "dual.bob.mit", dns::type::ANY);
  ASSERT_EQ(res.answer.status, Status::found);
  EXPECT_TRUE(res.answer.entry.has_v4());
  ASSERT_TRUE(res.answer.entry.has_v6());
  EXPECT_EQ(res.answer.entry.v6[3], 0xb8);
  EXPECT_EQ(res.answer.ttl, 5u);
  EXPECT_EQ(ask(*r, "long.bob.mit").answer.ttl, ResolverConfig{}.ttl);  // ours caps it
  res = ask(*r, "broken.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_EQ(res.failure, Failure::agent);
  // The agent was reached and failed: not "unreachable".
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeOther);
  EXPECT_EQ(res.answer.ede.text, "agent answered with a failure");
  EXPECT_EQ(ask(*r, "nosuch.bob.mit").answer.status, Status::nxdomain);
  agent.stop();
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
  EXPECT_EQ(res.failure, Failure::agent);  // refused: not a timeout
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeNoReachableAuthority);
  EXPECT_EQ(res.answer.ede.text, "agent unreachable");
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
  EXPECT_EQ(res.failure, Failure::timeout);
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeNoReachableAuthority);
  EXPECT_EQ(res.answer.ede.text, "agent did not answer in time");
}

// Serve-stale (RFC 8767): short TTLs, so answers expire within the test.
ResolverConfig stale_config(std::chrono::seconds stale_max = 60s) {
  ResolverConfig cfg;
  cfg.ttl = 1;
  cfg.negative_ttl = 1;
  cfg.agent_ttl = 1s;
  cfg.timeout = 500ms;
  cfg.stale_max = stale_max;
  return cfg;
}

TEST_F(ResolverTest, DeadAgentsExpiredAnswersAreServedStaleWithEde3) {
  auto mit = std::make_unique<Agent>(
      std::map<std::string, registrar::Ipv4>{{"laptop.bob.mit", {198, 51, 100, 7}}});
  publish(record("mit", mit->port()));
  auto r = make(stale_config());
  ASSERT_EQ(ask(*r, "laptop.bob.mit").answer.status, Status::found);
  ASSERT_EQ(ask(*r, "phone.bob.mit").answer.status, Status::nxdomain);
  mit.reset();  // dead: connections refused
  std::this_thread::sleep_for(1100ms);
  auto res = ask(*r, "laptop.bob.mit");
  ASSERT_EQ(res.answer.status, Status::found) << res.detail;
  EXPECT_TRUE(res.stale);
  EXPECT_EQ(res.source, Source::cache);
  EXPECT_EQ(res.answer.entry.v4, (registrar::Ipv4{198, 51, 100, 7}));
  EXPECT_EQ(res.answer.ttl, 30u);
  EXPECT_TRUE(res.answer.ede.present);
  EXPECT_EQ(res.answer.ede.info_code, 3);
  EXPECT_EQ(res.answer.ede.text, "stale answer: agent unreachable");
  EXPECT_NE(res.detail.find("agent mit unreachable"), std::string::npos) << res.detail;
  // A name the agent said does not exist stays so.
  res = ask(*r, "phone.bob.mit");
  EXPECT_EQ(res.answer.status, Status::nxdomain);
  EXPECT_TRUE(res.stale);
  // Not cached as live: the next query asks again (here the DHT, which is down
  // now), and is served stale again, saying what failed.
  dht_down_ = true;
  records_.lock()->erase("mit");
  const int lookups = lookups_;
  res = ask(*r, "laptop.bob.mit");
  EXPECT_GT(lookups_, lookups);
  EXPECT_TRUE(res.stale);
  EXPECT_EQ(res.failure, Failure::none);
  EXPECT_EQ(res.answer.ede.text, "stale answer: DHT unreachable");
  EXPECT_EQ(r->stats().stale, 3u);
}

TEST_F(ResolverTest, SlowAgentTimesOutIntoAStaleAnswer) {
  std::atomic<bool> slow{false};
  gateway::ServerConfig sc;
  sc.port = 0;
  LockGuarded<std::vector<std::thread>> late;  // added on the server's thread
  gateway::GatewayServer agent(sc, [&](const std::string&, auto done) {
    gateway::Answer a{0, gateway::AnswerStatus::found, 1, {{198, 51, 100, 8}}, {}};
    if (!slow) return done(a);
    late.lock()->emplace_back([a, done] {
      std::this_thread::sleep_for(900ms);
      done(a);
    });
  });
  agent.start();
  publish(record("mit", agent.port()));
  auto r = make(stale_config());
  ASSERT_EQ(ask(*r, "laptop.bob.mit").answer.status, Status::found);
  slow = true;
  std::this_thread::sleep_for(1100ms);
  const auto res = ask(*r, "laptop.bob.mit");
  EXPECT_TRUE(res.stale);
  EXPECT_EQ(res.answer.ede.text, "stale answer: agent timed out");
  EXPECT_EQ(res.answer.ttl, 30u);
  // No more queries (the client's probes of the slow agent), then the joins.
  r->stop();
  agent.stop();
  for (auto& t : *late.lock()) t.join();
}

TEST_F(ResolverTest, NoStaleAnswerWithStaleMaxZeroOrPastIt) {
  auto mit = std::make_unique<Agent>(
      std::map<std::string, registrar::Ipv4>{{"laptop.bob.mit", {198, 51, 100, 7}}});
  publish(record("mit", mit->port()));
  auto off = make(stale_config(0s));
  auto brief = make(stale_config(1s));
  ASSERT_EQ(ask(*off, "laptop.bob.mit").answer.status, Status::found);
  ASSERT_EQ(ask(*brief, "laptop.bob.mit").answer.status, Status::found);
  mit.reset();
  std::this_thread::sleep_for(1100ms);  // expired 0.1 s ago
  auto res = ask(*off, "laptop.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_FALSE(res.stale);
  // Not stale: the agent could not be reached, and the answer says so.
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeNoReachableAuthority);
  EXPECT_EQ(res.answer.ede.text, "agent unreachable");
  std::this_thread::sleep_for(1200ms);  // expired 1.3 s ago: past --stale-max 1
  res = ask(*brief, "laptop.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_FALSE(res.stale);
  EXPECT_EQ(off->stats().stale + brief->stats().stale, 0u);
}

// A contested label is a trust decision: never hidden behind an old answer.
TEST_F(ResolverTest, ContestedLabelIsNeverServedStale) {
  Agent mit({{"laptop.bob.mit", {198, 51, 100, 7}}});
  publish(record("mit", mit.port()));
  auto r = make(stale_config());
  ASSERT_EQ(ask(*r, "laptop.bob.mit").answer.status, Status::found);
  records_.lock()->erase("mit");
  contested_label_ = "mit";
  std::this_thread::sleep_for(1100ms);  // the answer and the agent record expire
  const auto res = ask(*r, "laptop.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_EQ(res.failure, Failure::contested);
  EXPECT_FALSE(res.stale);
  EXPECT_EQ(res.answer.ede.info_code, dns::kEdeInvalidData);
  EXPECT_EQ(r->stats().stale, 0u);
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
  cfg.home_agents = {
      {"127.0.0.1", a.port(), ""}, {"127.0.0.1", dead_port, ""}, {"127.0.0.1", b.port(), ""}};
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
  cfg.home_agents = {{"127.0.0.1", hung.port(), ""}, {"127.0.0.1", live.port(), ""}};
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

std::uint16_t dead_port() {
  Agent gone({});
  return gone.port();  // closed on return: connections are refused
}

// A label served by two nodes, the first dead: a query fails over to the live
// one, and the dead one, backing off, is skipped by the queries after it.
TEST_F(ResolverTest, AgentNodesFailOverFromADeadOneAndRememberIt) {
  Agent live({{"laptop.bob.mit", {198, 51, 100, 7}}});
  publish_nodes("mit", {record("mit", dead_port()), record("mit", live.port())});
  ResolverConfig cfg;
  cfg.ttl = 0;  // no caching: every ask goes out
  auto r = make(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) {
    const auto res = ask(*r, "laptop.bob.mit");
    ASSERT_EQ(res.answer.status, Status::found) << i << " " << res.detail;
    EXPECT_EQ(res.answer.entry.v4, (registrar::Ipv4{198, 51, 100, 7}));
    EXPECT_NE(res.agent.find(":" + std::to_string(live.port())), std::string::npos);
    if (i == 0) {
      EXPECT_EQ(r->stats().agent_failovers, 1u);  // the first one met the dead node
    }
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[timing] 10 queries with one dead node: %.3f s, failovers %llu\n", took,
              static_cast<unsigned long long>(r->stats().agent_failovers));
  EXPECT_EQ(live.queries, 10);
  EXPECT_EQ(lookups_, 1);  // the record stays while a node answers
  // The dead node is probed again only once its back-off (100 ms, doubling) has
  // passed, not by every other query as a plain round-robin would.
  EXPECT_LE(r->stats().agent_failovers, 1u + static_cast<std::uint64_t>(took / 0.1));
  EXPECT_LE(r->stats().agent_failovers, 4u);
}

// A hung node (connected, never in time) costs a query its share of the
// timeout, not all of it: the next node answers within the timeout, and the
// hung one is skipped while suspect.
TEST_F(ResolverTest, AHungAgentNodeCostsItsShareOfTheTimeout) {
  HungAndLive nodes;
  auto r = make(nodes);
  int waited = 0;
  for (int i = 0; i < 6; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto res = ask(*r, "laptop.bob.mit");
    const auto took = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(res.answer.status, Status::found) << i << " " << res.detail;
    EXPECT_EQ(res.answer.entry.v4[3], 2) << i;
    EXPECT_LT(took, 1s) << i;
    if (took >= 400ms) ++waited;  // this one asked the hung node first (500 ms)
  }
  EXPECT_GE(waited, 1);  // the first...
  EXPECT_LE(waited, 2);  // ...then it is skipped while suspect (a back-off of 100 ms, doubling)
  EXPECT_EQ(r->stats().agent_failovers, static_cast<std::uint64_t>(waited));
  EXPECT_EQ(r->stats().timeouts, 0u);
  r->stop();
}

// A hung node, once suspect, gets no caller's query: past each back-off the
// client probes it with a query of its own. A burst after the back-off all
// goes to the live node in time (the bench's SIGSTOP rows had dozens of slow
// answers: every query sent while a caller's query probed it waited too).
TEST_F(ResolverTest, AHungAgentNodeGetsNoQueryWhileSuspect) {
  HungAndLive nodes;
  auto& hung = nodes.hung;
  auto r = make(nodes);
  // Until one query has met the hung node (it comes first or second).
  for (int i = 0; i < 3 && hung.queries == 0; ++i) ask(*r, "laptop.bob.mit");
  ASSERT_EQ(hung.queries, 1);
  std::this_thread::sleep_for(150ms);  // its first back-off (100 ms) has passed
  constexpr int kBurst = 20;
  using Clock = std::chrono::steady_clock;
  std::vector<std::promise<std::pair<Resolution, Clock::time_point>>> done(kBurst);
  const auto t0 = Clock::now();
  for (int i = 0; i < kBurst; ++i) {
    // Distinct names: one name's concurrent queries would share one lookup.
    r->resolve_detailed("d" + std::to_string(i) + ".bob.mit", dns::type::A,
                        [&done, i](const Resolution& res) {
                          done[i].set_value({res, Clock::now()});
                        });
  }
  int slow = 0;
  for (auto& p : done) {
    auto f = p.get_future();
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready);
    const auto [res, at] = f.get();
    EXPECT_NE(res.answer.status, Status::servfail);
    if (at - t0 >= 400ms) ++slow;  // it waited for the hung node (500 ms)
  }
  EXPECT_EQ(slow, 0);
  // The first query, then the client's probes (after 100 ms, 200 ms more ...),
  // none of them a caller's.
  EXPECT_LE(hung.queries, 3);
  r->stop();
}

// Every node dead: SERVFAIL (the agent), and the record is forgotten, so the
// next query looks the label up again.
TEST_F(ResolverTest, AllAgentNodesDeadIsServfailAndTheRecordIsLookedUpAgain) {
  std::uint16_t first = 0, second = 0;
  {
    Agent a({}), b({});  // two distinct ports, closed at the end of this block
    first = a.port();
    second = b.port();
  }
  publish_nodes("mit", {record("mit", first), record("mit", second)});
  ResolverConfig cfg;
  cfg.timeout = 500ms;
  auto r = make(cfg);
  auto res = ask(*r, "laptop.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_EQ(res.failure, Failure::agent);
  EXPECT_NE(res.detail.find("none of the agent's 2 nodes answered"), std::string::npos)
      << res.detail;
  EXPECT_EQ(r->stats().agent_failovers, 1u);
  res = ask(*r, "phone.bob.mit");
  EXPECT_EQ(res.answer.status, Status::servfail);
  EXPECT_EQ(lookups_, 2);
}

// A lying or broken agent costs one SERVFAIL within the timeout, never a wrong
// address, a crash or a stuck resolver: an honest agent is answered right after.
class LyingAgents : public ResolverTest, public ::testing::WithParamInterface<Lie> {};

TEST_P(LyingAgents, CostOneServfailAndNothingElse) {
  LyingAgent liar(GetParam());
  Agent honest({{"laptop.carol.ut", {198, 51, 100, 8}}});
  publish(record("mit", liar.port()));
  publish(record("ut", honest.port()));
  ResolverConfig cfg;
  cfg.timeout = 700ms;
  auto r = make(cfg);
  const auto t0 = std::chrono::steady_clock::now();
  const auto res = ask(*r, "laptop.bob.mit");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(res.answer.status, Status::servfail) << res.detail;
  const auto good = ask(*r, "laptop.carol.ut");
  EXPECT_EQ(good.answer.status, Status::found) << good.detail;
  EXPECT_EQ(good.answer.entry.v4, (registrar::Ipv4{198, 51, 100, 8}));
}

INSTANTIATE_TEST_SUITE_P(Resolver, LyingAgents,
                         ::testing::Values(Lie::wrong_serial, Lie::truncated_reply, Lie::garbage,
                                           Lie::bad_handshake, Lie::bad_family,
                                           Lie::silence_then_close));

}  // namespace
}  // namespace pweb::node
