#include "pweb/dns/authority.hpp"

#include <gtest/gtest.h>

#include "../dns_test_util.hpp"

namespace pweb::dns {
namespace {

std::shared_ptr<const registrar::Snapshot> fixture_snapshot() {
  std::vector<registrar::DeviceRecord> recs(2);
  recs[0].name = "laptop.alice.uw";
  recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
  recs[0].ipv6 = registrar::parse_ipv6("2001:db8::10");
  recs[1].name = "phone.alice.uw";
  recs[1].ipv4 = registrar::parse_ipv4("192.0.2.11");
  return registrar::Snapshot::build(recs, 7);
}

Authority fixture_authority() {
  AuthorityConfig cfg;
  cfg.zones = {"dht.", "Pweb.Example"};
  cfg.label = "home";
  cfg.name_servers.push_back({registrar::parse_ipv4("127.0.0.1"), std::nullopt});
  cfg.name_servers.push_back({std::nullopt, registrar::parse_ipv6("::1")});
  return Authority(cfg);
}

struct Case {
  const char* name;
  std::uint16_t qtype;
  std::uint16_t qclass;
  Outcome outcome;
  Node node;
};

class LookupTable : public ::testing::TestWithParam<Case> {};

TEST_P(LookupTable, Outcome) {
  const auto& c = GetParam();
  const auto snap = fixture_snapshot();
  const auto auth = fixture_authority();
  testutil::QuerySpec spec;
  spec.name = c.name;
  spec.qtype = c.qtype;
  spec.qclass = c.qclass;
  Query q;
  ASSERT_EQ(parse_query(testutil::build_query(spec), q), ParseStatus::ok);
  const auto r = auth.lookup(q, *snap);
  EXPECT_EQ(r.outcome, c.outcome) << c.name << " type " << c.qtype;
  EXPECT_EQ(r.node, c.node) << c.name << " type " << c.qtype;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, LookupTable,
    ::testing::Values(
        Case{"laptop.alice.uw.dht", type::A, cls::IN, Outcome::answer, Node::device},
        Case{"LAPTOP.Alice.UW.DHT", type::AAAA, cls::IN, Outcome::answer, Node::device},
        Case{"laptop.alice.uw.dht", type::ANY, cls::ANY, Outcome::answer, Node::device},
        Case{"laptop.alice.uw.dht", 16 /*TXT*/, cls::IN, Outcome::nodata, Node::device},
        Case{"laptop.alice.uw.dht", 65000, cls::IN, Outcome::nodata, Node::device},
        Case{"phone.alice.uw.dht", type::AAAA, cls::IN, Outcome::nodata, Node::device},
        Case{"laptop.alice.uw.pweb.example", type::A, cls::IN, Outcome::answer, Node::device},
        Case{"alice.uw.dht", type::A, cls::IN, Outcome::nodata, Node::interior},
        Case{"uw.dht", type::A, cls::IN, Outcome::nodata, Node::interior},
        Case{"home.dht", type::A, cls::IN, Outcome::nodata, Node::interior},
        Case{"nosuch.alice.uw.dht", type::A, cls::IN, Outcome::nxdomain, Node::none},
        Case{"bob.uw.dht", type::A, cls::IN, Outcome::nxdomain, Node::none},
        Case{"x.laptop.alice.uw.dht", type::A, cls::IN, Outcome::nxdomain, Node::none},
        Case{"lap_top.alice.uw.dht", type::A, cls::IN, Outcome::nxdomain, Node::none},
        Case{"dht", type::SOA, cls::IN, Outcome::answer, Node::apex},
        Case{"DHT", type::NS, cls::IN, Outcome::answer, Node::apex},
        Case{"dht", type::A, cls::IN, Outcome::nodata, Node::apex},
        Case{"ns1.dht", type::A, cls::IN, Outcome::answer, Node::name_server},
        Case{"ns1.dht", type::AAAA, cls::IN, Outcome::nodata, Node::name_server},
        Case{"ns2.dht", type::AAAA, cls::IN, Outcome::answer, Node::name_server},
        Case{"ns3.dht", type::A, cls::IN, Outcome::nxdomain, Node::none},
        Case{"ns01.dht", type::A, cls::IN, Outcome::nxdomain, Node::none},
        Case{"example.com", type::A, cls::IN, Outcome::refused, Node::none},
        Case{"xdht", type::A, cls::IN, Outcome::refused, Node::none},
        Case{"laptop.alice.uw.dht", type::A, 3 /*CH*/, Outcome::refused, Node::none},
        Case{"dht", type::AXFR, cls::IN, Outcome::refused, Node::none},
        Case{"dht", type::OPT, cls::IN, Outcome::formerr, Node::none}));

TEST(Authority, RejectsBadZones) {
  AuthorityConfig cfg;
  cfg.zones = {"."};
  EXPECT_THROW(Authority{cfg}, ConfigError);
  cfg.zones = {"bad_zone"};
  EXPECT_THROW(Authority{cfg}, ConfigError);
  cfg.zones = {};
  EXPECT_THROW(Authority{cfg}, ConfigError);
}

TEST(Authority, LongestZoneWins) {
  AuthorityConfig cfg;
  cfg.zones = {"dht.", "sub.dht."};
  const Authority auth(cfg);
  std::vector<registrar::DeviceRecord> recs(1);
  recs[0].name = "a.b.c";
  recs[0].ipv4 = registrar::parse_ipv4("192.0.2.1");
  const auto snap = registrar::Snapshot::build(recs, 1);
  testutil::QuerySpec spec;
  spec.name = "a.b.c.sub.dht";
  Query q;
  ASSERT_EQ(parse_query(testutil::build_query(spec), q), ParseStatus::ok);
  const auto r = auth.lookup(q, *snap);
  EXPECT_EQ(r.outcome, Outcome::answer);
  EXPECT_EQ(r.zone_label, 3);
}

}  // namespace
}  // namespace pweb::dns

