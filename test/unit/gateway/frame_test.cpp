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
      {0, 4, 0, 1},                    // unknown type
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

// v2 ANSWER: every address, the TTL, three statuses.
TEST(GatewayFrame, AnswersRoundTripAndWireLayout) {
  const Answer dual{7, AnswerStatus::found, 300, {{192, 0, 2, 1}, {192, 0, 2, 2}}, {{0x20, 0x01}}};
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(encode(out, dual));
  ASSERT_EQ(out.size(), 2u + 2 + 1 + 4 + 1 + 2 * 4 + 1 + 16);
  EXPECT_EQ(out[1], 3);  // type ANSWER
  EXPECT_EQ(out[4], 0);  // found
  EXPECT_EQ(out[7], 1);  // ttl 300 = 0x0000012c
  EXPECT_EQ(out[8], 0x2c);
  EXPECT_EQ(out[9], 2);   // two IPv4
  EXPECT_EQ(out[18], 1);  // one IPv6
  auto d = decode(out);
  ASSERT_EQ(d.status, DecodeStatus::frame);
  EXPECT_EQ(d.consumed, out.size());
  EXPECT_EQ(std::get<Answer>(d.frame), dual);
  for (const auto status : {AnswerStatus::absent, AnswerStatus::failed}) {
    const Answer none{9, status, 5, {}, {}};
    out.clear();
    ASSERT_TRUE(encode(out, none));
    EXPECT_EQ(out.size(), 11u);
    d = decode(out);
    ASSERT_EQ(d.status, DecodeStatus::frame);
    EXPECT_EQ(std::get<Answer>(d.frame), none);
  }
}

TEST(GatewayFrame, AnswerBoundaries) {
  Answer a{1, AnswerStatus::found, 0, {}, {}};
  a.ipv4.assign(kMaxAnswerAddresses, {10, 0, 0, 1});
  a.ipv6.assign(kMaxAnswerAddresses, {});
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(encode(out, a));  // the most a frame carries
  // Every prefix needs more; the whole decodes.
  for (std::size_t n = 0; n < out.size(); ++n) {
    ASSERT_EQ(decode(std::span(out.data(), n)).status, DecodeStatus::need_more) << n;
  }
  EXPECT_EQ(decode(out).status, DecodeStatus::frame);
  // One address past the limit is not encoded, and malformed on the wire.
  a.ipv4.push_back({10, 0, 0, 2});
  std::vector<std::uint8_t> over;
  EXPECT_FALSE(encode(over, a));
  EXPECT_TRUE(over.empty());
  auto wire = out;
  wire[9] = static_cast<std::uint8_t>(kMaxAnswerAddresses + 1);
  EXPECT_EQ(decode(wire).status, DecodeStatus::malformed);
  wire = out;
  wire[10 + 4 * kMaxAnswerAddresses] = static_cast<std::uint8_t>(kMaxAnswerAddresses + 1);
  EXPECT_EQ(decode(wire).status, DecodeStatus::malformed);
  // Addresses with "no such device" are a contradiction: refused both ways.
  EXPECT_FALSE(encode(over, Answer{1, AnswerStatus::absent, 0, {{1, 2, 3, 4}}, {}}));
  const std::vector<std::uint8_t> absent_with_address{0, 3, 0, 1, 1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 0};
  EXPECT_EQ(decode(absent_with_address).status, DecodeStatus::malformed);
  const std::vector<std::uint8_t> status_3{0, 3, 0, 1, 3, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(decode(status_3).status, DecodeStatus::malformed);
}

TEST(GatewayFrame, BetweenVersions) {
  const Answer dual{3, AnswerStatus::found, 60, {{192, 0, 2, 1}}, {{0x20, 0x01}}};
  EXPECT_EQ(to_v1(dual), (Reply{3, true, 4, {192, 0, 2, 1}}));
  const Answer v6{3, AnswerStatus::found, 60, {}, {{0x20, 0x01}}};
  EXPECT_EQ(to_v1(v6), (Reply{3, true, 6, {0x20, 0x01}}));
  EXPECT_FALSE(to_v1(Answer{3, AnswerStatus::failed, 0, {}, {}}).success);
  EXPECT_FALSE(to_v1(Answer{3, AnswerStatus::absent, 0, {}, {}}).success);
  EXPECT_EQ(from_v1(Reply{4, true, 4, {192, 0, 2, 1}}),
            (Answer{4, AnswerStatus::found, 0, {{192, 0, 2, 1}}, {}}));
  EXPECT_EQ(from_v1(Reply{4, true, 6, {0x20, 0x01}}),
            (Answer{4, AnswerStatus::found, 0, {}, {{0x20, 0x01}}}));
  EXPECT_EQ(from_v1(Reply{4, false, 0, {}}), (Answer{4, AnswerStatus::absent, 0, {}, {}}));
}

TEST(GatewayFrame, Version) {
  std::vector<std::uint8_t> out;
  encode_version(out);
  EXPECT_EQ(decode_version(out), 1);
  EXPECT_FALSE(decode_version(std::span(out.data(), 1)));
}

}  // namespace
}  // namespace pweb::gateway
