#include "pweb/gateway/frame.hpp"

#include <gtest/gtest.h>

namespace pweb::gateway {
namespace {

TEST(GatewayFrame, QueryRoundTripAndWireLayout) {
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(encode(out, Query{0x0102, "laptop.alice.uw"}));
  ASSERT_EQ(out.size(), 6u + 15u);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 1);  // type QUERY
  EXPECT_EQ(out[2], 1);
  EXPECT_EQ(out[3], 2);   // serial
  EXPECT_EQ(out[5], 15);  // name length
  const auto d = decode(out);
  ASSERT_EQ(d.status, DecodeStatus::frame);
  EXPECT_EQ(d.consumed, out.size());
  EXPECT_EQ(std::get<Query>(d.frame), (Query{0x0102, "laptop.alice.uw"}));
}

TEST(GatewayFrame, RepliesRoundTrip) {
  Reply v4{7, true, 4, {192, 0, 2, 1}};
  Reply v6{8, true, 6, {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};
  Reply fail{9, false, 0, {}};
  for (const auto& r : {v4, v6, fail}) {
    std::vector<std::uint8_t> out;
    encode(out, r);
    EXPECT_EQ(out.size(), 5u + (r.success ? 1u + (r.family == 6 ? 16u : 4u) : 0u));
    const auto d = decode(out);
    ASSERT_EQ(d.status, DecodeStatus::frame);
    EXPECT_EQ(std::get<Reply>(d.frame), r);
  }
}

TEST(GatewayFrame, EveryPrefixNeedsMore) {
  std::vector<std::uint8_t> out;
  encode(out, Query{1, "a.b.c"});
  encode(out, Reply{2, true, 6, {}});
  const auto first = decode(out).consumed;
  for (std::size_t n = 0; n < first; ++n) {
    EXPECT_EQ(decode(std::span(out.data(), n)).status, DecodeStatus::need_more) << n;
  }
  // Two pipelined frames: the second decodes from where the first ended.
  const auto second = decode(std::span(out).subspan(first));
  ASSERT_EQ(second.status, DecodeStatus::frame);
  EXPECT_EQ(first + second.consumed, out.size());
}

TEST(GatewayFrame, MalformedFrames) {
  const std::vector<std::vector<std::uint8_t>> bad{
      {0, 3, 0, 1},                    // unknown type
      {0, 2, 0, 1, 2},                 // status 2
      {0, 2, 0, 1, 0, 5, 1, 2, 3, 4},  // family 5
      {0, 1, 0, 1, 1, 0},              // name length 256
  };
  for (const auto& b : bad) EXPECT_EQ(decode(b).status, DecodeStatus::malformed);
  std::vector<std::uint8_t> out;
  EXPECT_FALSE(encode(out, Query{1, std::string(256, 'a')}));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(encode(out, Query{1, std::string(255, 'a')}));
}

TEST(GatewayFrame, Version) {
  std::vector<std::uint8_t> out;
  encode_version(out);
  EXPECT_EQ(decode_version(out), 1);
  EXPECT_FALSE(decode_version(std::span(out.data(), 1)));
}

}  // namespace
}  // namespace pweb::gateway
