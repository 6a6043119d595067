// PostgreSQL-only behaviour of the shared store: migrations, change numbers in
// commit order, notifications, and what happens while PostgreSQL is down. The
// cases both backends share are in store_test.cpp.
#include "pweb/registrar/pg_store.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "support/pg_cluster.hpp"

namespace pweb::registrar {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

DeviceRecord rec(const std::string& name, const char* v4) {
  DeviceRecord r;
  r.name = name;
  if (v4) r.ipv4 = parse_ipv4(v4);
  r.updated = 1700000000;
  return r;
}

// One statement on a connection of the test's own, beside the store.
std::string sql(const std::string& uri, const std::string& statement) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(uri.c_str()), PQfinish);
  EXPECT_EQ(PQstatus(c.get()), CONNECTION_OK) << PQerrorMessage(c.get());
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), statement.c_str()), PQclear);
  const auto status = PQresultStatus(r.get());
  EXPECT_TRUE(status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK)
      << statement << ": " << PQresultErrorMessage(r.get());
  return status == PGRES_TUPLES_OK && PQntuples(r.get()) > 0 ? PQgetvalue(r.get(), 0, 0) : "";
}

void put_one(DeviceStore& store, const DeviceRecord& r) {
  store.begin();
  store.put(r);
  store.commit();
}

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = testutil::PgCluster::shared();
    if (!cluster_) GTEST_SKIP() << "SKIPPED: PostgreSQL 15 not installed (/usr/lib/postgresql/15)";
    uri_ = cluster_->create_database();
  }
  void TearDown() override {
    if (cluster_) cluster_->start();  // a test that stopped it and failed
  }
  testutil::PgCluster* cluster_ = nullptr;
  std::string uri_;
};

TEST_F(PgStoreTest, MigratesAnEmptyDatabaseOnceEvenWhenNodesStartTogether) {
  std::vector<std::future<void>> opens;
  for (int i = 0; i < 4; ++i) {
    opens.push_back(std::async(std::launch::async, [&] { PgStore store(uri_); }));
  }
  for (auto& o : opens) {
    ASSERT_EQ(o.wait_for(20s), std::future_status::ready);
    EXPECT_NO_THROW(o.get());
  }
  EXPECT_EQ(sql(uri_, "SELECT value FROM meta WHERE key='schema_version'"),
            std::to_string(PgStore::kSchemaVersion));
  EXPECT_EQ(sql(uri_, "SELECT count(*) FROM change_counter"), "1");
  PgStore again(uri_);
  EXPECT_TRUE(again.shared());
  EXPECT_EQ(again.last_seq(), 0);
}

TEST_F(PgStoreTest, RefusesAStoreOfANewerSchemaSayingWhich) {
  { PgStore store(uri_); }
  sql(uri_, "UPDATE meta SET value='99' WHERE key='schema_version'");
  try {
    PgStore store(uri_);
    FAIL() << "opened a store of a newer schema";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'99'"), std::string::npos) << what;
    EXPECT_NE(what.find("schema version " + std::to_string(PgStore::kSchemaVersion)),
              std::string::npos)
        << what;
  }
}

TEST_F(PgStoreTest, ErrorsNeverShowThePassword) {
  const std::string uri = "postgresql://pweb:s3cret@127.0.0.1:1/nope?connect_timeout=1";
  try {
    PgStore store(uri);
    FAIL() << "connected to port 1";
  } catch (const StoreError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find("s3cret"), std::string::npos) << what;
    EXPECT_NE(what.find("pweb:***@127.0.0.1:1/nope"), std::string::npos) << what;
  }
}

