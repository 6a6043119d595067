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
      {0, 9, 0, 1},                    // unknown type (4 and 5 are v3's)
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

// ---- v3: QUERY3 carries the type, ANSWER3 the RRsets.

RRset set(std::uint16_t type, std::uint32_t ttl, std::vector<std::string> rdata) {
  return RRset{"", type, ttl, std::move(rdata)};
}

std::vector<std::uint8_t> bytes_of(const Answer3& a) {
  std::vector<std::uint8_t> out;
  EXPECT_TRUE(encode(out, a));
  return out;
}

TEST(GatewayFrameV3, Query3RoundTripAndWireLayout) {
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(encode(out, Query3{0x0102, 16, "_acme-challenge.laptop.alice.uw"}));
  ASSERT_EQ(out.size(), 8u + 31u);
  EXPECT_EQ(out[1], 4);   // type QUERY3
  EXPECT_EQ(out[2], 1);   // serial
  EXPECT_EQ(out[5], 16);  // qtype TXT
  EXPECT_EQ(out[7], 31);  // name length
  const auto d = decode(out);
  ASSERT_EQ(d.status, DecodeStatus::frame);
  EXPECT_EQ(d.consumed, out.size());
  EXPECT_EQ(std::get<Query3>(d.frame), (Query3{0x0102, 16, "_acme-challenge.laptop.alice.uw"}));
  out.clear();
  EXPECT_FALSE(encode(out, Query3{1, 1, std::string(256, 'a')}));
  EXPECT_TRUE(out.empty());
}

TEST(GatewayFrameV3, Answer3RoundTrips) {
  const std::string srv{0, 10, 0, 5, 0x01, static_cast<char>(0xBB), 3, 'w', 'e', 'b', 0};
  const std::vector<Answer3> table{
      {1, Answer3Status::found, 300, {set(16, 300, {"\x05hello", std::string("\x00", 1)})}},
      {2,
       Answer3Status::found,
       60,
       {set(33, 60, {srv}), set(5, 60,
                                {std::string("\x01"
                                             "a\x00",
                                             3)})}},
      {3,
       Answer3Status::found,
       60,
       {set(1, 60, {std::string("\xc0\x00\x02\x01", 4), std::string("\xc0\x00\x02\x02", 4)})}},
      {4, Answer3Status::found, 0, {set(16, 0, {""})}},  // an empty record is a record
      {5, Answer3Status::nodata, 30, {}},
      {6, Answer3Status::absent, 5, {}},
      {7, Answer3Status::failed, 0, {}},
      {8, Answer3Status::found, 60, {}},
  };
  for (const auto& a : table) {
    const auto out = bytes_of(a);
    EXPECT_EQ(out[1], 5);  // type ANSWER3
    EXPECT_EQ(out[4], static_cast<std::uint8_t>(a.status));
    EXPECT_EQ(out[9], a.rrsets.size());
    const auto d = decode(out);
    ASSERT_EQ(d.status, DecodeStatus::frame) << a.serial;
    EXPECT_EQ(d.consumed, out.size());
    EXPECT_EQ(std::get<Answer3>(d.frame), a) << a.serial;
    for (std::size_t n = 0; n < out.size(); ++n) {
      ASSERT_EQ(decode(std::span(out.data(), n)).status, DecodeStatus::need_more) << n;
    }
  }
}

TEST(GatewayFrameV3, Answer3WireLayout) {
  const auto out = bytes_of({9, Answer3Status::found, 300, {set(16, 200, {"ab", "c"})}});
  const std::vector<std::uint8_t> want{
      0, 5,  0,   9,   0, 0,   0,  1, 0x2c,  // type, serial, status, ttl
      1,                                     // one RRset
      0, 16, 0,   0,   0, 200, 0,  2,        // TXT, ttl 200, 2 records
      0, 2,  'a', 'b', 0, 1,   'c'};
  EXPECT_EQ(out, want);
}

