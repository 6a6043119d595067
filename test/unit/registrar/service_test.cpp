#include "pweb/registrar/service.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace pweb::registrar {
namespace {

TEST(Services, ValidateAndSplit) {
  auto r = validate_services({"HTTP:8080", "ssh:22"});
  ASSERT_TRUE(r.joined);
  EXPECT_EQ(*r.joined, "http:8080,ssh:22");
  EXPECT_EQ(split_services(*r.joined), (std::vector<std::string>{"http:8080", "ssh:22"}));
  EXPECT_TRUE(split_services("").empty());
  for (const char* bad : {"http", "http:0", "http:65536", "ht_tp:80", "http:80x", ":80",
                          "averyveryverylongname:80"}) {
    r = validate_services({bad});
    EXPECT_FALSE(r.joined) << bad;
    EXPECT_NE(r.error.find(bad), std::string::npos) << r.error;
  }
  EXPECT_FALSE(validate_services(std::vector<std::string>(17, "a:1")).joined);
}

TEST(RegistrationService, ListsPagesInNameOrderAndSince) {
  testutil::TempDir dir;
  SnapshotHolder holder(Snapshot::build({}, 1));
  RegistrationService svc("uw", StoreLocation::sqlite(dir.path()), holder, {});
  std::vector<DeviceChange> changes;
  for (int i = 0; i < 25; ++i) {
    DeviceChange c;
    c.name = "d" + std::to_string(100 + i) + ".alice.uw";
    c.ipv4 = FieldChange<Ipv4>::set(Ipv4{10, 0, 0, static_cast<std::uint8_t>(i)});
    changes.push_back(c);
  }
  svc.apply(changes);
  std::vector<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    const auto got = svc.list(cursor, 0, 10);
    if (got.empty()) break;
    for (const auto& d : got) seen.push_back(d.device.name);
    cursor = got.back().device.name;
  }
  ASSERT_EQ(seen.size(), 25u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_TRUE(svc.list("", 4102444800 /* 2100 */, 10).empty());
  EXPECT_EQ(svc.get("d100.alice.uw")->ipv4, (Ipv4{10, 0, 0, 0}));
  EXPECT_FALSE(svc.get("nope.alice.uw"));
}

std::uint64_t count_of(const UpdateCounts& c, std::string_view code) {
  for (std::size_t i = 0; i < kUpdateResults.size(); ++i) {
    if (code == kUpdateResults[i]) return c[i];
  }
  ADD_FAILURE() << "no update result " << code;
  return 0;
}

TEST(RegistrationService, CountsEveryUpdateAnswerLineByCode) {
  testutil::TempDir dir;
  SnapshotHolder holder(Snapshot::build({}, 1));
  RegistrationService svc("uw", StoreLocation::sqlite(dir.path()), holder, {});
  NicUpdateRequest req;
  req.hostname = "a.alice.uw,b.alice.uw,c.bob.uw,not_a_name";
  req.myip = "192.0.2.1";
  EXPECT_EQ(svc.nic_update("alice", req).body, "good 192.0.2.1\ngood 192.0.2.1\nnohost\nnotfqdn\n");
  req.hostname = "a.alice.uw";
  EXPECT_EQ(svc.nic_update("alice", req).body, "nochg 192.0.2.1\n");
  req.myip = "not-an-address";
  EXPECT_TRUE(svc.nic_update("alice", req).bad_request);
  svc.count_refused_update(AuthResult::bad);
  svc.count_refused_update(AuthResult::throttled);
  svc.count_refused_update(AuthResult::ok);  // not a refusal: not counted
  const auto c = svc.update_counts();
  EXPECT_EQ(count_of(c, "good"), 2u);
  EXPECT_EQ(count_of(c, "nochg"), 1u);
  EXPECT_EQ(count_of(c, "nohost"), 1u);
  EXPECT_EQ(count_of(c, "notfqdn"), 1u);
  EXPECT_EQ(count_of(c, "badrequest"), 1u);
  EXPECT_EQ(count_of(c, "badauth"), 1u);
  EXPECT_EQ(count_of(c, "abuse"), 1u);
  EXPECT_EQ(count_of(c, "dnserr"), 0u);
}

}  // namespace
}  // namespace pweb::registrar
