#include "pweb/expiring_cache.hpp"

#include <gtest/gtest.h>

namespace pweb {
namespace {

using namespace std::chrono_literals;
using Cache = ExpiringCache<int>;

TEST(ExpiringCache, RemainingTtlRoundsUpAndExpiresOnTheLastInstant) {
  Cache c(8);
  const auto t0 = Cache::Clock::now();
  c.insert("a", 1, 10, t0);
  std::uint32_t ttl = 0;
  ASSERT_NE(c.find("a", t0 + 9999ms, ttl), nullptr);
  EXPECT_EQ(ttl, 1u);
  EXPECT_EQ(c.find("a", t0 + 10s, ttl), nullptr);
  c.insert("z", 1, 0, t0);  // TTL 0: not cached
  EXPECT_EQ(c.size(), 1u);
}

TEST(ExpiringCache, WhenFullTheOldestInsertionGoesFirst) {
  Cache c(3);
  const auto t0 = Cache::Clock::now();
  c.insert("a", 1, 60, t0);
  c.insert("b", 2, 60, t0);
  c.insert("c", 3, 60, t0);
  c.insert("a", 10, 60, t0 + 1s);  // refreshed: now the newest
  c.insert("d", 4, 60, t0 + 2s);   // full: b, the oldest, goes
  std::uint32_t ttl = 0;
  EXPECT_EQ(c.size(), 3u);
  EXPECT_EQ(c.find("b", t0 + 2s, ttl), nullptr);
  ASSERT_NE(c.find("a", t0 + 2s, ttl), nullptr);
  EXPECT_EQ(*c.find("a", t0 + 2s, ttl), 10);
  EXPECT_NE(c.find("c", t0 + 2s, ttl), nullptr);
  EXPECT_NE(c.find("d", t0 + 2s, ttl), nullptr);
}

TEST(ExpiringCache, AStreamOfNewNamesKeepsTheMostRecentOnes) {
  // The most recent `max` names of a long stream are all still there.
  Cache c(1000);
  const auto t0 = Cache::Clock::now();
  for (int i = 0; i < 10000; ++i) c.insert("n" + std::to_string(i), i, 600, t0);
  EXPECT_EQ(c.size(), 1000u);
  std::uint32_t ttl = 0;
  for (int i = 9000; i < 10000; ++i) {
    ASSERT_NE(c.find("n" + std::to_string(i), t0, ttl), nullptr) << i;
  }
  EXPECT_EQ(c.find("n8999", t0, ttl), nullptr);
}

TEST(ExpiringCache, RefreshingOneKeyForeverStaysBounded) {
  Cache c(4);
  const auto t0 = Cache::Clock::now();
  for (int i = 0; i < 100000; ++i) c.insert("same", i, 60, t0);
  EXPECT_EQ(c.size(), 1u);
  std::uint32_t ttl = 0;
  EXPECT_EQ(*c.find("same", t0, ttl), 99999);
}

TEST(ExpiringCache, AnExpiredEntryIsFoundStaleWithinTheWindowOnly) {
  Cache c(8);
  const auto t0 = Cache::Clock::now();
  c.insert("a", 1, 10, t0);
  Cache::Clock::duration age{};
  EXPECT_EQ(c.find_stale("a", t0 + 9s, 60s, age), nullptr);  // live: not stale
  std::uint32_t ttl = 0;
  EXPECT_EQ(c.find("a", t0 + 20s, ttl), nullptr);  // find sees live entries only
  const int* v = c.find_stale("a", t0 + 20s, 60s, age);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(age, 10s);
  EXPECT_NE(c.find_stale("a", t0 + 70s, 60s, age), nullptr);  // expired exactly 60 s ago
  EXPECT_EQ(c.find_stale("a", t0 + 71s, 60s, age), nullptr);
  EXPECT_EQ(c.find_stale("a", t0 + 11s, 0s, age), nullptr);  // a window of 0: nothing stale
  EXPECT_EQ(c.find_stale("b", t0 + 20s, 60s, age), nullptr);
}

TEST(ExpiringCache, ExpiredEntriesStillCountAndGoOldestFirst) {
  Cache c(2);
  const auto t0 = Cache::Clock::now();
  c.insert("a", 1, 1, t0);
  c.insert("b", 2, 1, t0);
  Cache::Clock::duration age{};
  ASSERT_NE(c.find_stale("a", t0 + 5s, 60s, age), nullptr);
  c.insert("c", 3, 1, t0 + 5s);  // full: the expired a goes, b stays for stale use
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(c.find_stale("a", t0 + 10s, 60s, age), nullptr);
  EXPECT_NE(c.find_stale("b", t0 + 10s, 60s, age), nullptr);
  c.insert("b", 20, 0, t0 + 10s);  // TTL 0 caches nothing and leaves the old value
  ASSERT_NE(c.find_stale("b", t0 + 10s, 60s, age), nullptr);
  EXPECT_EQ(*c.find_stale("b", t0 + 10s, 60s, age), 2);
}

}  // namespace
}  // namespace pweb
