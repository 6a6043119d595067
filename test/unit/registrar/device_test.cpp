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

}  // namespace
}  // namespace pweb::registrar
