// --ns and --soa-contact: what is accepted, what is refused and why.
#include "pweb/dns/name_servers.hpp"

#include <gtest/gtest.h>

namespace pweb::dns {
namespace {

const std::vector<std::string> kZones{"dyn.example.org", "dht."};

struct NsCase {
  const char* what;
  std::vector<std::string> values;
  const char* error;  // a part of the message; null: accepted
};

class NsOptions : public ::testing::TestWithParam<NsCase> {};

TEST_P(NsOptions, AcceptedOrRefusedNamingTheOption) {
  const auto& c = GetParam();
  std::vector<NamedServer> out;
  const auto err = parse_name_servers(c.values, kZones, out);
  if (!c.error) {
    EXPECT_FALSE(err) << c.what << ": " << err.value_or("");
    return;
  }
  ASSERT_TRUE(err) << c.what;
  EXPECT_NE(err->find("--ns"), std::string::npos) << *err;
  EXPECT_NE(err->find(c.error), std::string::npos) << c.what << ": " << *err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NsOptions,
    ::testing::Values(
        NsCase{"in zone with v4", {"ns1.dyn.example.org=192.0.2.1"}, nullptr},
        NsCase{"in zone with v6", {"ns1.dyn.example.org.=2001:db8::1"}, nullptr},
        NsCase{"same name, both families",
               {"ns1.dyn.example.org=192.0.2.1", "NS1.dyn.example.org=2001:db8::1"},
               nullptr},
        NsCase{"out of zone without address", {"ns.provider.net"}, nullptr},
        NsCase{"none", {}, nullptr},
        NsCase{"in zone without address", {"ns1.dyn.example.org"}, "needs an address"},
        NsCase{"out of zone with address", {"ns.provider.net=192.0.2.1"}, "glue"},
        NsCase{"apex", {"dyn.example.org=192.0.2.1"}, "apex"},
        NsCase{"bad label", {"ns_1.dyn.example.org=192.0.2.1"}, "not a valid host name"},
        NsCase{"empty label", {"ns1..example.org"}, "not a valid host name"},
        NsCase{"single label", {"localhost"}, "not a valid host name"},
        NsCase{"name as address", {"ns1.dyn.example.org=ns.example.net"}, "not a numeric"},
        NsCase{"unspecified", {"ns1.dyn.example.org=0.0.0.0"}, "unspecified"},
        NsCase{"two v4 for one name",
               {"ns1.dyn.example.org=192.0.2.1", "ns1.dyn.example.org=192.0.2.2"},
               "already has an address"}));

TEST(NsOptions, SameNameMergesAndKeepsOrder) {
  std::vector<NamedServer> out;
  ASSERT_FALSE(parse_name_servers(
      {"b.dyn.example.org=192.0.2.2", "ns.other.net", "B.Dyn.Example.Org=2001:db8::2"}, kZones,
      out));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "b.dyn.example.org.");
  EXPECT_TRUE(out[0].addr.v4 && out[0].addr.v6);
  EXPECT_EQ(out[1].name, "ns.other.net.");
  EXPECT_FALSE(out[1].addr.v4 || out[1].addr.v6);
}

struct ContactCase {
  const char* text;
  std::vector<std::string> labels;  // empty: refused
};

class SoaContact : public ::testing::TestWithParam<ContactCase> {};

TEST_P(SoaContact, RnameLabels) {
  const auto& c = GetParam();
  Name rname;
  const auto err = parse_soa_contact(c.text, rname);
  if (c.labels.empty()) {
    ASSERT_TRUE(err) << c.text;
    EXPECT_NE(err->find("--soa-contact"), std::string::npos) << *err;
    return;
  }
  ASSERT_FALSE(err) << *err;
  ASSERT_EQ(rname.labels, c.labels.size());
  for (std::size_t i = 0; i < c.labels.size(); ++i) {
    const auto l = rname.label(i);
    EXPECT_EQ(std::string(l.begin(), l.end()), c.labels[i]) << c.text;
  }
  EXPECT_EQ(rname.wire[rname.size - 1], 0);  // ends at the root
}

INSTANTIATE_TEST_SUITE_P(
    Cases, SoaContact,
    ::testing::Values(ContactCase{"hostmaster@example.org", {"hostmaster", "example", "org"}},
                      ContactCase{"hostmaster.example.org.", {"hostmaster", "example", "org"}},
                      // A dot in the local part stays in its label (first\.last in a zone file).
                      ContactCase{"first.last@Example.ORG", {"first.last", "example", "org"}},
                      ContactCase{"dns+admin@example.org", {"dns+admin", "example", "org"}},
                      ContactCase{"hostmaster", {}}, ContactCase{"@example.org", {}},
                      ContactCase{"a b@example.org", {}}, ContactCase{"x@bad_domain.org", {}},
                      ContactCase{"x@", {}}, ContactCase{".x@example.org", {}}));

TEST(InZone, OnLabelBoundariesOnly) {
  EXPECT_TRUE(in_zone("ns1.dyn.example.org.", "dyn.example.org."));
  EXPECT_TRUE(in_zone("dyn.example.org.", "dyn.example.org."));
  EXPECT_FALSE(in_zone("xdyn.example.org.", "dyn.example.org."));
  EXPECT_FALSE(in_zone("example.org.", "dyn.example.org."));
}

}  // namespace
}  // namespace pweb::dns
