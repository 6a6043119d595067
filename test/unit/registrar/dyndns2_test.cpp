#include "pweb/registrar/dyndns2.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace pweb::registrar {
namespace {

class DynDns2Test : public ::testing::Test {
 protected:
  testutil::TempDir dir;
  SnapshotHolder holder{Snapshot::build({}, 1)};
  Registrar reg{dir.path(), holder, {}};
  DynDns2 dyn{"uw", reg};

  NicUpdateAnswer update(const char* hosts, const char* myip, const char* myipv6 = nullptr,
                         const char* offline = nullptr) {
    NicUpdateRequest r;
    if (hosts) r.hostname = hosts;
    if (myip) r.myip = myip;
    if (myipv6) r.myipv6 = myipv6;
    if (offline) r.offline = offline;
    r.client_address = "203.0.113.7";
    return dyn.update("alice", r);
  }
};

TEST_F(DynDns2Test, LinePerHostInOrder) {
  const auto a =
      update("laptop.alice.uw,x.bob.uw,bad_label.alice.uw,p.alice.ut,Phone.Alice.UW", "192.0.2.1");
  EXPECT_FALSE(a.bad_request);
  EXPECT_EQ(a.body, "good 192.0.2.1\nnohost\nnotfqdn\nnohost\ngood 192.0.2.1\n");
  EXPECT_EQ(update("laptop.alice.uw", "192.0.2.1").body, "nochg 192.0.2.1\n");
}

TEST_F(DynDns2Test, FamiliesAndCallerAddress) {
  EXPECT_EQ(update("l.alice.uw", "192.0.2.1,2001:db8::1").body, "good 192.0.2.1,2001:db8::1\n");
  EXPECT_EQ(update("l.alice.uw", "192.0.2.2").body, "good 192.0.2.2\n");
  const auto* e = holder.current()->find("l.alice.uw");
  EXPECT_TRUE(e->has_v6());  // v4-only update kept v6
  EXPECT_EQ(update("l.alice.uw", nullptr, "2001:db8::2").body, "good 2001:db8::2\n");
  EXPECT_EQ(update("m.alice.uw", nullptr).body, "good 203.0.113.7\n");
  EXPECT_EQ(update("m.alice.uw", "::ffff:198.51.100.1").body, "good 198.51.100.1\n");
}

TEST_F(DynDns2Test, OfflineRemovesAddresses) {
  update("l.alice.uw", "192.0.2.1,2001:db8::1");
  EXPECT_EQ(update("l.alice.uw", nullptr, nullptr, "YES").body, "good\n");
  const auto* e = holder.current()->find("l.alice.uw");
  ASSERT_NE(e, nullptr);
  EXPECT_FALSE(e->has_v4() || e->has_v6());
}

TEST_F(DynDns2Test, BadInputChangesNothing) {
  update("l.alice.uw", "192.0.2.1");
  for (const char* bad : {"1.2.3", "192.0.2.1,192.0.2.2", "x", "192.0.2.1;rm"}) {
    const auto a = update("l.alice.uw", bad);
    EXPECT_TRUE(a.bad_request) << bad;
    EXPECT_NE(a.body.find(bad), std::string::npos) << a.body;
  }
  EXPECT_TRUE(update("l.alice.uw", nullptr, "192.0.2.9").bad_request);
  for (const char* not_unicast : {"0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1"}) {
    EXPECT_TRUE(update("l.alice.uw", not_unicast).bad_request) << not_unicast;
  }
  EXPECT_NE(update("l.alice.uw", "2001:db8::1", "2001:db8::2").body.find("twice"),
            std::string::npos);
  EXPECT_EQ(holder.current()->find("l.alice.uw")->v4, (Ipv4{192, 0, 2, 1}));
  EXPECT_EQ(update(nullptr, "192.0.2.1").body, "notfqdn\n");
  EXPECT_EQ(update("", "192.0.2.1").body, "notfqdn\n");
  std::string many;
  for (int i = 0; i < 21; ++i)
    many += (i ? "," : "") + std::string("d") + std::to_string(i) + ".alice.uw";
  EXPECT_EQ(update(many.c_str(), "192.0.2.1").body, "numhost\n");
  EXPECT_EQ(holder.current()->find("d0.alice.uw"), nullptr);
}

}  // namespace
}  // namespace pweb::registrar
