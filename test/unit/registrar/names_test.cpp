#include "pweb/registrar/names.hpp"

#include <gtest/gtest.h>

namespace pweb::registrar {
namespace {

TEST(LabelError, Boundaries) {
  EXPECT_FALSE(label_error("a"));
  EXPECT_FALSE(label_error(std::string(63, 'a')));
  EXPECT_TRUE(label_error(std::string(64, 'a')));
  EXPECT_TRUE(label_error(""));
  EXPECT_FALSE(label_error("a-b"));
  EXPECT_TRUE(label_error("-ab"));
  EXPECT_TRUE(label_error("ab-"));
  EXPECT_TRUE(label_error("a_b"));
  EXPECT_TRUE(label_error("a.b"));
  EXPECT_FALSE(label_error("MiXeD09"));
}

TEST(ParseDeviceName, LowercasesAndSplits) {
  const auto r = parse_device_name("LapTop.Alice.UW.");
  ASSERT_TRUE(r.name);
  EXPECT_EQ(r.name->device, "laptop");
  EXPECT_EQ(r.name->user, "alice");
  EXPECT_EQ(r.name->agent, "uw");
  EXPECT_EQ(r.name->full(), "laptop.alice.uw");
}

TEST(ParseDeviceName, ErrorsNameTheOffendingLabel) {
  auto r = parse_device_name("laptop.al_ice.uw");
  ASSERT_FALSE(r.name);
  EXPECT_NE(r.error.find("user label 'al_ice'"), std::string::npos) << r.error;
  r = parse_device_name("laptop.alice");
  ASSERT_FALSE(r.name);
  EXPECT_NE(r.error.find("three labels"), std::string::npos) << r.error;
  r = parse_device_name("a.b.c.d");
  EXPECT_FALSE(r.name);
  r = parse_device_name("a..c");
  EXPECT_FALSE(r.name);
  r = parse_device_name(std::string(64, 'x') + ".alice.uw");
  ASSERT_FALSE(r.name);
  EXPECT_NE(r.error.find("device label"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace pweb::registrar
