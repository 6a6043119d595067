#include "pweb/node/names.hpp"

#include <gtest/gtest.h>

namespace pweb::node {
namespace {

TEST(DeviceKey, AcceptsTheFormsGatewaysAndCrawlersSend) {
  const std::vector<std::string> zones{"dht.", "pweb.example."};
  struct Case {
    const char* in;
    const char* key;
  } cases[] = {
      {"laptop.alice.uw", "laptop.alice.uw"},
      {"laptop.alice.uw.dht", "laptop.alice.uw"},
      {"LAPTOP.Alice.UW.DHT.", "laptop.alice.uw"},
      {"laptop.alice.uw.pweb.example", "laptop.alice.uw"},
  };
  for (const auto& c : cases) {
    const auto k = device_key(c.in, zones);
    EXPECT_EQ(k.error, "") << c.in;
    EXPECT_EQ(k.key, c.key) << c.in;
  }
}

TEST(DeviceKey, RefusesWhatIsNotADeviceNameAndSaysWhy) {
  const std::vector<std::string> zones{"dht."};
  for (const char* bad : {"", "dht", "uw.dht", "alice.uw", "a.b.c.d.dht", "lap_top.alice.uw",
                          "-x.alice.uw", "laptop..uw"}) {
    const auto k = device_key(bad, zones);
    EXPECT_TRUE(k.key.empty()) << bad;
    EXPECT_FALSE(k.error.empty()) << bad;
  }
  // The offending label is named.
  EXPECT_NE(device_key("lap_top.alice.uw", zones).error.find("lap_top"), std::string::npos);
}

TEST(DeviceKey, ASuffixIsOnlyRemovedAtALabelBoundary) {
  // "xdht" is not the zone "dht": four labels remain, so it is refused.
  EXPECT_FALSE(device_key("a.b.c.xdht", {"dht."}).error.empty());
  EXPECT_EQ(device_key("a.b.dht", {"dht."}).key, "a.b.dht");  // agent named "dht"
}

// Names below a device, as QUERY3 and the resolve API with ?type= take them.
TEST(RecordKey, DeviceNamesAndNamesBelowThem) {
  const std::vector<std::string> zones{"dht.", "pweb.example."};
  struct Case {
    const char* in;
    const char* key;  // "" when refused
  } cases[] = {
      {"laptop.alice.uw", "laptop.alice.uw"},
      {"LAPTOP.alice.uw.dht.", "laptop.alice.uw"},
      {"_acme-challenge.laptop.alice.uw", "_acme-challenge.laptop.alice.uw"},
      {"_acme-challenge.Laptop.alice.uw.dht", "_acme-challenge.laptop.alice.uw"},
      {"_http._tcp.laptop.alice.uw.pweb.example.", "_http._tcp.laptop.alice.uw"},
      {"*.laptop.alice.uw", "*.laptop.alice.uw"},
      // Three labels left after the zone would be a device: the suffix goes.
      {"x.alice.uw.dht", "x.alice.uw"},
      {"alice.uw", ""},
      {"uw.dht", ""},
      {"", ""},
      {"a..laptop.alice.uw", ""},
      {"lap_top.alice.uw", ""},
  };
  for (const auto& c : cases) {
    const auto k = record_key(c.in, zones);
    EXPECT_EQ(k.key, c.key) << c.in;
    EXPECT_EQ(k.error.empty(), *c.key != 0) << c.in;
  }
  EXPECT_FALSE(record_key(std::string(64, 'a') + ".laptop.alice.uw", zones).error.empty());
}

}  // namespace
}  // namespace pweb::node
