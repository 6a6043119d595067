#include "pweb/registrar/registrar.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "pweb/registrar/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace pweb::registrar {
namespace {

DeviceChange set_v4(const std::string& name, Ipv4 a) {
  DeviceChange c;
  c.name = name;
  c.ipv4 = FieldChange<Ipv4>::set(a);
  return c;
}

class RegistrarTest : public ::testing::Test {
 protected:
  testutil::TempDir dir;
  SnapshotHolder holder{Snapshot::build({}, 1)};
};

TEST_F(RegistrarTest, CreateChangeUnchangedRemoveAndPublish) {
  Registrar reg(std::make_unique<SqliteStore>(dir.path()), holder, {});
  auto r = reg.apply({set_v4("laptop.alice.uw", {192, 0, 2, 1})});
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, ChangeStatus::created);
  // Visible to readers as soon as apply returns.
  const auto* e = holder.current()->find("laptop.alice.uw");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->v4, (Ipv4{192, 0, 2, 1}));
  EXPECT_NE(holder.current()->find("alice.uw"), nullptr);
  EXPECT_NE(holder.current()->find("uw"), nullptr);

  EXPECT_EQ(reg.apply({set_v4("laptop.alice.uw", {192, 0, 2, 1})})[0].status,
            ChangeStatus::unchanged);
  DeviceChange v6;
  v6.name = "laptop.alice.uw";
  v6.ipv6 = FieldChange<Ipv6>::set(Ipv6{0x20, 0x01});
  r = reg.apply({v6});
  EXPECT_EQ(r[0].status, ChangeStatus::changed);
  EXPECT_TRUE(r[0].device.ipv4.has_value());  // the other family is kept

  DeviceChange rm;
  rm.name = "laptop.alice.uw";
  rm.remove = true;
  EXPECT_EQ(reg.apply({rm})[0].status, ChangeStatus::removed);
  EXPECT_EQ(reg.apply({rm})[0].status, ChangeStatus::not_found);
  EXPECT_EQ(holder.current()->find("laptop.alice.uw"), nullptr);
  EXPECT_EQ(holder.current()->find("alice.uw"), nullptr);  // last device gone
  EXPECT_EQ(holder.current()->device_count(), 0u);
}

TEST_F(RegistrarTest, DurableAcrossReopen) {
  {
    Registrar reg(std::make_unique<SqliteStore>(dir.path()), holder, {});
    reg.apply({set_v4("a.b.c", {10, 0, 0, 1}), set_v4("d.b.c", {10, 0, 0, 2})});
  }
  SqliteStore store(dir.path());
  const auto all = store.load_all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].ipv4, (Ipv4{10, 0, 0, 1}));
}

// The SOA serial is the store's change number: every change in one second
// gets its own, and a reopened store goes on from where it was.
TEST_F(RegistrarTest, SerialRisesOnEveryChangeAndAcrossReopen) {
  std::vector<std::uint32_t> serials{holder.current()->serial()};
  {
    Registrar reg(std::make_unique<SqliteStore>(dir.path()), holder, {});
    for (std::uint8_t i = 1; i <= 3; ++i) {
      ASSERT_EQ(reg.apply({set_v4("a.b.c", {10, 0, 0, i})})[0].status,
                i == 1 ? ChangeStatus::created : ChangeStatus::changed);
      serials.push_back(holder.current()->serial());
    }
    // Nothing changed: no new snapshot, no new serial.
    reg.apply({set_v4("a.b.c", {10, 0, 0, 3})});
    EXPECT_EQ(holder.current()->serial(), serials.back());
  }
  for (std::size_t i = 1; i < serials.size(); ++i) EXPECT_LT(serials[i - 1], serials[i]);
  SqliteStore store(dir.path());
  const auto loaded = store.last_seq();
  EXPECT_GE(loaded, std::int64_t{serials.back()});
  SnapshotHolder again{Snapshot::build(store.load_all(), static_cast<std::uint32_t>(loaded))};
  Registrar reg(std::make_unique<SqliteStore>(dir.path()), again, store.load_all(), {}, loaded);
  reg.apply({set_v4("a.b.c", {10, 0, 0, 9})});
  EXPECT_GT(again.current()->serial(), serials.back());
}

TEST_F(RegistrarTest, ConcurrentClientsAreGroupCommitted) {
  Registrar reg(std::make_unique<SqliteStore>(dir.path()), holder, {});
  constexpr int kThreads = 16, kEach = 50;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const auto r = reg.apply(
            {set_v4("d" + std::to_string(t) + ".u.a",
                    {10, 0, static_cast<std::uint8_t>(t), static_cast<std::uint8_t>(i)})});
        ASSERT_NE(r[0].status, ChangeStatus::store_error);
      }
    });
  }
  for (auto& t : threads) t.join();
  const auto stats = reg.stats();
  EXPECT_EQ(stats.changes, static_cast<std::uint64_t>(kThreads * kEach));
  EXPECT_LT(stats.commits, stats.changes);  // several changes per fsync
  for (int t = 0; t < kThreads; ++t) {
    const auto* e = holder.current()->find("d" + std::to_string(t) + ".u.a");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->v4[3], kEach - 1);
  }
}

TEST_F(RegistrarTest, InitialDevicesCountForInteriorNames) {
  std::vector<DeviceRecord> initial(2);
  initial[0].name = "a.alice.uw";
  initial[1].name = "b.alice.uw";
  {
    SqliteStore s(dir.path());
    s.upsert(initial);
  }
  holder.publish(Snapshot::build(initial, 2));
  Registrar reg(std::make_unique<SqliteStore>(dir.path()), holder, initial);
  DeviceChange rm;
  rm.name = "a.alice.uw";
  rm.remove = true;
  reg.apply({rm});
  EXPECT_NE(holder.current()->find("alice.uw"), nullptr);  // b is still there
  rm.name = "b.alice.uw";
  reg.apply({rm});
  EXPECT_EQ(holder.current()->find("alice.uw"), nullptr);
}

TEST_F(RegistrarTest, StoreFailureChangesNothing) {
  Registrar reg(std::make_unique<SqliteStore>(dir.path()), holder, {});
  reg.apply({set_v4("a.b.c", {10, 0, 0, 1})});
  // Make the database read-only underneath the writer: the next commit fails.
  {
    SqliteStore other(dir.path());
    other.begin();  // holds the write lock (busy timeout 5 s applies to the writer)
    std::thread release([&] {
      std::this_thread::sleep_for(std::chrono::seconds(6));
      other.rollback();
    });
    const auto r = reg.apply({set_v4("a.b.c", {10, 0, 0, 2})});
    release.join();
    EXPECT_EQ(r[0].status, ChangeStatus::store_error);
  }
  EXPECT_EQ(holder.current()->find("a.b.c")->v4, (Ipv4{10, 0, 0, 1}));
  EXPECT_EQ(reg.apply({set_v4("a.b.c", {10, 0, 0, 3})})[0].status, ChangeStatus::changed);
}

}  // namespace
}  // namespace pweb::registrar
