#include "pweb/registrar/device_file.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace pweb::registrar {
namespace {

DeviceFileResult parse(const std::string& text) {
  std::istringstream in(text);
  return parse_device_file(in, 123);
}

TEST(DeviceFile, ParsesLinesCommentsAndBothFamilies) {
  const auto r = parse(
      "# devices\n"
      "Laptop.Alice.UW 192.0.2.1 2001:db8::1\n"
      "\n"
      "phone.alice.uw - 2001:db8::2  # v6 only\n"
      "tv.alice.uw 2001:db8::3 192.0.2.3\n"
      "off.alice.uw\n");
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.records.size(), 4u);
  EXPECT_EQ(r.records[0].name, "laptop.alice.uw");
  EXPECT_TRUE(r.records[0].ipv4 && r.records[0].ipv6);
  EXPECT_FALSE(r.records[1].ipv4);
  EXPECT_TRUE(r.records[2].ipv4 && r.records[2].ipv6);
  EXPECT_FALSE(r.records[3].ipv4 || r.records[3].ipv6);
  EXPECT_EQ(r.records[0].updated, 123);
}

TEST(DeviceFile, FirstBadLineRejectsAll) {
  for (const char* bad : {"ok.alice.uw 192.0.2.1\nbad_label.alice.uw 192.0.2.2\n",
                          "ok.alice.uw 192.0.2.1\nx.alice.uw 300.1.1.1\n",
                          "ok.alice.uw 192.0.2.1\nx.alice.uw 192.0.2.1 192.0.2.2\n",
                          "ok.alice.uw 192.0.2.1\nx.alice 192.0.2.1\n"}) {
    const auto r = parse(bad);
    EXPECT_TRUE(r.records.empty()) << bad;
    EXPECT_EQ(r.error.rfind("line 2: ", 0), 0u) << r.error;
  }
  EXPECT_NE(parse("bad_label.alice.uw\n").error.find("bad_label"), std::string::npos);
}

// Import follows the one address rule of /nic/update and the JSON API.
TEST(DeviceFile, AddressesFollowTheOneRule) {
  EXPECT_EQ(parse("x.alice.uw 224.0.0.1\n").error, "line 1: 224.0.0.1 is a multicast address");
  EXPECT_EQ(parse("x.alice.uw - ff02::1\n").error, "line 1: ff02::1 is a multicast address");
  EXPECT_EQ(parse("x.alice.uw 0.0.0.0\n").error, "line 1: 0.0.0.0 is the unspecified address");
  EXPECT_EQ(parse("x.alice.uw 255.255.255.255\n").error,
            "line 1: 255.255.255.255 is the broadcast address");
  EXPECT_EQ(parse("x.alice.uw - ::\n").error, "line 1: :: is the unspecified address");
  EXPECT_TRUE(parse("x.alice.uw 192.0.2.1 2001:db8::1\n").error.empty());
}

}  // namespace
}  // namespace pweb::registrar
