#include "pweb/dns/freshness.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "pweb/dns/message.hpp"
#include "pweb/dns/wire.hpp"

namespace pweb::dns {
namespace {

struct Rr {
  std::uint16_t type;
  std::uint32_t ttl;
  std::uint32_t soa_minimum = 0;  // SOA only
};

// A response for laptop.alice.uw. with `answer` then `authority` records, the
// names after the question compressed to it (as the responder writes them).
std::vector<std::uint8_t> response(const std::vector<Rr>& answer, const std::vector<Rr>& authority,
                                   std::uint16_t flags = flag::QR | flag::AA) {
  std::vector<std::uint8_t> buf(2048);
  WireWriter w(buf);
  w.u16(0);
  w.u16(flags);
  w.u16(1);
  w.u16(static_cast<std::uint16_t>(answer.size()));
  w.u16(static_cast<std::uint16_t>(authority.size()));
  w.u16(0);
  Name q;
  EXPECT_TRUE(name_from_text("laptop.alice.uw.", q));
  w.bytes(q.bytes());
  w.u16(type::A);
  w.u16(cls::IN);
  for (const auto* section : {&answer, &authority}) {
    for (const auto& rr : *section) {
      w.u16(0xC00C);  // the question's name
      w.u16(rr.type);
      w.u16(cls::IN);
      w.u32(rr.ttl);
      if (rr.type == type::SOA) {
        w.u16(2 + 2 + 20);
        w.u16(0xC00C);  // MNAME
        w.u16(0xC00C);  // RNAME
        w.u32(7);       // serial
        w.u32(3600);
        w.u32(600);
        w.u32(86400);
        w.u32(rr.soa_minimum);
      } else {
        w.u16(4);
        w.u32(0xC0000201);
      }
    }
  }
  buf.resize(w.pos());
  return buf;
}

TEST(ResponseFreshness, SmallestAnswerTtl) {
  EXPECT_EQ(response_freshness(response({{type::A, 300}, {type::A, 60}, {type::A, 120}}, {})), 60u);
}

TEST(ResponseFreshness, AuthorityRecordsDoNotLowerAnAnswer) {
  EXPECT_EQ(response_freshness(response({{type::A, 300}}, {{type::SOA, 5, 5}})), 300u);
}

TEST(ResponseFreshness, NegativeAnswerUsesTheSoaTtlOrMinimumWhicheverIsSmaller) {
  EXPECT_EQ(response_freshness(response({}, {{type::SOA, 3600, 30}})), 30u);
  EXPECT_EQ(response_freshness(response({}, {{type::SOA, 10, 30}})), 10u);
}

TEST(ResponseFreshness, NoRecordsMeansNoCaching) {
  EXPECT_EQ(response_freshness(response({}, {})), 0u);
}

TEST(ResponseFreshness, TtlWithTheTopBitSetIsZero) {
  EXPECT_EQ(response_freshness(response({{type::A, 0x80000000u}}, {})), 0u);
}

TEST(ResponseFreshness, QueriesAndBrokenMessagesHaveNone) {
  EXPECT_FALSE(response_freshness(response({{type::A, 60}}, {}, flag::RD)));  // QR clear
  auto truncated = response({{type::A, 60}}, {});
  truncated.resize(truncated.size() - 1);
  EXPECT_FALSE(response_freshness(truncated));
  EXPECT_FALSE(response_freshness(std::vector<std::uint8_t>(11, 0)));
  auto bad_soa = response({}, {{type::SOA, 60, 60}});
  bad_soa[bad_soa.size() - 26] = 0;  // RDLENGTH 2: the SOA's fields run past it
  bad_soa[bad_soa.size() - 25] = 2;
  EXPECT_FALSE(response_freshness(bad_soa));
}

}  // namespace
}  // namespace pweb::dns
