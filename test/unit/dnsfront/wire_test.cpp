#include "pweb/dns/wire.hpp"

#include <gtest/gtest.h>

#include <array>

namespace pweb::dns {
namespace {

TEST(WireReader, ReadsBigEndian) {
  const std::array<std::uint8_t, 7> buf{0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x7f};
  WireReader r(buf);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.u8(), 0x7f);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireReader, LastByteThenOnePastFailsAndSticks) {
  const std::array<std::uint8_t, 3> buf{1, 2, 3};
  WireReader r(buf);
  EXPECT_EQ(r.u16(), 0x0102);
  EXPECT_EQ(r.u16(), 0);  // one byte left: fails
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0);  // failure sticks even though a byte remains
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireReader, BytesAndSkipAreBounded) {
  const std::array<std::uint8_t, 4> buf{1, 2, 3, 4};
  WireReader r(buf);
  EXPECT_EQ(r.bytes(4).size(), 4u);
  EXPECT_TRUE(r.ok());
  WireReader r2(buf);
  r2.skip(5);
  EXPECT_FALSE(r2.ok());
  WireReader r3(buf);
  EXPECT_TRUE(r3.bytes(5).empty());
  EXPECT_FALSE(r3.ok());
  WireReader r4(buf);
  r4.skip(SIZE_MAX);  // no overflow in the bounds check
  EXPECT_FALSE(r4.ok());
}

TEST(WireReader, SeekWithinAndPastEnd) {
  const std::array<std::uint8_t, 4> buf{1, 2, 3, 4};
  WireReader r(buf);
  r.seek(4);
  EXPECT_TRUE(r.ok());
  r.seek(5);
  EXPECT_FALSE(r.ok());
}

TEST(WireWriter, WritesUpToLimitAndStopsAtOnePast) {
  std::array<std::uint8_t, 8> buf{};
  WireWriter w(buf);
  w.set_limit(6);
  w.u32(0x01020304);
  w.u16(0x0506);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.pos(), 6u);
  w.u8(7);
  EXPECT_FALSE(w.ok());
  EXPECT_EQ(w.pos(), 6u);
  EXPECT_EQ(buf[5], 0x06);
  EXPECT_EQ(buf[6], 0x00);  // nothing written past the limit
}

TEST(WireWriter, RollbackClearsFailure) {
  std::array<std::uint8_t, 4> buf{};
  WireWriter w(buf);
  w.u16(1);
  const auto mark = w.pos();
  w.u32(2);  // does not fit
  EXPECT_FALSE(w.ok());
  w.rollback(mark);
  EXPECT_TRUE(w.ok());
  w.u16(3);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(w.pos(), 4u);
}

TEST(WireWriter, PatchOnlyInsideWritten) {
  std::array<std::uint8_t, 8> buf{};
  WireWriter w(buf);
  w.u32(0);
  w.patch_u16(2, 0xabcd);
  EXPECT_TRUE(w.ok());
  EXPECT_EQ(buf[2], 0xab);
  EXPECT_EQ(buf[3], 0xcd);
  w.patch_u16(3, 1);  // would cross the written end
  EXPECT_FALSE(w.ok());
}

TEST(WireWriter, LimitIsClampedToBuffer) {
  std::array<std::uint8_t, 2> buf{};
  WireWriter w(buf);
  w.set_limit(100);
  EXPECT_EQ(w.limit(), 2u);
  w.u32(1);
  EXPECT_FALSE(w.ok());
}

}  // namespace
}  // namespace pweb::dns
