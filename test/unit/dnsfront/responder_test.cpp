// The responder's Extended DNS Errors (RFC 8914): an EDE option in the OPT RR
// when the result carries one and the query had EDNS; nothing otherwise.
#include "pweb/dns/responder.hpp"

#include <gtest/gtest.h>

#include "../dns_test_util.hpp"

namespace pweb::dns {
namespace {

using testutil::build_query;
using testutil::decode;
using testutil::QuerySpec;
using testutil::Record;

// OPT RDATA of one EDE option.
std::vector<std::uint8_t> ede_option(std::uint16_t code, std::string_view text) {
  std::vector<std::uint8_t> o{0,
                              15,
                              0,
                              static_cast<std::uint8_t>(2 + text.size()),
                              static_cast<std::uint8_t>(code >> 8),
                              static_cast<std::uint8_t>(code & 0xFF)};
  for (const char ch : text) o.push_back(static_cast<std::uint8_t>(ch));
  return o;
}

TEST(Responder, ExtendedDnsErrorOnlyForEdnsQueries) {
  AuthorityConfig cfg;
  cfg.ttl = 60;
  const Authority auth(cfg);
  const std::string long_text(100, 'x');
  struct Case {
    const char* what;
    bool edns;
    Outcome outcome;
    ExtendedError ede;
    Rcode rcode;
    bool has_opt;
    std::vector<std::uint8_t> opt_rdata;
  };
  const std::vector<Case> cases{
      {"contested, EDNS",
       true,
       Outcome::servfail,
       {true, 0, "label contested"},
       Rcode::servfail,
       true,
       ede_option(0, "label contested")},
      {"contested, no EDNS",
       false,
       Outcome::servfail,
       {true, 0, "label contested"},
       Rcode::servfail,
       false,
       {}},
      {"no EDE, EDNS", true, Outcome::servfail, {}, Rcode::servfail, true, {}},
      {"other code, no text",
       true,
       Outcome::servfail,
       {true, 22, ""},
       Rcode::servfail,
       true,
       ede_option(22, "")},
      {"long text is cut",
       true,
       Outcome::servfail,
       {true, 0, long_text},
       Rcode::servfail,
       true,
       ede_option(0, std::string_view(long_text).substr(0, kMaxEdeText))},
      {"NXDOMAIN with EDE",
       true,
       Outcome::nxdomain,
       {true, 0, "why"},
       Rcode::nxdomain,
       true,
       ede_option(0, "why")},
  };
  for (const auto& c : cases) {
    QuerySpec spec;
    spec.name = "laptop.alice.mit.dht.";
    spec.edns = c.edns;
    Query q;
    ASSERT_EQ(parse_query(build_query(spec), q), ParseStatus::ok) << c.what;
    LookupResult r;
    r.outcome = c.outcome;
    r.zone_label = 3;
    r.ede = c.ede;
    std::vector<std::uint8_t> out(1232);
    const auto resp = write_response(q, ParseStatus::ok, r, auth, 1, out, out.size());
    ASSERT_GT(resp.size, 0u) << c.what;
    EXPECT_EQ(resp.rcode, c.rcode) << c.what;
    const auto d = decode(std::span(out.data(), resp.size));
    ASSERT_TRUE(d.ok) << c.what;
    EXPECT_EQ(d.rcode(), static_cast<std::uint16_t>(c.rcode)) << c.what;
    const Record* opt = nullptr;
    for (const auto& rec : d.additional) {
      if (rec.rtype == type::OPT) opt = &rec;
    }
    ASSERT_EQ(opt != nullptr, c.has_opt) << c.what;
    if (opt) {
      EXPECT_EQ(opt->rdata, c.opt_rdata) << c.what;
    }
  }
}

}  // namespace
}  // namespace pweb::dns
