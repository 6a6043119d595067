// EDNS options through process_query: server cookies bound to the client's
// address (RFC 7873/9018), NSID (RFC 5001), and the Extended DNS Errors of
// REFUSED answers (RFC 8914).
#include <gtest/gtest.h>

#include <map>

#include "../dns_test_util.hpp"
#include "pweb/dns/query_processor.hpp"

namespace pweb::dns {
namespace {

using testutil::build_query;
using testutil::decode;
using testutil::Decoded;
using testutil::QuerySpec;

using Options = std::multimap<std::uint16_t, std::vector<std::uint8_t>>;

const std::vector<std::uint8_t> kClientCookie = {1, 2, 3, 4, 5, 6, 7, 8};
constexpr std::uint32_t kNow = 1700000000;

std::vector<std::uint8_t> cookie_option(std::span<const std::uint8_t> value) {
  std::vector<std::uint8_t> o{0, 10, 0, static_cast<std::uint8_t>(value.size())};
  o.insert(o.end(), value.begin(), value.end());
  return o;
}

ClientInfo client(std::vector<std::uint8_t> addr, std::uint32_t now = kNow) {
  ClientInfo c;
  std::copy(addr.begin(), addr.end(), c.address.begin());
  c.address_size = static_cast<std::uint8_t>(addr.size());
  c.unix_time = now;
  return c;
}

class QueryEdns : public ::testing::Test {
 protected:
  QueryEdns() {
    std::vector<registrar::DeviceRecord> recs(1);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    snap_ = registrar::Snapshot::build(recs, 42);
  }

  static AuthorityConfig config(bool cookies, std::string nsid = "") {
    AuthorityConfig cfg;
    cfg.ttl = 60;
    cfg.nsid = std::move(nsid);
    if (cookies) cfg.cookie_secret = *cookie_secret_from_hex("000102030405060708090a0b0c0d0e0f");
    return cfg;
  }

  Processed run(const Authority& auth, const QuerySpec& spec, const ClientInfo& who = {},
                Transport t = Transport::udp) {
    out_.assign(65535, 0);
    const auto p = process_query(build_query(spec), out_, t, auth, *snap_, {}, who);
    last_ = decode(std::span(out_.data(), p.response.size));
    return p;
  }

  // The options of the response's OPT RR; `has_opt` false without one.
  Options options(bool& has_opt) const {
    Options out;
    has_opt = false;
    for (const auto& rec : last_.additional) {
      if (rec.rtype != type::OPT) continue;
      has_opt = true;
      WireReader r(rec.rdata);
      while (r.ok() && r.remaining() > 0) {
        const auto code = r.u16();
        const auto len = r.u16();
        const auto v = r.bytes(len);
        out.emplace(code, std::vector<std::uint8_t>(v.begin(), v.end()));
      }
      EXPECT_TRUE(r.ok());
    }
    return out;
  }
  Options options() const {
    bool has = false;
    return options(has);
  }

  static QuerySpec with_cookie(std::span<const std::uint8_t> value) {
    QuerySpec spec;
    spec.edns = true;
    spec.edns_options = cookie_option(value);
    return spec;
  }