TEST(GatewayFrameV3, Answer3Boundaries) {
  // The most RRsets, and the most records in one.
  Answer3 most{1, Answer3Status::found, 60, {}};
  for (std::size_t i = 0; i < kMaxAnswerRRsets; ++i) most.rrsets.push_back(set(16, 60, {"x"}));
  most.rrsets[0].rdata.assign(kMaxRRsetRecords, "r");
  auto out = bytes_of(most);
  EXPECT_EQ(std::get<Answer3>(decode(out).frame), most);
  // The largest frame: exactly kMaxAnswer3Size bytes.
  Answer3 big{2, Answer3Status::found, 60, {set(16, 60, {""})}};
  big.rrsets[0].rdata[0].assign(kMaxAnswer3Size - 10 - 8 - 2, 'x');
  out = bytes_of(big);
  ASSERT_EQ(out.size(), kMaxAnswer3Size);
  EXPECT_EQ(decode(out).status, DecodeStatus::frame);

  // What the frame cannot say is not encoded.
  auto too_many_sets = most;
  too_many_sets.rrsets.push_back(set(16, 60, {"x"}));
  auto too_many_records = most;
  too_many_records.rrsets[0].rdata.push_back("r");
  auto too_big = big;
  too_big.rrsets[0].rdata[0].push_back('x');
  auto no_records = big;
  no_records.rrsets[0].rdata.clear();
  auto with_subname = big;
  with_subname.rrsets[0].subname = "www";
  const Answer3 nodata_with_set{3, Answer3Status::nodata, 0, {set(16, 60, {"x"})}};
  Answer3 long_record{4, Answer3Status::found, 0, {set(16, 0, {std::string(70000, 'x')})}};
  for (const auto& a : {too_many_sets, too_many_records, too_big, no_records, with_subname,
                        nodata_with_set, long_record}) {
    std::vector<std::uint8_t> none;
    EXPECT_FALSE(encode(none, a));
    EXPECT_TRUE(none.empty());
  }
}

TEST(GatewayFrameV3, MalformedAnswer3) {
  const auto good = bytes_of({1, Answer3Status::found, 60, {set(16, 60, {"ab"})}});
  auto big_frame = bytes_of({2, Answer3Status::found, 60, {set(16, 60, {"x"})}});
  struct Case {
    const char* what;
    std::vector<std::uint8_t> wire;
  };
  const auto patched = [&](std::size_t at, std::uint8_t v) {
    auto w = good;
    w[at] = v;
    return w;
  };
  // A record claiming more than the frame may hold: malformed at once,
  // without the bytes (a peer cannot make us wait for them).
  auto huge_record = big_frame;
  huge_record.resize(18);
  huge_record.push_back(0x50);  // length 0x5000 = 20480
  huge_record.push_back(0x00);
  const std::vector<Case> table{
      {"status 4", patched(4, 4)},
      {"nine RRsets", patched(9, 9)},
      {"nodata with an RRset", patched(4, 1)},
      {"absent with an RRset", patched(4, 2)},
      {"failed with an RRset", patched(4, 3)},
      {"no records", patched(17, 0)},
      {"257 records",
       [&] {
         auto w = patched(16, 1);
         w[17] = 1;
         return w;
       }()},
      {"record past the frame limit", huge_record},
      {"query3 name 256", {0, 4, 0, 1, 0, 16, 1, 0}},
      {"unknown type 6", {0, 6, 0, 1, 0, 0}},
  };
  for (const auto& c : table) EXPECT_EQ(decode(c.wire).status, DecodeStatus::malformed) << c.what;
  EXPECT_EQ(decode(good).status, DecodeStatus::frame);
}

TEST(GatewayFrameV3, FromV2ByType) {
  const Answer dual{3, AnswerStatus::found, 60, {{192, 0, 2, 1}}, {{0x20, 0x01}}};
  const Answer v4_only{3, AnswerStatus::found, 60, {{192, 0, 2, 1}}, {}};
  const std::string v4("\xc0\x00\x02\x01", 4);
  std::string v6(16, '\0');
  v6[0] = 0x20;
  v6[1] = 0x01;
  struct Case {
    Answer in;
    std::uint16_t qtype;
    Answer3 want;
  };
  const std::vector<Case> table{
      {dual, 1, {3, Answer3Status::found, 60, {set(1, 60, {v4})}}},
      {dual, 28, {3, Answer3Status::found, 60, {set(28, 60, {v6})}}},
      {dual, 255, {3, Answer3Status::found, 60, {set(1, 60, {v4}), set(28, 60, {v6})}}},
      {v4_only, 28, {3, Answer3Status::nodata, 60, {}}},
      {dual, 16, {3, Answer3Status::nodata, 60, {}}},  // v2 carries no TXT
      {{3, AnswerStatus::absent, 5, {}, {}}, 16, {3, Answer3Status::absent, 5, {}}},
      {{3, AnswerStatus::failed, 0, {}, {}}, 1, {3, Answer3Status::failed, 0, {}}},
  };
  for (const auto& c : table) EXPECT_EQ(from_v2(c.in, c.qtype), c.want) << c.qtype;
}

}  // namespace
}  // namespace pweb::gateway