TEST_F(PgStoreTest, ChangesSinceHoldsExactlyWhatOthersCommittedAfterIt) {
  PgStore mine(uri_);
  PgStore other(uri_);
  put_one(other, rec("old.alice.uw", "192.0.2.9"));
  const auto n = mine.last_seq();
  EXPECT_GT(n, 0);
  EXPECT_TRUE(mine.changes_since(n).devices.empty());

  other.begin();
  other.put(rec("laptop.alice.uw", "192.0.2.1"));
  other.put(rec("phone.alice.uw", "192.0.2.2"));
  other.commit();
  other.begin();
  other.erase("phone.alice.uw", 1700000100);
  other.commit();
  auto changes = mine.changes_since(n);
  ASSERT_EQ(changes.devices.size(), 1u);
  EXPECT_EQ(changes.devices[0], rec("laptop.alice.uw", "192.0.2.1"));
  EXPECT_EQ(changes.removed, std::vector<std::string>{"phone.alice.uw"});
  EXPECT_FALSE(changes.tokens_changed);
  EXPECT_EQ(changes.seq, other.last_seq());

  // Tokens: added, then gone with their device.
  const auto before_token = changes.seq;
  StoredToken t;
  t.info.id = new_token_id();
  t.info.device = "laptop.alice.uw";
  t.info.created = 1;
  ASSERT_EQ(other.add_token(t), TokenInsert::added);
  changes = mine.changes_since(before_token);
  EXPECT_TRUE(changes.tokens_changed);
  EXPECT_TRUE(changes.devices.empty());
  EXPECT_FALSE(mine.changes_since(changes.seq).tokens_changed);
  EXPECT_TRUE(other.remove("laptop.alice.uw"));
  changes = mine.changes_since(changes.seq);
  EXPECT_TRUE(changes.tokens_changed);
  EXPECT_EQ(changes.removed, std::vector<std::string>{"laptop.alice.uw"});

  // A name removed and registered again is a device, not a removal.
  const auto before_back = changes.seq;
  put_one(other, rec("phone.alice.uw", "192.0.2.3"));
  changes = mine.changes_since(before_back);
  ASSERT_EQ(changes.devices.size(), 1u);
  EXPECT_TRUE(changes.removed.empty());
  EXPECT_EQ(mine.changes_since(changes.seq).devices.size(), 0u);
}

// Writer B starts after A took its number but must wait for A's commit: its
// number is higher, and a reader that caught up while A was open misses neither.
TEST_F(PgStoreTest, NumbersFollowCommitOrderSoNoCommitIsMissed) {
  PgStore a(uri_), b(uri_), reader(uri_);
  a.begin();
  a.put(rec("a.alice.uw", "192.0.2.1"));
  std::atomic<bool> b_began{false};
  auto b_done = std::async(std::launch::async, [&] {
    b.begin();
    b_began = true;
    b.put(rec("b.alice.uw", "192.0.2.2"));
    b.commit();
  });
  EXPECT_EQ(b_done.wait_for(300ms), std::future_status::timeout) << "B did not wait for A";
  EXPECT_FALSE(b_began);
  const auto seen = reader.changes_since(0);
  EXPECT_TRUE(seen.devices.empty());
  a.commit();
  ASSERT_EQ(b_done.wait_for(5s), std::future_status::ready);
  b_done.get();
  const auto seq_a = std::stoll(sql(uri_, "SELECT seq FROM devices WHERE name='a.alice.uw'"));
  const auto seq_b = std::stoll(sql(uri_, "SELECT seq FROM devices WHERE name='b.alice.uw'"));
  EXPECT_LT(seq_a, seq_b);
  const auto later = reader.changes_since(seen.seq);
  EXPECT_EQ(later.devices.size(), 2u);
  EXPECT_EQ(later.seq, seq_b);
}

TEST_F(PgStoreTest, ConcurrentGetModifyPutOfOneDeviceLosesNoChange) {
  {
    PgStore seed(uri_);
    put_one(seed, rec("laptop.alice.uw", "192.0.2.1"));
  }
  constexpr int kRounds = 30;
  auto worker = [&](bool address) {
    PgStore store(uri_);
    for (int i = 1; i <= kRounds; ++i) {
      store.begin();
      auto d = *store.get("laptop.alice.uw");
      if (address) {
        d.ipv4 = parse_ipv4("10.0.0." + std::to_string(i));
      } else {
        d.services = "http:" + std::to_string(8000 + i);
      }
      store.put(d);
      store.commit();
    }
  };
  auto one = std::async(std::launch::async, worker, true);
  auto two = std::async(std::launch::async, worker, false);
  ASSERT_EQ(one.wait_for(60s), std::future_status::ready);
  ASSERT_EQ(two.wait_for(60s), std::future_status::ready);
  one.get();
  two.get();
  PgStore check(uri_);
  const auto d = check.get("laptop.alice.uw");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->ipv4, parse_ipv4("10.0.0." + std::to_string(kRounds)));
  EXPECT_EQ(d->services, "http:" + std::to_string(8000 + kRounds));
  EXPECT_EQ(check.last_seq(), 1 + 2 * kRounds);
}

