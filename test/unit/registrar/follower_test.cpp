// Several nodes of a label on one PostgreSQL: each registrar publishes what the
// others commit (StoreFollower on notifications, Registrar::catch_up by change
// number), with real PostgreSQL (support/pg_cluster).
#include "pweb/registrar/follower.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "pweb/registrar/pg_store.hpp"
#include "support/pg_cluster.hpp"

namespace pweb::registrar {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

DeviceChange set_v4(const std::string& name, Ipv4 a) {
  DeviceChange c;
  c.name = name;
  c.ipv4 = FieldChange<Ipv4>::set(a);
  return c;
}

DeviceChange remove(const std::string& name) {
  DeviceChange c;
  c.name = name;
  c.remove = true;
  return c;
}

// Polls `done` for at most `limit`.
bool eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = 3000ms) {
  const auto end = Clock::now() + limit;
  while (Clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return done();
}

std::optional<Ipv4> v4_at(const SnapshotHolder& h, const std::string& name) {
  const auto* e = h.current()->find(name);
  if (!e || !e->is_device()) return std::nullopt;
  return e->v4;
}

// One node: its snapshot and its registrar on its own connection.
struct Node {
  // As the node starts: the first snapshot's serial is the change number read.
  explicit Node(const std::string& uri)
      : snapshots(Snapshot::build({}, static_cast<std::uint32_t>(PgStore(uri).last_seq()))),
        registrar(std::make_unique<PgStore>(uri), snapshots, {}, {}, PgStore(uri).last_seq()) {}
  SnapshotHolder snapshots;
  Registrar registrar;
};

class FollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = testutil::PgCluster::shared();
    if (!cluster_) GTEST_SKIP() << "SKIPPED: PostgreSQL 15 not installed (/usr/lib/postgresql/15)";
    uri_ = cluster_->create_database();
    PgStore schema(uri_);  // made once, before the nodes
  }
  void TearDown() override {
    if (cluster_) cluster_->start();  // a test that stopped it and failed
  }
  testutil::PgCluster* cluster_ = nullptr;
  std::string uri_;
};

TEST_F(FollowerTest, ANodeFollowsAnothersChangesAndRemovals) {
  Node a(uri_), b(uri_);
  StoreFollower follower(PgStore(uri_).watch(), b.registrar);
  ASSERT_EQ(a.registrar.apply({set_v4("laptop.alice.uw", {192, 0, 2, 1})})[0].status,
            ChangeStatus::created);
  ASSERT_TRUE(eventually([&] { return v4_at(b.snapshots, "laptop.alice.uw").has_value(); }));
  EXPECT_EQ(*v4_at(b.snapshots, "laptop.alice.uw"), (Ipv4{192, 0, 2, 1}));
  EXPECT_NE(b.snapshots.current()->find("alice.uw"), nullptr);  // interior names too
  EXPECT_EQ(b.snapshots.current()->device_count(), 1u);

  ASSERT_EQ(a.registrar.apply({remove("laptop.alice.uw")})[0].status, ChangeStatus::removed);
  ASSERT_TRUE(eventually([&] { return !v4_at(b.snapshots, "laptop.alice.uw"); }));
  EXPECT_EQ(b.snapshots.current()->find("alice.uw"), nullptr);
  EXPECT_EQ(b.snapshots.current()->device_count(), 0u);
  EXPECT_GE(b.registrar.stats().followed_changes, 2u);
}

// The SOA serial is the shared change number: both nodes of a label publish
// the same serial for the same state, and it rises with every change.
TEST_F(FollowerTest, NodesOfALabelShareTheSerial) {
  Node a(uri_), b(uri_);
  StoreFollower follower(PgStore(uri_).watch(), b.registrar);
  std::uint32_t last = a.snapshots.current()->serial();
  for (std::uint8_t i = 1; i <= 3; ++i) {
    a.registrar.apply({set_v4("laptop.alice.uw", {192, 0, 2, i})});
    ASSERT_TRUE(eventually([&] {
      return v4_at(b.snapshots, "laptop.alice.uw") == Ipv4{192, 0, 2, i};
    }));
    const auto serial = a.snapshots.current()->serial();
    EXPECT_GT(serial, last);
    EXPECT_EQ(b.snapshots.current()->serial(), serial);
    EXPECT_EQ(serial, PgStore(uri_).last_seq());
    last = serial;
  }
}

TEST_F(FollowerTest, CatchUpReadsByChangeNumberNotByNotification) {
  // No follower on b: nothing tells it; one catch-up finds every change.
  Node a(uri_), b(uri_);
  for (std::uint8_t i = 0; i < 20; ++i) {
    a.registrar.apply({set_v4("d" + std::to_string(i) + ".alice.uw", {10, 0, 0, i})});
  }
  a.registrar.apply({remove("d3.alice.uw")});
  EXPECT_EQ(b.snapshots.current()->device_count(), 0u);
  b.registrar.catch_up();
  ASSERT_TRUE(eventually([&] { return b.snapshots.current()->device_count() == 19u; }));
  EXPECT_FALSE(v4_at(b.snapshots, "d3.alice.uw"));
  EXPECT_EQ(*v4_at(b.snapshots, "d19.alice.uw"), (Ipv4{10, 0, 0, 19}));
  EXPECT_EQ(b.registrar.stats().seen_seq, PgStore(uri_).last_seq());
}

