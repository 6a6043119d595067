#include "pweb/registrar/name_table.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace pweb::registrar {
namespace {

TEST(NameTable, GrowsPastItsEstimate) {
  NameTable t(4);
  for (int i = 0; i < 5000; ++i)
    t.insert("n" + std::to_string(i), NameEntry::device(Ipv4{1, 2, 3, 4}, {}));
  EXPECT_EQ(t.size(), 5000u);
  for (int i = 0; i < 5000; ++i) ASSERT_NE(t.find("n" + std::to_string(i)), nullptr) << i;
  EXPECT_EQ(t.find("n5000"), nullptr);
}

TEST(NameTable, MergeAndReplaceModes) {
  NameTable t(4);
  t.insert("a", NameEntry::device(Ipv4{1, 1, 1, 1}, {}));
  t.insert("a", NameEntry::interior());  // merge: interior does not replace
  EXPECT_TRUE(t.find("a")->is_device());
  t.insert("a", NameEntry::tombstone());
  EXPECT_TRUE(t.find("a")->is_tombstone());
  t.insert("a", NameEntry::interior(), NameTable::Mode::replace);
  EXPECT_FALSE(t.find("a")->is_tombstone());
  EXPECT_FALSE(t.find("a")->is_device());
  EXPECT_EQ(t.size(), 1u);
}

TEST(NameTable, ForEachVisitsEveryEntryOnce) {
  NameTable t(4);
  std::map<std::string, int> seen;
  for (int i = 0; i < 100; ++i) t.insert("k" + std::to_string(i), NameEntry::interior());
  t.insert("k7", NameEntry::device({}, Ipv6{}));
  t.for_each([&](std::string_view k, const NameEntry&) { ++seen[std::string(k)]; });
  EXPECT_EQ(seen.size(), 100u);
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k;
}

}  // namespace
}  // namespace pweb::registrar