namespace pweb::dns {
namespace {

// An agent labelled like a name server is not shadowed: only the exact host
// name is the name server's; what is below it is the agent's.
TEST(Authority, NameServerNamesShadowNoAgent) {
  AuthorityConfig cfg;
  cfg.label = "home";
  cfg.resolve_remote = true;
  cfg.name_servers.push_back({registrar::parse_ipv4("127.0.0.1"), std::nullopt});
  const Authority auth(cfg);
  const auto snap = fixture_snapshot();
  struct Row {
    const char* name;
    Outcome outcome;
    Node node;
  };
  for (const Row& row : {Row{"ns1.dht", Outcome::answer, Node::name_server},
                         Row{"alice.ns1.dht", Outcome::nodata, Node::interior},
                         Row{"laptop.alice.ns1.dht", Outcome::remote, Node::device},
                         Row{"x.laptop.alice.ns1.dht", Outcome::remote, Node::device}}) {
    testutil::QuerySpec spec;
    spec.name = row.name;
    Query q;
    ASSERT_EQ(parse_query(testutil::build_query(spec), q), ParseStatus::ok);
    const auto r = auth.lookup(q, *snap);
    EXPECT_EQ(r.outcome, row.outcome) << row.name;
    EXPECT_EQ(r.node, row.node) << row.name;
  }
}

// --ns names: the exact in-zone names answer their addresses in every zone
// they are in; ns<N> then means nothing special.
TEST(Authority, NamedServersAnswerOnlyTheirExactNames) {
  AuthorityConfig cfg;
  cfg.zones = {"dyn.example.org", "dht."};
  cfg.label = "home";
  cfg.ns = {{"a.ns.dyn.example.org.", {registrar::parse_ipv4("192.0.2.1"), std::nullopt}},
            {"ns.provider.net.", {}}};
  const Authority auth(cfg);
  const auto snap = fixture_snapshot();
  struct Row {
    const char* name;
    std::uint16_t qtype;
    Outcome outcome;
    Node node;
  };
  for (const Row& row :
       {Row{"A.NS.dyn.example.org", type::A, Outcome::answer, Node::name_server},
        Row{"a.ns.dyn.example.org", type::AAAA, Outcome::nodata, Node::name_server},
        Row{"ns1.dht", type::A, Outcome::nxdomain, Node::none},
        Row{"ns1.dyn.example.org", type::A, Outcome::nxdomain, Node::none},
        Row{"laptop.alice.uw.dyn.example.org", type::A, Outcome::answer, Node::device}}) {
    testutil::QuerySpec spec;
    spec.name = row.name;
    spec.qtype = row.qtype;
    Query q;
    ASSERT_EQ(parse_query(testutil::build_query(spec), q), ParseStatus::ok);
    const auto r = auth.lookup(q, *snap);
    EXPECT_EQ(r.outcome, row.outcome) << row.name;
    EXPECT_EQ(r.node, row.node) << row.name;
  }
  EXPECT_TRUE(auth.has_glue(0, 0));   // in dyn.example.org, with an address
  EXPECT_FALSE(auth.has_glue(1, 0));  // not inside dht.
  EXPECT_FALSE(auth.has_glue(0, 1));  // out of every zone
}

TEST(Authority, RejectsLameOrGluedNameServers) {
  AuthorityConfig cfg;
  cfg.zones = {"dyn.example.org"};
  cfg.ns = {{"ns1.dyn.example.org.", {}}};
  EXPECT_THROW(Authority{cfg}, ConfigError);
  cfg.ns = {{"ns.provider.net.", {registrar::parse_ipv4("192.0.2.1"), std::nullopt}}};
  EXPECT_THROW(Authority{cfg}, ConfigError);
}

}  // namespace
}  // namespace pweb::dns
