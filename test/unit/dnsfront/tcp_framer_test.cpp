#include "pweb/dns/tcp_framer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace pweb::dns {
namespace {

void feed(TcpFramer& f, const std::vector<std::uint8_t>& bytes) {
  auto room = f.prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  f.commit(bytes.size());
}

std::vector<std::uint8_t> frame(const std::vector<std::uint8_t>& msg) {
  std::vector<std::uint8_t> out(msg.size() + 2);
  out[0] = static_cast<std::uint8_t>(msg.size() >> 8);
  out[1] = static_cast<std::uint8_t>(msg.size());
  std::copy(msg.begin(), msg.end(), out.begin() + 2);
  return out;
}

TEST(TcpFramer, PipelinedMessagesInOneRead) {
  TcpFramer f;
  auto a = frame({1, 2, 3});
  auto b = frame({4, 5});
  a.insert(a.end(), b.begin(), b.end());
  feed(f, a);
  auto m1 = f.next();
  ASSERT_TRUE(m1);
  EXPECT_EQ(std::vector<std::uint8_t>(m1->begin(), m1->end()),
            (std::vector<std::uint8_t>{1, 2, 3}));
  auto m2 = f.next();
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->size(), 2u);
  EXPECT_FALSE(f.next());
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(TcpFramer, ByteByByte) {
  TcpFramer f;
  const auto bytes = frame({9, 8, 7, 6});
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    EXPECT_FALSE(f.next()) << "complete too early at byte " << i;
    feed(f, {bytes[i]});
  }
  auto m = f.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 4u);
}

TEST(TcpFramer, ZeroLengthAndMaximumLength) {
  TcpFramer f;
  feed(f, {0, 0});
  auto empty = f.next();
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  std::vector<std::uint8_t> big(65535, 0xaa);
  feed(f, frame(big));
  auto m = f.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 65535u);
}

TEST(TcpFramer, PartialLengthPrefixWaits) {
  TcpFramer f;
  feed(f, {0});
  EXPECT_FALSE(f.next());
  feed(f, {1});
  EXPECT_FALSE(f.next());
  feed(f, {42});
  auto m = f.next();
  ASSERT_TRUE(m);
  EXPECT_EQ((*m)[0], 42);
}

}  // namespace
}  // namespace pweb::dns
