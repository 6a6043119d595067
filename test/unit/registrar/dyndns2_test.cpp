#include "pweb/registrar/dyndns2.hpp"

#include <gtest/gtest.h>

#include "pweb/registrar/sqlite_store.hpp"
#include "temp_dir.hpp"

namespace pweb::registrar {
namespace {

class DynDns2Test : public ::testing::Test {
 protected:
  testutil::TempDir dir;
  SnapshotHolder holder{Snapshot::build({}, 1)};
  Registrar reg{std::make_unique<SqliteStore>(dir.path()), holder, {}};
  DynDns2 dyn{"uw", reg};

  NicUpdateAnswer update(const char* hosts, std::optional<std::string> myip,
                         std::optional<std::string> myipv6 = std::nullopt,
                         const char* offline = nullptr) {
    NicUpdateRequest r;
    if (hosts) r.hostname = hosts;
    r.myip = std::move(myip);
    r.myipv6 = std::move(myipv6);
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
  EXPECT_EQ(update("l.alice.uw", std::nullopt, "2001:db8::2").body, "good 2001:db8::2\n");
  EXPECT_EQ(update("m.alice.uw", std::nullopt).body, "good 203.0.113.7\n");
  EXPECT_EQ(update("m.alice.uw", "::ffff:198.51.100.1").body, "good 198.51.100.1\n");
}

TEST_F(DynDns2Test, OfflineRemovesAddresses) {
  update("l.alice.uw", "192.0.2.1,2001:db8::1");
  EXPECT_EQ(update("l.alice.uw", std::nullopt, std::nullopt, "YES").body, "good\n");
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
  EXPECT_TRUE(update("l.alice.uw", std::nullopt, "192.0.2.9").bad_request);
  for (const char* not_unicast : {"0.0.0.0", "224.0.0.1", "255.255.255.255", "::", "ff02::1"}) {
    EXPECT_TRUE(update("l.alice.uw", not_unicast).bad_request) << not_unicast;
  }
  // The refusal names the rule (the one rule, parse_device_address).
  EXPECT_EQ(update("l.alice.uw", "224.0.0.1").body,
            "myip '224.0.0.1': 224.0.0.1 is a multicast address\n");
  EXPECT_EQ(update("l.alice.uw", std::nullopt, "ff02::1").body,
            "myipv6 'ff02::1': ff02::1 is a multicast address\n");
  // myip=1.2.3.4%00junk: the NUL and what follows are not ignored.
  const auto nul = update("l.alice.uw", std::string("192.0.2.7\0junk", 14));
  EXPECT_TRUE(nul.bad_request);
  EXPECT_EQ(nul.body,
            "myip '192.0.2.7\\x00junk': '192.0.2.7\\x00junk' is not an IPv4 or IPv6 address\n");
  EXPECT_TRUE(update("l.alice.uw", std::nullopt, std::string("2001:db8::7\0", 12)).bad_request);
  EXPECT_TRUE(update("l.alice.uw", "192.0.2.7junk").bad_request);
  EXPECT_TRUE(update("l.alice.uw", std::nullopt, "2001:db8::7/64").bad_request);
  EXPECT_TRUE(update("l.alice.uw", std::nullopt, "::ffff:192.0.2.7").bad_request);
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

TEST(RestrictPlan, OtherDevicesAnswerNohost) {
  struct Case {
    const char* hosts;
    std::vector<std::string> lines;  // "" where the change decides
    std::size_t changes;
  };
  const Case cases[] = {
      {"laptop.alice.uw", {""}, 1},
      {"phone.alice.uw", {"nohost"}, 0},
      {"phone.alice.uw,laptop.alice.uw,x.bob.uw,bad_name", {"nohost", "", "nohost", "notfqdn"}, 1},
      {"LAPTOP.alice.uw", {""}, 1},
  };
  for (const auto& c : cases) {
    NicUpdateRequest r;
    r.hostname = c.hosts;
    r.myip = "192.0.2.1";
    auto plan = plan_nic_update("uw", "alice", r);
    ASSERT_FALSE(plan.answer) << c.hosts;
    restrict_plan(plan, "laptop.alice.uw");
    EXPECT_EQ(plan.lines, c.lines) << c.hosts;
    ASSERT_EQ(plan.changes.size(), c.changes) << c.hosts;
    ASSERT_EQ(plan.line_of_change.size(), c.changes);
    for (std::size_t k = 0; k < plan.changes.size(); ++k) {
      EXPECT_EQ(plan.changes[k].name, "laptop.alice.uw");
      EXPECT_EQ(plan.lines[plan.line_of_change[k]], "");
    }
  }
}

}  // namespace
}  // namespace pweb::registrar

namespace pweb::registrar {
namespace {

TEST(Ipv6Prefix, ParsesAndCombinesWithInterfaceIds) {
  const auto p = parse_ipv6_prefix("2001:db8:1::/64");
  ASSERT_TRUE(p.prefix) << p.error;
  EXPECT_EQ(format_ipv6(with_prefix(*p.prefix, *parse_ipv6("::1:2"))), "2001:db8:1::1:2");
  // The prefix's host bits do not leak into the address; a /56 takes 8 bits of the iid's half.
  const auto p56 = parse_ipv6_prefix("2001:db8:1:ff00::/56");
  ASSERT_TRUE(p56.prefix);
  EXPECT_EQ(format_ipv6(with_prefix(*p56.prefix, *parse_ipv6("::12:0:0:1:2"))),
            "2001:db8:1:ff12::1:2");
  for (const char* bad : {"2001:db8::", "2001:db8::/65", "2001:db8::/0", "x/64", "ff02::/64",
                          "::/64", "2001:db8::/64x", "192.0.2.0/24"}) {
    const auto r = parse_ipv6_prefix(bad);
    EXPECT_FALSE(r.prefix) << bad;
    EXPECT_FALSE(r.error.empty()) << bad;
  }
}

TEST(DynDns2Token, Ipv6PrefixMovesTheTokensDeviceOnly) {
  testutil::TempDir dir;
  SnapshotHolder holder{Snapshot::build({}, 1)};
  Registrar reg{std::make_unique<SqliteStore>(dir.path()), holder, {}};
  std::vector<DeviceChange> setup;
  for (const char* name : {"laptop.alice.uw", "tv.alice.uw"}) {
    DeviceChange c;
    c.name = name;
    c.ipv6_iid = FieldChange<Ipv6>::set(*parse_ipv6("::1:2"));
    setup.push_back(c);
  }
  reg.apply(setup);
  DynDns2 dyn("uw", reg, [](const std::string&) {
    return std::vector<std::string>{"laptop.alice.uw", "tv.alice.uw"};
  });
  NicUpdateRequest r;
  r.hostname = "laptop.alice.uw";
  r.myip = "192.0.2.1";
  r.ipv6prefix = "2001:db8:1::/64";
  const std::string device = "laptop.alice.uw";
  dyn.update("alice", r, &device);
  SqliteStore store(dir.path());
  EXPECT_EQ(store.get("laptop.alice.uw")->ipv6, parse_ipv6("2001:db8:1::1:2"));
  EXPECT_FALSE(store.get("tv.alice.uw")->ipv6);  // the token is the laptop's
}

}  // namespace
}  // namespace pweb::registrar
