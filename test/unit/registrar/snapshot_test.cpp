#include "pweb/registrar/snapshot.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace pweb::registrar {
namespace {

std::vector<DeviceRecord> many(std::size_t n) {
  std::vector<DeviceRecord> out(n);
  for (std::size_t i = 0; i < n; ++i) {
    out[i].name =
        "d" + std::to_string(i) + ".u" + std::to_string(i % 100) + ".a" + std::to_string(i % 7);
    out[i].ipv4 = Ipv4{10, static_cast<std::uint8_t>(i >> 16), static_cast<std::uint8_t>(i >> 8),
                       static_cast<std::uint8_t>(i)};
    if (i % 10 == 0) out[i].ipv6 = Ipv6{0x20, 0x01, 0x0d, 0xb8};
  }
  return out;
}

TEST(Snapshot, FindsEveryDeviceAndInteriorName) {
  const auto recs = many(5000);
  const auto snap = Snapshot::build(recs, 9);
  EXPECT_EQ(snap->device_count(), 5000u);
  EXPECT_EQ(snap->serial(), 9u);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    const auto* e = snap->find(recs[i].name);
    ASSERT_NE(e, nullptr) << recs[i].name;
    EXPECT_TRUE(e->is_device());
    EXPECT_EQ(e->v4, *recs[i].ipv4);
    EXPECT_EQ(e->has_v6(), i % 10 == 0);
  }
  const auto* user = snap->find("u3.a3");
  ASSERT_NE(user, nullptr);
  EXPECT_FALSE(user->is_device());
  ASSERT_NE(snap->find("a6"), nullptr);
  EXPECT_EQ(snap->find("a7"), nullptr);
  EXPECT_EQ(snap->find("d1.u1"), nullptr);
  EXPECT_EQ(snap->find(""), nullptr);
}

TEST(Snapshot, EmptyAndDuplicates) {
  const auto empty = Snapshot::build({}, 1);
  EXPECT_EQ(empty->find("x"), nullptr);
  std::vector<DeviceRecord> recs(2);
  recs[0].name = recs[1].name = "a.b.c";
  recs[0].ipv4 = Ipv4{1, 1, 1, 1};
  recs[1].ipv4 = Ipv4{2, 2, 2, 2};
  const auto snap = Snapshot::build(recs, 1);
  EXPECT_EQ(snap->find("a.b.c")->v4, (Ipv4{2, 2, 2, 2}));
}

TEST(Snapshot, GrowsWhenEveryDeviceHasItsOwnUserAndAgent) {
  std::vector<DeviceRecord> recs(1000);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    recs[i].name = "d.u" + std::to_string(i) + ".a" + std::to_string(i);
    recs[i].ipv4 = Ipv4{192, 0, 2, static_cast<std::uint8_t>(i)};
  }
  const auto snap = Snapshot::build(recs, 1);
  for (std::size_t i = 0; i < recs.size(); ++i) {
    ASSERT_NE(snap->find(recs[i].name), nullptr) << i;
    ASSERT_NE(snap->find("u" + std::to_string(i) + ".a" + std::to_string(i)), nullptr) << i;
    ASSERT_NE(snap->find("a" + std::to_string(i)), nullptr) << i;
  }
}

TEST(Snapshot, ChangesGoToADeltaThenMerge) {
  const auto recs = many(20000);
  auto snap = Snapshot::build(recs, 1);
  // Small changes: the base is shared, only a delta is built.
  std::vector<Snapshot::Change> changes{{recs[0].name, NameEntry::device(Ipv4{9, 9, 9, 9}, {})},
                                        {recs[1].name, NameEntry::tombstone()},
                                        {"new.user.agent", NameEntry::device(Ipv4{8, 8, 8, 8}, {})},
                                        {"user.agent", NameEntry::interior()},
                                        {"agent", NameEntry::interior()}};
  auto next = snap->with_changes(changes, 20000, 2);
  EXPECT_EQ(next->serial(), 2u);
  EXPECT_EQ(next->delta_size(), 5u);
  EXPECT_EQ(next->find(recs[0].name)->v4, (Ipv4{9, 9, 9, 9}));
  EXPECT_EQ(next->find(recs[1].name), nullptr);
  EXPECT_NE(next->find("new.user.agent"), nullptr);
  EXPECT_NE(next->find("user.agent"), nullptr);
  EXPECT_NE(next->find(recs[2].name), nullptr);  // from the base
  EXPECT_NE(snap->find(recs[1].name), nullptr);  // the old snapshot is untouched

  // Many changes: merged into a new base, tombstones gone.
  std::vector<Snapshot::Change> bulk;
  for (std::size_t i = 2; i < 5002; ++i) bulk.push_back({recs[i].name, NameEntry::tombstone()});
  auto merged = next->with_changes(bulk, 15000, 3);
  EXPECT_EQ(merged->delta_size(), 0u);
  EXPECT_EQ(merged->find(recs[1].name), nullptr);
  EXPECT_EQ(merged->find(recs[2].name), nullptr);
  EXPECT_EQ(merged->find(recs[5001].name), nullptr);
  ASSERT_NE(merged->find(recs[5002].name), nullptr);
  EXPECT_EQ(merged->find(recs[0].name)->v4, (Ipv4{9, 9, 9, 9}));
  EXPECT_NE(merged->find("new.user.agent"), nullptr);
  EXPECT_EQ(merged->device_count(), 15000u);
}

TEST(SnapshotHolder, ReadersSeeEachPublishedSnapshot) {
  SnapshotHolder holder(Snapshot::build({}, 1));
  SnapshotReader reader(holder);
  EXPECT_EQ(reader.get().serial(), 1u);
  holder.publish(Snapshot::build(many(10), 2));
  EXPECT_EQ(reader.get().serial(), 2u);
  EXPECT_EQ(reader.get().device_count(), 10u);
}

TEST(SnapshotHolder, ConcurrentPublishAndRead) {
  SnapshotHolder holder(Snapshot::build({}, 0));
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (std::uint32_t s = 1; s <= 200; ++s) holder.publish(Snapshot::build(many(20), s));
    done = true;
  });
  SnapshotReader reader(holder);
  std::uint32_t last = 0;
  while (!done) {
    const auto serial = reader.get().serial();
    EXPECT_GE(serial, last);  // never goes back
    last = serial;
  }
  writer.join();
  EXPECT_EQ(reader.get().serial(), 200u);
}

}  // namespace
}  // namespace pweb::registrar
