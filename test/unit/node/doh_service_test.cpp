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

}  // namespace
}  // namespace pweb::node