TEST_F(PgStoreTest, AFailedStatementLeavesTheStoreUsable) {
  PgStore store(uri_);
  EXPECT_THROW(store.put(rec("a.alice.uw", "192.0.2.1")), StoreError);  // outside begin()
  store.begin();
  store.put(rec("a.alice.uw", "192.0.2.1"));
  store.rollback();
  EXPECT_FALSE(store.get("a.alice.uw"));
  put_one(store, rec("a.alice.uw", "192.0.2.1"));
  EXPECT_TRUE(store.get("a.alice.uw"));
  // A statement failed inside the transaction (two RRsets of one name and
  // type): committing it must fail, not quietly roll back and report success.
  auto twice = rec("b.alice.uw", "192.0.2.2");
  twice.rrsets = {RRset{"www", 16, 300, {"\x01x"}}, RRset{"www", 16, 300, {"\x01y"}}};
  store.begin();
  EXPECT_THROW(store.put(twice, true), StoreError);
  EXPECT_THROW(store.commit(), StoreError);
  store.rollback();
  EXPECT_FALSE(store.get("b.alice.uw"));
  put_one(store, rec("b.alice.uw", "192.0.2.2"));
  EXPECT_TRUE(store.get("b.alice.uw"));
}

TEST_F(PgStoreTest, WatchWakesOnAnotherNodesCommit) {
  PgStore mine(uri_), other(uri_);
  auto watch = mine.watch();
  ASSERT_TRUE(watch);
  EXPECT_FALSE(watch->wait(100ms));  // quiet
  auto committed = std::async(std::launch::async, [&] {
    std::this_thread::sleep_for(200ms);
    put_one(other, rec("a.alice.uw", "192.0.2.1"));
  });
  const auto start = Clock::now();
  EXPECT_TRUE(watch->wait(3s));
  EXPECT_LT(Clock::now() - start, 1200ms);
  committed.get();
  EXPECT_EQ(mine.changes_since(0).devices.size(), 1u);
  // A rolled-back transaction notifies nobody.
  other.begin();
  other.put(rec("b.alice.uw", "192.0.2.2"));
  other.rollback();
  EXPECT_FALSE(watch->wait(300ms));
}

// While PostgreSQL is down calls fail within a bounded time, the watch says
// "catch up"; when it is back, calls and notifications work again by themselves.
TEST_F(PgStoreTest, ServerDownFailsFastAndRecoversByItself) {
  PgStore store(uri_), other(uri_);
  put_one(store, rec("a.alice.uw", "192.0.2.1"));
  auto watch = store.watch();
  EXPECT_FALSE(watch->wait(50ms));

  cluster_->stop();
  auto start = Clock::now();
  EXPECT_TRUE(watch->wait(5s)) << "the watch did not notice the server going";
  EXPECT_LT(Clock::now() - start, 5s);
  start = Clock::now();
  EXPECT_THROW((void)store.get("a.alice.uw"), StoreError);
  EXPECT_THROW((void)store.get("a.alice.uw"), StoreError);  // reconnecting fails, bounded
  EXPECT_THROW(store.begin(), StoreError);
  EXPECT_LT(Clock::now() - start, 10s);
  EXPECT_FALSE(watch->wait(200ms));  // cannot reconnect yet: quiet

  cluster_->start();
  ASSERT_TRUE(store.get("a.alice.uw"));
  put_one(store, rec("b.alice.uw", "192.0.2.2"));
  EXPECT_TRUE(watch->wait(5s));  // reconnected: catch up
  put_one(other, rec("c.alice.uw", "192.0.2.3"));
  EXPECT_TRUE(watch->wait(2s));
  EXPECT_EQ(store.load_all().size(), 3u);
}

// A writer that stays inside a transaction longer than the lock timeout makes
// the others fail, bounded, not wait forever.
TEST_F(PgStoreTest, AWriterHoldingTheCounterMakesOthersFailInBoundedTime) {
  PgStore a(uri_), b(uri_);
  a.begin();
  const auto start = Clock::now();
  EXPECT_THROW(b.begin(), StoreError);
  EXPECT_LT(Clock::now() - start, 6s);
  a.rollback();
  put_one(b, rec("a.alice.uw", "192.0.2.1"));
}

}  // namespace
}  // namespace pweb::registrar
