#include "pweb/dns/remote.hpp"

#include <gtest/gtest.h>

namespace pweb::dns {
namespace {

using namespace std::chrono_literals;

RemoteAnswer found(std::uint8_t last, std::uint32_t ttl) {
  RemoteAnswer a;
  a.status = RemoteAnswer::Status::found;
  a.entry = registrar::NameEntry::device(registrar::Ipv4{192, 0, 2, last}, std::nullopt);
  a.ttl = ttl;
  return a;
}

TEST(RemoteCache, FindsWithRemainingTtlUntilExpiry) {
  RemoteCache cache;
  const auto t0 = RemoteCache::Clock::now();
  cache.insert("laptop.alice.uw", found(1, 10), t0);
  std::uint32_t ttl = 0;
  const auto* a = cache.find("laptop.alice.uw", t0 + 3s, ttl);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(ttl, 7u);
  EXPECT_EQ(a->entry.v4, (registrar::Ipv4{192, 0, 2, 1}));
  EXPECT_NE(cache.find("laptop.alice.uw", t0 + 9999ms, ttl), nullptr);
  EXPECT_EQ(ttl, 1u);  // rounded up: never a TTL of 0 for a live entry
  EXPECT_EQ(cache.find("laptop.alice.uw", t0 + 10s, ttl), nullptr);  // the last instant: gone
  EXPECT_EQ(cache.find("phone.alice.uw", t0, ttl), nullptr);
}

TEST(RemoteCache, ZeroTtlIsNotCached) {
  RemoteCache cache;
  const auto t0 = RemoteCache::Clock::now();
  cache.insert("laptop.alice.uw", found(1, 0), t0);
  std::uint32_t ttl = 0;
  EXPECT_EQ(cache.find("laptop.alice.uw", t0, ttl), nullptr);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(RemoteCache, NewerAnswerReplaces) {
  RemoteCache cache;
  const auto t0 = RemoteCache::Clock::now();
  cache.insert("laptop.alice.uw", found(1, 10), t0);
  cache.insert("laptop.alice.uw", found(2, 10), t0 + 1s);
  std::uint32_t ttl = 0;
  const auto* a = cache.find("laptop.alice.uw", t0 + 1s, ttl);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->entry.v4[3], 2);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RemoteCache, StaysWithinItsBoundExpiredFirst) {
  RemoteCache cache(4);
  const auto t0 = RemoteCache::Clock::now();
  cache.insert("a.u.x", found(1, 1), t0);  // expires first
  cache.insert("b.u.x", found(2, 100), t0);
  cache.insert("c.u.x", found(3, 100), t0);
  cache.insert("d.u.x", found(4, 100), t0);
  cache.insert("e.u.x", found(5, 100), t0 + 2s);  // full: the expired one goes
  EXPECT_EQ(cache.size(), 4u);
  std::uint32_t ttl = 0;
  EXPECT_NE(cache.find("e.u.x", t0 + 2s, ttl), nullptr);
  EXPECT_NE(cache.find("b.u.x", t0 + 2s, ttl), nullptr);
  for (int i = 0; i < 100; ++i) {
    cache.insert("n" + std::to_string(i) + ".u.x", found(9, 100), t0 + 2s);
    ASSERT_LE(cache.size(), 4u);
  }
  EXPECT_NE(cache.find("n99.u.x", t0 + 2s, ttl), nullptr);  // the newest is kept
}

}  // namespace
}  // namespace pweb::dns
