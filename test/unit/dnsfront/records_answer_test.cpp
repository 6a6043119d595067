// A device's RRsets as DNS answers them: names below the device, empty
// non-terminals, wildcards (RFC 4592), CNAME, TTLs, truncation of large sets.
#include <gtest/gtest.h>

#include "../dns_test_util.hpp"
#include "pweb/dns/query_processor.hpp"
#include "pweb/registrar/names.hpp"

namespace pweb::dns {
namespace {

using testutil::build_query;
using testutil::decode;
using testutil::Decoded;
using testutil::QuerySpec;

constexpr std::uint16_t kTxt = 16, kSrv = 33, kMx = 15, kCname = 5;

std::string txt(std::string_view s) {
  return std::string(1, static_cast<char>(s.size())) + std::string(s);
}

class RecordAnswers : public ::testing::Test {
 protected:
  RecordAnswers() : auth_(make_auth()) {
    std::vector<registrar::DeviceRecord> recs(2);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    recs[0].ttl = 120;
    recs[0].rrsets = {
        {"", kTxt, 300, {txt("v=spf1 -all")}},
        {"*", kTxt, 301, {txt("wild")}},
        {"*.deep", kMx, 302, {std::string("\x00\x0a\x01m\x00", 5)}},
        {"_acme-challenge", kTxt, 60, {txt("token-a"), txt("token-b")}},
        {"_http._tcp", kSrv, 303, {std::string("\x00\x0a\x00\x05\x01\xbb\x00", 7)}},
        {"big", kTxt, 60, {}},
        {"www",
         kCname,
         304,
         {std::string("\x06laptop\x05"
                      "alice\x02uw\x03"
                      "dht\x00",
                      21)}},
    };
    for (int i = 0; i < 8; ++i)
      recs[0].rrsets[5].rdata.push_back(txt(std::string(200, static_cast<char>('a' + i))));
    recs[1].name = "phone.alice.uw";
    recs[1].ipv4 = registrar::parse_ipv4("192.0.2.11");
    snap_ = registrar::Snapshot::build(recs, 42);
  }

  static Authority make_auth() {
    AuthorityConfig cfg;
    cfg.ttl = 60;
    return Authority(cfg);
  }

  Decoded ask(const std::string& name, std::uint16_t qtype, Transport t = Transport::udp) {
    QuerySpec spec;
    spec.name = name;
    spec.qtype = qtype;
    out_.assign(65535, 0);
    const auto p = process_query(build_query(spec), out_, t, auth_, *snap_);
    return decode(std::span(out_.data(), p.response.size));
  }

  Authority auth_;
  std::shared_ptr<const registrar::Snapshot> snap_;
  std::vector<std::uint8_t> out_;
};

struct Case {
  const char* name;
  std::uint16_t qtype;
  int rcode;
  std::uint16_t answer_type;  // 0: empty answer
  std::size_t answers;
  std::uint32_t ttl;
};

TEST_F(RecordAnswers, Table) {
  const std::vector<Case> cases = {
      {"laptop.alice.uw.dht.", 1, 0, 1, 1, 120},        // the address, device TTL
      {"laptop.alice.uw.dht.", kTxt, 0, kTxt, 1, 300},  // an RRset at "@"
      {"laptop.alice.uw.dht.", kMx, 0, 0, 0, 0},        // NODATA
      {"_acme-challenge.laptop.alice.uw.dht.", kTxt, 0, kTxt, 2, 60},
      {"_ACME-Challenge.Laptop.alice.uw.dht.", kTxt, 0, kTxt, 2, 60},  // any case
      {"_acme-challenge.laptop.alice.uw.dht.", 1, 0, 0, 0, 0},         // exists: no wildcard
      {"_http._tcp.laptop.alice.uw.dht.", kSrv, 0, kSrv, 1, 303},
      {"_tcp.laptop.alice.uw.dht.", kTxt, 0, 0, 0, 0},  // empty non-terminal
      {"_tcp.laptop.alice.uw.dht.", kSrv, 0, 0, 0, 0},
      {"x._tcp.laptop.alice.uw.dht.", kTxt, 3, 0, 0, 0},         // encloser _tcp, no *._tcp
      {"anything.laptop.alice.uw.dht.", kTxt, 0, kTxt, 1, 301},  // wildcard
      {"a.b.laptop.alice.uw.dht.", kTxt, 0, kTxt, 1, 301},       // wildcard, two labels
      {"anything.laptop.alice.uw.dht.", 1, 0, 0, 0, 0},          // wildcard: NODATA
      {"x.deep.laptop.alice.uw.dht.", kMx, 0, kMx, 1, 302},      // *.deep
      {"deep.laptop.alice.uw.dht.", kMx, 0, 0, 0, 0},            // ENT of *.deep
      {"x.www.laptop.alice.uw.dht.", kTxt, 3, 0, 0, 0},          // www exists: encloser, no *.www
      {"www.laptop.alice.uw.dht.", 1, 0, kCname, 1, 304},        // CNAME for other types
      {"www.laptop.alice.uw.dht.", kCname, 0, kCname, 1, 304},
      {"x.phone.alice.uw.dht.", kTxt, 3, 0, 0, 0},  // no records: NXDOMAIN
  };
  for (const auto& c : cases) {
    const auto d = ask(c.name, c.qtype);
    ASSERT_TRUE(d.ok) << c.name;
    EXPECT_EQ(d.rcode(), c.rcode) << c.name << " " << c.qtype;
    EXPECT_TRUE(d.has(flag::AA)) << c.name;
    ASSERT_EQ(d.answer.size(), c.answers) << c.name << " " << c.qtype;
    for (const auto& rec : d.answer) {
      EXPECT_EQ(rec.rtype, c.answer_type) << c.name;
      EXPECT_EQ(rec.ttl, c.ttl) << c.name;
      // Owned by the qname, also when synthesized from a wildcard.
      EXPECT_EQ(registrar::to_lower(rec.name), registrar::to_lower(c.name)) << c.name;
    }
    if (c.answers == 0) {
      EXPECT_EQ(d.authority.size(), 1u) << c.name << ": SOA for the negative TTL";
    }
  }
  // Below a name that is no device (a user): nothing.
  EXPECT_EQ(ask("x.alice.uw.dht.", kTxt).rcode(), 3);
  EXPECT_EQ(ask("*.laptop.alice.uw.dht.", kTxt).answer.size(), 1u) << "the wildcard itself";
}

TEST_F(RecordAnswers, RdataIsCopiedExactly) {
  const auto d = ask("_http._tcp.laptop.alice.uw.dht.", kSrv);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(std::string(d.answer[0].rdata.begin(), d.answer[0].rdata.end()),
            std::string("\x00\x0a\x00\x05\x01\xbb\x00", 7));
}

TEST_F(RecordAnswers, LargeSetTruncatesOverUdpAndIsWholeOverTcp) {
  const auto udp = ask("big.laptop.alice.uw.dht.", kTxt);
  EXPECT_TRUE(udp.has(flag::TC));
  EXPECT_TRUE(udp.answer.empty());
  const auto tcp = ask("big.laptop.alice.uw.dht.", kTxt, Transport::tcp);
  EXPECT_FALSE(tcp.has(flag::TC));
  EXPECT_EQ(tcp.answer.size(), 8u);
}

}  // namespace
}  // namespace pweb::dns