  std::shared_ptr<const registrar::Snapshot> snap_;
  std::vector<std::uint8_t> out_;
  Decoded last_;
};

TEST_F(QueryEdns, ServerCookieHandedOutThenRecognised) {
  const Authority auth(config(true));
  const auto me = client({192, 0, 2, 1});
  auto p = run(auth, with_cookie(kClientCookie), me);
  EXPECT_EQ(p.cookie, CookieResult::client_only);
  ASSERT_EQ(last_.rcode(), 0);
  ASSERT_EQ(last_.answer.size(), 1u);
  auto opts = options();
  ASSERT_EQ(opts.count(kEdnsOptionCookie), 1u);
  const auto full = opts.find(kEdnsOptionCookie)->second;
  ASSERT_EQ(full.size(), 24u);
  EXPECT_TRUE(std::equal(kClientCookie.begin(), kClientCookie.end(), full.begin()));
  EXPECT_EQ(full[8], 1);  // version 1 (RFC 9018)

  // Sent back: valid, and the same cookie is returned while young.
  p = run(auth, with_cookie(full), client({192, 0, 2, 1}, kNow + 60));
  EXPECT_EQ(p.cookie, CookieResult::valid);
  EXPECT_EQ(options().find(kEdnsOptionCookie)->second, full);

  // From another address, or over TCP from it: not valid there; a fresh one is given.
  p = run(auth, with_cookie(full), client({192, 0, 2, 2}, kNow + 60));
  EXPECT_EQ(p.cookie, CookieResult::invalid);
  const auto fresh = options().find(kEdnsOptionCookie)->second;
  EXPECT_NE(fresh, full);
  EXPECT_EQ(last_.rcode(), 0);  // answered as without a server cookie, not BADCOOKIE
  EXPECT_EQ(last_.answer.size(), 1u);
  p = run(auth, with_cookie(full), client({192, 0, 2, 1}, kNow + 60), Transport::tcp);
  EXPECT_EQ(p.cookie, CookieResult::valid);
}

TEST_F(QueryEdns, CookiesIgnoredWithoutAddressOrSecret) {
  const Authority with(config(true));
  const Authority without(config(false));
  for (const auto& [auth, who] :
       {std::pair{&with, ClientInfo{}}, std::pair{&without, client({192, 0, 2, 1})}}) {
    const auto p = run(*auth, with_cookie(kClientCookie), who);
    EXPECT_EQ(p.cookie, CookieResult::none);
    EXPECT_EQ(last_.rcode(), 0);
    bool has_opt = false;
    EXPECT_EQ(options(has_opt).count(kEdnsOptionCookie), 0u);
    EXPECT_TRUE(has_opt);
  }
}

TEST_F(QueryEdns, MalformedCookieIsFormerr) {
  const Authority auth(config(true));
  const std::vector<std::uint8_t> short_cookie(7, 1);
  const auto p = run(auth, with_cookie(short_cookie), client({192, 0, 2, 1}));
  EXPECT_EQ(p.cookie, CookieResult::malformed);
  EXPECT_EQ(last_.rcode(), 1);
}

TEST_F(QueryEdns, NsidOnlyWhenAskedAndConfigured) {
  const Authority named(config(false, "node-7.example"));
  const Authority anonymous(config(false));
  QuerySpec ask;
  ask.edns = true;
  ask.edns_options = {0, 3, 0, 0};
  run(named, ask);
  auto opts = options();
  ASSERT_EQ(opts.count(kEdnsOptionNsid), 1u);
  const auto& v = opts.find(kEdnsOptionNsid)->second;
  EXPECT_EQ(std::string(v.begin(), v.end()), "node-7.example");

  QuerySpec plain;
  plain.edns = true;
  run(named, plain);
  EXPECT_EQ(options().count(kEdnsOptionNsid), 0u);
  run(anonymous, ask);
  EXPECT_EQ(options().count(kEdnsOptionNsid), 0u);
  // Also on errors: NSID says who answered, whatever the answer.
  ask.name = "example.com.";
  run(named, ask);
  EXPECT_EQ(last_.rcode(), 5);
  EXPECT_EQ(options().count(kEdnsOptionNsid), 1u);
}

TEST_F(QueryEdns, NsidLongerThan128BytesIsAConfigError) {
  EXPECT_NO_THROW(Authority(config(false, std::string(kMaxNsid, 'n'))));
  EXPECT_THROW(Authority(config(false, std::string(kMaxNsid + 1, 'n'))), ConfigError);
}

TEST_F(QueryEdns, CookieNsidAndEdeTogether) {
  const Authority auth(config(true, "n1"));
  QuerySpec spec = with_cookie(kClientCookie);
  spec.name = "example.com.";
  spec.edns_options.insert(spec.edns_options.end(), {0, 3, 0, 0});
  const auto p = run(auth, spec, client({192, 0, 2, 1}));
  EXPECT_EQ(p.cookie, CookieResult::client_only);
  EXPECT_EQ(last_.rcode(), 5);
  const auto opts = options();
  EXPECT_EQ(opts.count(kEdnsOptionCookie), 1u);
  EXPECT_EQ(opts.count(kEdnsOptionNsid), 1u);
  EXPECT_EQ(opts.count(kEdnsOptionEde), 1u);
}

// A truncated UDP answer still carries the cookie: the client needs it for the retry.
TEST_F(QueryEdns, CookieKeptWhenTruncated) {
  AuthorityConfig cfg = config(true);
  for (int i = 0; i < 60; ++i) cfg.name_servers.push_back({registrar::Ipv4{127, 0, 0, 1}, {}});
  const Authority auth(cfg);
  QuerySpec spec = with_cookie(kClientCookie);
  spec.name = "dht.";
  spec.qtype = type::NS;
  spec.udp_size = 512;
  run(auth, spec, client({192, 0, 2, 1}));
  EXPECT_TRUE(last_.has(flag::TC));
  EXPECT_EQ(options().count(kEdnsOptionCookie), 1u);
}

struct EdeCase {
  const char* what;
  std::string name;
  std::uint16_t qtype;
  std::uint16_t qclass;
  std::uint16_t code;
};

TEST_F(QueryEdns, RefusedSaysWhy) {
  const Authority auth(config(false));
  const std::vector<EdeCase> cases{
      {"outside the zones", "example.com.", type::A, cls::IN, kEdeNotAuthoritative},
      {"class CH", "laptop.alice.uw.dht.", type::TXT, 3, kEdeNotAuthoritative},
      {"zone transfer", "dht.", type::AXFR, cls::IN, kEdeProhibited},
  };
  for (const auto& c : cases) {
    QuerySpec spec;
    spec.edns = true;
    spec.name = c.name;
    spec.qtype = c.qtype;
    spec.qclass = c.qclass;
    run(auth, spec);
    EXPECT_EQ(last_.rcode(), 5) << c.what;
    const auto opts = options();
    ASSERT_EQ(opts.count(kEdnsOptionEde), 1u) << c.what;
    const auto& v = opts.find(kEdnsOptionEde)->second;
    ASSERT_GE(v.size(), 2u) << c.what;
    EXPECT_EQ((v[0] << 8) | v[1], c.code) << c.what;
    EXPECT_GT(v.size(), 2u) << c.what;  // with a text
    // Without EDNS: no OPT, nothing else changes.
    spec.edns = false;
    run(auth, spec);
    EXPECT_EQ(last_.rcode(), 5) << c.what;
    EXPECT_TRUE(last_.additional.empty()) << c.what;
  }
  // Answers inside the zone carry none.
  QuerySpec good;
  good.edns = true;
  run(auth, good);
  EXPECT_EQ(options().count(kEdnsOptionEde), 0u);
}

}  // namespace
}  // namespace pweb::dns