TEST_F(FollowerTest, OwnCommitsNeedNoCatchingUp) {
  Node a(uri_);
  for (std::uint8_t i = 0; i < 5; ++i) {
    a.registrar.apply({set_v4("d" + std::to_string(i) + ".alice.uw", {10, 0, 0, i})});
  }
  EXPECT_EQ(a.registrar.stats().seen_seq, PgStore(uri_).last_seq());
  a.registrar.catch_up();
  ASSERT_TRUE(eventually([&] { return a.registrar.stats().catch_ups == 1u; }));
  EXPECT_EQ(a.registrar.stats().followed_changes, 0u);
}

TEST_F(FollowerTest, ChangesDuringAnOutageArriveAfterIt) {
  Node a(uri_), b(uri_);
  StoreFollower follower(PgStore(uri_).watch(), b.registrar, 300ms);
  a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 1})});
  ASSERT_TRUE(eventually([&] { return v4_at(b.snapshots, "x.alice.uw").has_value(); }));
  cluster_->stop();
  // Refused while it is down, quickly, and b keeps what it had.
  const auto t0 = Clock::now();
  EXPECT_EQ(a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 2})})[0].status,
            ChangeStatus::store_error);
  EXPECT_LT(Clock::now() - t0, 6s);
  EXPECT_EQ(*v4_at(b.snapshots, "x.alice.uw"), (Ipv4{10, 0, 0, 1}));
  ASSERT_TRUE(eventually([&] { return b.registrar.stats().failed_catch_ups > 0; }, 5000ms));
  cluster_->start();
  // Updates resume by themselves; b follows without being told again.
  ASSERT_TRUE(eventually(
      [&] {
        return a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 3})})[0].status ==
               ChangeStatus::changed;
      },
      10000ms));
  EXPECT_TRUE(eventually(
      [&] {
        return v4_at(b.snapshots, "x.alice.uw") == std::optional<Ipv4>({10, 0, 0, 3});
      },
      5000ms));
}

TEST_F(FollowerTest, NotificationsAnnounceTheChangeNumberAndAForgedOneReadsAnyway) {
  auto watch = PgStore(uri_).watch();
  Node a(uri_);
  a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 1})});
  ASSERT_TRUE(watch->wait(2000ms));
  EXPECT_EQ(watch->announced(), PgStore(uri_).last_seq());
  // Anyone on the database can notify: a payload that is not a change number
  // means "unknown", which makes the node read.
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(uri_.c_str()), PQfinish);
  PQclear(PQexec(c.get(), "NOTIFY pweb_changes, 'not-a-number'"));
  ASSERT_TRUE(watch->wait(2000ms));
  EXPECT_EQ(watch->announced(), 0);
}

TEST_F(FollowerTest, AnAnnouncedNumberAlreadyPublishedNeedsNoReadButAnUnknownOneDoes) {
  Node a(uri_), b(uri_);
  a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 1})});
  const auto seq = PgStore(uri_).last_seq();
  // b has not seen it: an announcement of it makes b read.
  b.registrar.catch_up(seq);
  ASSERT_TRUE(eventually([&] { return v4_at(b.snapshots, "x.alice.uw").has_value(); }));
  a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 2})});
  // A (forged) announcement at or below what b published: no read...
  b.registrar.catch_up(seq);
  ASSERT_TRUE(eventually([&] { return b.registrar.stats().catch_ups == 2u; }));
  EXPECT_EQ(*v4_at(b.snapshots, "x.alice.uw"), (Ipv4{10, 0, 0, 1}));
  // ... an unknown one (or the periodic catch-up) reads.
  b.registrar.catch_up(0);
  EXPECT_TRUE(eventually([&] {
    return v4_at(b.snapshots, "x.alice.uw") == std::optional<Ipv4>({10, 0, 0, 2});
  }));
}

TEST_F(FollowerTest, TokenChangesReachTheOtherNodesTable) {
  Node a(uri_), b(uri_);
  std::atomic<int> rebuilt{0};
  b.registrar.set_on_tokens([&] { ++rebuilt; });
  StoreFollower follower(PgStore(uri_).watch(), b.registrar);
  a.registrar.apply({set_v4("x.alice.uw", {10, 0, 0, 1})});
  ASSERT_TRUE(eventually([&] { return v4_at(b.snapshots, "x.alice.uw").has_value(); }));
  EXPECT_EQ(rebuilt.load(), 0);
  StoredToken t;
  t.info.id = "t0123456789abcdef";
  t.info.device = "x.alice.uw";
  t.info.created = 1700000000;
  t.sealed = "sealed";
  PgStore writer(uri_);
  ASSERT_EQ(writer.add_token(t), TokenInsert::added);
  EXPECT_TRUE(eventually([&] { return rebuilt.load() >= 1; }));
}

}  // namespace
}  // namespace pweb::registrar
