#include "pweb/dns/message.hpp"

#include <gtest/gtest.h>

#include "../dns_test_util.hpp"

namespace pweb::dns {
namespace {

using testutil::build_query;
using testutil::QuerySpec;

TEST(ParseQuery, PlainQuery) {
  const auto q = build_query({});
  Query out;
  ASSERT_EQ(parse_query(q, out), ParseStatus::ok);
  EXPECT_EQ(out.header.id, 0x1234);
  EXPECT_EQ(name_to_text(out.qname), "laptop.alice.uw.dht.");
  EXPECT_EQ(out.qname.labels, 4);
  EXPECT_EQ(out.qtype, type::A);
  EXPECT_FALSE(out.edns.present);
}

TEST(ParseQuery, EveryTruncationIsRejected) {
  QuerySpec spec;
  spec.edns = true;
  spec.edns_options = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};  // a client cookie
  const auto full = build_query(spec);
  for (std::size_t n = 0; n < full.size(); ++n) {
    Query out;
    const auto st = parse_query(std::span(full.data(), n), out);
    EXPECT_TRUE(st == ParseStatus::drop || st == ParseStatus::formerr) << "prefix " << n;
  }
}

TEST(ParseQuery, ResponsesAndShortPacketsAreDropped) {
  auto q = build_query({});
  q[2] |= 0x80;  // QR
  Query out;
  EXPECT_EQ(parse_query(q, out), ParseStatus::drop);
  EXPECT_EQ(parse_query(std::span(q.data(), 11), out), ParseStatus::drop);
}

TEST(ParseQuery, QuestionCountMustBeOne) {
  for (int qd : {0, 2}) {
    auto q = build_query({});
    q[5] = static_cast<std::uint8_t>(qd);
    Query out;
    EXPECT_EQ(parse_query(q, out), ParseStatus::formerr) << int(qd);
  }
}

TEST(ParseQuery, UnknownOpcodeIsNotimpWithQuestion) {
  QuerySpec spec;
  spec.flags = static_cast<std::uint16_t>(15 << 11);
  Query out;
  EXPECT_EQ(parse_query(build_query(spec), out), ParseStatus::notimp);
  EXPECT_TRUE(out.has_question);
}

TEST(ParseQuery, Edns) {
  QuerySpec spec;
  spec.edns = true;
  spec.udp_size = 4096;
  spec.edns_version = 1;
  spec.edns_flags = 0x8000 | 0x4000;
  spec.edns_options = {0, 3, 0, 0, 0, 100, 0, 2, 9, 9};  // NSID, unknown option 100
  Query out;
  ASSERT_EQ(parse_query(build_query(spec), out), ParseStatus::ok);
  EXPECT_TRUE(out.edns.present);
  EXPECT_EQ(out.edns.udp_size, 4096);
  EXPECT_EQ(out.edns.version, 1);
  EXPECT_TRUE(out.edns.do_bit());
  EXPECT_TRUE(out.edns.nsid_requested);
}

TEST(ParseQuery, EdnsOptionOverrunningRdataIsFormerr) {
  QuerySpec spec;
  spec.edns = true;
  spec.edns_options = {0, 100, 0, 9, 1};  // claims 9 bytes, has 1
  Query out;
  EXPECT_EQ(parse_query(build_query(spec), out), ParseStatus::formerr);
}

TEST(ParseQuery, TwoOptRecordsAreFormerr) {
  QuerySpec spec;
  spec.edns = true;
  auto q = build_query(spec);
  const std::vector<std::uint8_t> opt{0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
  q.insert(q.end(), opt.begin(), opt.end());
  q[11] = 2;
  Query out;
  EXPECT_EQ(parse_query(q, out), ParseStatus::formerr);
}

TEST(ParseQuery, OptWithNonRootOwnerIsFormerr) {
  QuerySpec spec;
  auto q = build_query(spec);
  const std::vector<std::uint8_t> opt{1, 'x', 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
  q.insert(q.end(), opt.begin(), opt.end());
  q[11] = 1;
  Query out;
  EXPECT_EQ(parse_query(q, out), ParseStatus::formerr);
}

TEST(ReadName, CompressionBackwardOnly) {
  // header(12) + "\3abc\0" at 12, then a name "\1x" + pointer to 12 at 17.
  std::vector<std::uint8_t> buf(12, 0);
  const std::vector<std::uint8_t> tail{3, 'a', 'b', 'c', 0, 1, 'x', 0xC0, 12};
  buf.insert(buf.end(), tail.begin(), tail.end());
  WireReader r(buf);
  r.seek(17);
  Name n;
  ASSERT_TRUE(read_name(r, n));
  EXPECT_EQ(name_to_text(n), "x.abc.");
  EXPECT_EQ(r.pos(), buf.size());  // continues after the pointer

  // A pointer to itself, and a forward pointer, are refused.
  std::vector<std::uint8_t> loop(12, 0);
  loop.insert(loop.end(), {0xC0, 12});
  WireReader r2(loop);
  r2.seek(12);
  EXPECT_FALSE(read_name(r2, n));
  std::vector<std::uint8_t> fwd(12, 0);
  fwd.insert(fwd.end(), {0xC0, 14, 0});
  WireReader r3(fwd);
  r3.seek(12);
  EXPECT_FALSE(read_name(r3, n));
}

TEST(ReadName, LengthBoundaries) {
  // 63-byte label is fine, 64 is an extended label type (refused).
  for (std::size_t len : {63u, 64u}) {
    std::vector<std::uint8_t> buf{static_cast<std::uint8_t>(len)};
    buf.insert(buf.end(), len, 'a');
    buf.push_back(0);
    WireReader r(buf);
    Name n;
    EXPECT_EQ(read_name(r, n), len == 63) << len;
  }
  // 255 bytes total is the limit: 4 labels of 63 = 4*64+1 = 257 is too long;
  // 3*64 + 62 ('61-byte label') + 1 = 255 fits.
  auto make = [](std::size_t last) {
    std::vector<std::uint8_t> buf;
    for (int i = 0; i < 3; ++i) {
      buf.push_back(63);
      buf.insert(buf.end(), 63, 'a');
    }
    buf.push_back(static_cast<std::uint8_t>(last));
    buf.insert(buf.end(), last, 'b');
    buf.push_back(0);
    return buf;
  };
  Name n;
  auto ok = make(61);
  WireReader r1(ok);
  EXPECT_TRUE(read_name(r1, n));
  EXPECT_EQ(n.size, 255);
  auto bad = make(62);
  WireReader r2(bad);
  EXPECT_FALSE(read_name(r2, n));
}

TEST(NameText, RoundTripAndErrors) {
  Name n;
  ASSERT_TRUE(name_from_text("A.b.", n));
  EXPECT_EQ(name_to_text(n), "A.b.");
  EXPECT_FALSE(name_from_text("a..b", n));
  EXPECT_FALSE(name_from_text(std::string(64, 'x') + ".dht", n));
  ASSERT_TRUE(name_from_text(".", n));
  EXPECT_EQ(n.size, 1);
}

TEST(WireEqualNocase, IgnoresCaseOnly) {
  Name a, b, c;
  name_from_text("LaPtOp.dht", a);
  name_from_text("laptop.DHT.", b);
  name_from_text("laptoq.dht", c);
  EXPECT_TRUE(wire_equal_nocase(a.bytes(), b.bytes()));
  EXPECT_FALSE(wire_equal_nocase(a.bytes(), c.bytes()));
}

// RFC 7873 §5.2.2: COOKIE lengths 8 and 16..40 are well formed; anything else,
// and a second COOKIE option, is FORMERR (and marked as the cookie's fault).
TEST(ParseQuery, CookieLengths) {
  auto cookie = [](std::size_t len, std::uint8_t fill) {
    std::vector<std::uint8_t> o{0, 10, 0, static_cast<std::uint8_t>(len)};
    for (std::size_t i = 0; i < len; ++i) o.push_back(static_cast<std::uint8_t>(fill + i));
    return o;
  };
  for (std::size_t len = 0; len <= 44; ++len) {
    QuerySpec spec;
    spec.edns = true;
    spec.edns_options = cookie(len, 1);
    Query out;
    const bool good = len == 8 || (len >= 16 && len <= 40);
    ASSERT_EQ(parse_query(build_query(spec), out), good ? ParseStatus::ok : ParseStatus::formerr)
        << len;
    EXPECT_EQ(out.bad_cookie, !good) << len;
    if (!good) continue;
    EXPECT_TRUE(out.edns.cookie.present) << len;
    EXPECT_EQ(out.edns.cookie.client[0], 1) << len;
    EXPECT_EQ(out.edns.cookie.client[7], 8) << len;
    EXPECT_EQ(out.edns.cookie.server_size, len - 8) << len;
    if (len > 8) {
      EXPECT_EQ(out.edns.cookie.server[0], 9) << len;
      EXPECT_EQ(out.edns.cookie.server[len - 9], len) << len;
    }
  }
  QuerySpec two;
  two.edns = true;
  two.edns_options = cookie(8, 1);
  const auto second = cookie(24, 1);
  two.edns_options.insert(two.edns_options.end(), second.begin(), second.end());
  Query out;
  EXPECT_EQ(parse_query(build_query(two), out), ParseStatus::formerr);
  EXPECT_TRUE(out.bad_cookie);
  // Without a COOKIE option nothing is marked.
  QuerySpec none;
  none.edns = true;
  EXPECT_EQ(parse_query(build_query(none), out), ParseStatus::ok);
  EXPECT_FALSE(out.bad_cookie);
  EXPECT_FALSE(out.edns.cookie.present);
}

}  // namespace
}  // namespace pweb::dns
