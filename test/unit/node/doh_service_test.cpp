#include "doh_service.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "../dns_test_util.hpp"

namespace pweb::node {
namespace {

using dns::testutil::build_query;
using dns::testutil::decode;
using dns::testutil::QuerySpec;

// Answers on another thread, as the node's resolver does; counts what it was asked.
class ThreadResolver final : public dns::RemoteResolver {
 public:
  explicit ThreadResolver(dns::RemoteAnswer answer) : answer_(std::move(answer)) {}
  ~ThreadResolver() override {
    for (auto& t : threads_) t.join();
  }
  void resolve(std::string key, std::uint16_t qtype,
               std::function<void(const dns::RemoteAnswer&)> done) override {
    asked.emplace_back(key, qtype);
    threads_.emplace_back([this, done = std::move(done)] { done(answer_); });
  }
  std::vector<std::pair<std::string, std::uint16_t>> asked;

 private:
  dns::RemoteAnswer answer_;
  std::vector<std::thread> threads_;
};

// Keeps the callback until the test answers it.
class HeldResolver final : public dns::RemoteResolver {
 public:
  void resolve(std::string, std::uint16_t,
               std::function<void(const dns::RemoteAnswer&)> done) override {
    held.push_back(std::move(done));
  }
  std::vector<std::function<void(const dns::RemoteAnswer&)>> held;
};

class NodeDohTest : public ::testing::Test {
 protected:
  NodeDohTest() : authority_(make_authority()), snapshots_(make_snapshot()) {}

  static dns::Authority make_authority() {
    dns::AuthorityConfig cfg;
    cfg.ttl = 60;
    cfg.label = "uw";
    cfg.resolve_remote = true;
    return dns::Authority(cfg);
  }
  static std::shared_ptr<const registrar::Snapshot> make_snapshot() {
    std::vector<registrar::DeviceRecord> recs(1);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    return registrar::Snapshot::build(recs, 42);
  }
  static dns::RemoteAnswer found() {
    dns::RemoteAnswer a;
    a.status = dns::RemoteAnswer::Status::found;
    a.ttl = 30;
    a.entry = registrar::NameEntry::device(registrar::Ipv4{198, 51, 100, 7}, std::nullopt);
    return a;
  }
  std::vector<std::uint8_t> ask(dns::RemoteResolver& resolver, const char* name) {
    NodeDoh doh(authority_, snapshots_, resolver, std::chrono::milliseconds(500));
    QuerySpec spec;
    spec.name = name;
    spec.id = 0;
    return doh.answer(build_query(spec));
  }

  static std::vector<std::uint8_t> query(const char* name) {
    QuerySpec spec;
    spec.name = name;
    spec.id = 0;
    return build_query(spec);
  }

  dns::Authority authority_;
  registrar::SnapshotHolder snapshots_;
};

TEST_F(NodeDohTest, OwnDeviceIsAnsweredWithoutTheResolver) {
  ThreadResolver resolver(found());
  const auto d = decode(ask(resolver, "laptop.alice.uw.dht."));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.header.id, 0);
  EXPECT_EQ(d.rcode(), 0);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{192, 0, 2, 10}));
  EXPECT_TRUE(resolver.asked.empty());
}

TEST_F(NodeDohTest, AnotherAgentsNameIsAskedOfTheResolver) {
  ThreadResolver resolver(found());
  const auto d = decode(ask(resolver, "desk.bob.mit.dht."));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 0);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{198, 51, 100, 7}));
  ASSERT_EQ(resolver.asked.size(), 1u);
  EXPECT_EQ(resolver.asked[0].first, "desk.bob.mit");
  EXPECT_EQ(resolver.asked[0].second, dns::type::A);
}

TEST_F(NodeDohTest, AFailedLookupIsServfail) {
  ThreadResolver resolver(dns::RemoteAnswer{});  // servfail
  const auto d = decode(ask(resolver, "desk.bob.mit.dht."));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 2);
}

TEST_F(NodeDohTest, AResponseGetsNoAnswer) {
  ThreadResolver resolver(found());
  NodeDoh doh(authority_, snapshots_, resolver, std::chrono::milliseconds(500));
  QuerySpec spec;
  spec.flags = dns::flag::QR;
  EXPECT_TRUE(doh.answer(build_query(spec)).empty());
}

TEST_F(NodeDohTest, LaterAnswersOwnDevicesDuringTheCall) {
  HeldResolver resolver;
  NodeDoh doh(authority_, snapshots_, resolver, std::chrono::milliseconds(500));
  rest::DnsAnswerFinish finish;
  doh.answer_later(query("laptop.alice.uw.dht."),
                   [&finish](rest::DnsAnswerFinish f) { finish = std::move(f); });
  ASSERT_TRUE(finish);
  const auto d = decode(finish());
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{192, 0, 2, 10}));
  EXPECT_TRUE(resolver.held.empty());
}

TEST_F(NodeDohTest, LaterHandsOverAnotherAgentsNameWhenTheResolverAnswers) {
  // HTTP/2 serves other streams meanwhile: nothing waits in answer_later.
  HeldResolver resolver;
  NodeDoh doh(authority_, snapshots_, resolver, std::chrono::milliseconds(500));
  int calls = 0;
  rest::DnsAnswerFinish finish;
  doh.answer_later(query("desk.bob.mit.dht."), [&](rest::DnsAnswerFinish f) {
    ++calls;
    finish = std::move(f);
  });
  EXPECT_EQ(calls, 0);
  ASSERT_EQ(resolver.held.size(), 1u);
  std::thread([&] { resolver.held[0](found()); }).join();
  ASSERT_EQ(calls, 1);
  const auto d = decode(finish());
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 0);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{198, 51, 100, 7}));
}

TEST_F(NodeDohTest, AResolverThatNeverAnswersIsServfailAfterTheLongestWait) {
  HeldResolver resolver;
  NodeDoh doh(authority_, snapshots_, resolver, std::chrono::milliseconds(10));
  EXPECT_EQ(doh.longest_wait(), std::chrono::milliseconds(2010));
  const auto d = decode(doh.answer(query("desk.bob.mit.dht.")));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 2);
  ASSERT_EQ(resolver.held.size(), 1u);
  resolver.held[0](found());  // too late: goes nowhere
}

}  // namespace
}  // namespace pweb::node
