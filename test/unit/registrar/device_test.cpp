#include "pweb/registrar/device.hpp"

#include <gtest/gtest.h>

namespace pweb::registrar {
namespace {

TEST(Addresses, ParseAndFormat) {
  EXPECT_EQ(format_ipv4(*parse_ipv4("192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(format_ipv6(*parse_ipv6("2001:DB8:0::1")), "2001:db8::1");
  EXPECT_FALSE(parse_ipv4("192.0.2.256"));
  EXPECT_FALSE(parse_ipv4("::1"));
  EXPECT_FALSE(parse_ipv6("192.0.2.1"));
  EXPECT_FALSE(parse_ipv4(""));
}

TEST(Addresses, NothingAfterTheAddressNotEvenANul) {
  EXPECT_FALSE(parse_ipv4(std::string("1.2.3.4\0junk", 12)));
  EXPECT_FALSE(parse_ipv6(std::string("2001:db8::1\0", 12)));
  EXPECT_FALSE(parse_ipv4("1.2.3.4junk"));
  EXPECT_FALSE(parse_ipv4("1.2.3.4 "));
}

// The one rule for addresses a device may lead to: each row the text, and what
// the rule says (the accepted address, or the refusal naming its rule).
TEST(DeviceAddress, OneRuleTable) {
  struct Row {
    std::string text;
    const char* v4;
    const char* v6;
    const char* error;
  };
  const Row rows[] = {
      {"192.0.2.1", "192.0.2.1", nullptr, nullptr},
      {"127.0.0.5", "127.0.0.5", nullptr, nullptr},  // loopback: as /nic/update took it
      {"10.1.2.3", "10.1.2.3", nullptr, nullptr},
      {"2001:DB8::1", nullptr, "2001:db8::1", nullptr},
      {"::ffff:198.51.100.1", "198.51.100.1", nullptr, nullptr},
      {"0.0.0.0", nullptr, nullptr, "0.0.0.0 is the unspecified address"},
      {"0.1.2.3", nullptr, nullptr,
       "0.1.2.3 is in 0.0.0.0/8 (\"this network\"), not a host address"},
      {"224.0.0.1", nullptr, nullptr, "224.0.0.1 is a multicast address"},
      {"239.255.255.250", nullptr, nullptr, "239.255.255.250 is a multicast address"},
      {"255.255.255.255", nullptr, nullptr, "255.255.255.255 is the broadcast address"},
      {"240.0.0.1", nullptr, nullptr,
       "240.0.0.1 is in the reserved 240.0.0.0/4, not a host address"},
      {"::", nullptr, nullptr, ":: is the unspecified address"},
      {"ff02::1", nullptr, nullptr, "ff02::1 is a multicast address"},
      {"::ffff:224.0.0.1", nullptr, nullptr, "224.0.0.1 is a multicast address"},
      {std::string("1.2.3.4\0junk", 12), nullptr, nullptr,
       "'1.2.3.4\\x00junk' is not an IPv4 or IPv6 address"},
      {"1.2.3.4junk", nullptr, nullptr, "'1.2.3.4junk' is not an IPv4 or IPv6 address"},
      {"", nullptr, nullptr, "'' is not an IPv4 or IPv6 address"},
  };
  for (const auto& row : rows) {
    const auto a = parse_device_address(row.text);
    EXPECT_EQ(a.error, row.error ? row.error : "") << printable(row.text);
    EXPECT_EQ(a.v4 ? format_ipv4(*a.v4) : "", row.v4 ? row.v4 : "") << printable(row.text);
    EXPECT_EQ(a.v6 ? format_ipv6(*a.v6) : "", row.v6 ? row.v6 : "") << printable(row.text);
    EXPECT_EQ(a.malformed, row.error && std::string(row.error).starts_with("'"))
        << printable(row.text);
  }
}

}  // namespace
}  // namespace pweb::registrar

namespace pweb::registrar {
namespace {
TEST(FormatIpv6, InterfaceIdsInHexNotIpv4CompatibleForm) {
  EXPECT_EQ(format_ipv6(*parse_ipv6("::1:2")), "::1:2");
  EXPECT_EQ(format_ipv6(*parse_ipv6("::2")), "::2");
  EXPECT_EQ(format_ipv6(*parse_ipv6("::ffff:192.0.2.1")), "::ffff:192.0.2.1");
  EXPECT_EQ(format_ipv6(*parse_ipv6("2001:db8::1")), "2001:db8::1");
}
}  // namespace
}  // namespace pweb::registrar
