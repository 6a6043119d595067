#include "pweb/registrar/records.hpp"

#include <gtest/gtest.h>

namespace pweb::registrar {
namespace {

constexpr std::uint16_t kTxt = 16, kMx = 15;

DeviceRecord device() {
  DeviceRecord d;
  d.name = "laptop.alice.uw";
  d.ipv4 = Ipv4{192, 0, 2, 1};
  return d;
}

std::string txt(std::string_view s) {
  return std::string(1, static_cast<char>(s.size())) + std::string(s);
}

TEST(Subname, ParsesAndLowercases) {
  struct Case {
    const char* in;
    const char* out;  // null: refused
  };
  for (const Case& c : std::initializer_list<Case>{{"@", ""},
                                                   {"www", "www"},
                                                   {"WWW", "www"},
                                                   {"_acme-challenge", "_acme-challenge"},
                                                   {"_http._tcp", "_http._tcp"},
                                                   {"*", "*"},
                                                   {"*.www", "*.www"},
                                                   {"www.*", nullptr},
                                                   {"", nullptr},
                                                   {"a..b", nullptr},
                                                   {".a", nullptr},
                                                   {"a b", nullptr},
                                                   {"a*", nullptr},
                                                   {"é", nullptr}}) {
    const auto r = parse_subname(c.in);
    if (c.out) {
      ASSERT_TRUE(r.subname) << c.in << ": " << r.error;
      EXPECT_EQ(*r.subname, c.out);
    } else {
      EXPECT_FALSE(r.subname) << c.in;
      EXPECT_FALSE(r.error.empty()) << c.in;
    }
  }
  EXPECT_FALSE(parse_subname(std::string(64, 'a')).subname);
  EXPECT_TRUE(parse_subname(std::string(63, 'a')).subname);
}

TEST(Records, PutFindRemove) {
  auto d = device();
  ASSERT_FALSE(put_rrset(d, {"www", kTxt, 300, {txt("b"), txt("a"), txt("a")}}));
  const auto found = find_rrset(d, "www", kTxt, 60);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->rdata, (std::vector<std::string>{txt("a"), txt("b")})) << "sorted, unique";
  EXPECT_TRUE(name_in_use(d, "www"));
  EXPECT_FALSE(name_in_use(d, "ftp"));
  // The device's address is the "@" A RRset.
  const auto a = find_rrset(d, "", rrtype::A, 60);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ttl, 60u);
  EXPECT_EQ(a->rdata.front(), std::string("\xc0\x00\x02\x01", 4));
  remove_rrset(d, "www", kTxt);
  EXPECT_FALSE(find_rrset(d, "www", kTxt, 60));
  EXPECT_TRUE(put_rrset(d, {"", rrtype::A, 60, {"\1\2\3\4", "\5\6\7\10"}})) << "one address";
  EXPECT_TRUE(put_rrset(d, {"", rrtype::A, 60, {"\1\2\3"}})) << "wrong size";
  EXPECT_FALSE(put_rrset(d, {"", rrtype::A, 120, {"\1\2\3\4"}}));
  EXPECT_EQ(d.ipv4, (Ipv4{1, 2, 3, 4}));
  EXPECT_EQ(d.ttl, 120u);
}

TEST(Records, RulesAndLimits) {
  RecordLimits limits;
  auto check = [&](const DeviceRecord& d, std::size_t elsewhere = 0) {
    return check_records(d, limits, elsewhere);
  };
  auto d = device();
  ASSERT_FALSE(put_rrset(d, {"www", rrtype::CNAME, 300, {"\1a\0"}}));
  EXPECT_FALSE(check(d));
  auto conflict = d;
  ASSERT_FALSE(put_rrset(conflict, {"www", kTxt, 300, {txt("x")}}));
  ASSERT_TRUE(check(conflict));
  EXPECT_NE(check(conflict)->message.find("CNAME"), std::string::npos);
  auto at_apex = device();  // has an address
  ASSERT_FALSE(put_rrset(at_apex, {"", rrtype::CNAME, 300, {"\1a\0"}}));
  EXPECT_TRUE(check(at_apex)) << "CNAME at the device name beside its address";
  auto two = device();
  ASSERT_FALSE(put_rrset(two, {"x", rrtype::CNAME, 300, {"\1a\0", "\1b\0"}}));
  EXPECT_TRUE(check(two)) << "two CNAME records";
  auto low = device();
  ASSERT_FALSE(put_rrset(low, {"x", kTxt, 5, {txt("a")}}));
  EXPECT_TRUE(check(low)) << "ttl below minimum";
  auto soa = device();
  soa.rrsets.push_back({"x", 6, 300, {"x"}});
  EXPECT_TRUE(check(soa)) << "SOA in a device";
  auto many = device();
  for (int i = 0; i < 65; ++i) {
    ASSERT_FALSE(put_rrset(many, {"n" + std::to_string(i), kTxt, 300, {txt("a")}}));
  }
  EXPECT_TRUE(check(many)) << "too many RRsets";
  auto big = device();
  ASSERT_FALSE(put_rrset(big, {"x", kTxt, 300, {std::string(200, 'a'), std::string(200, 'b')}}));
  EXPECT_FALSE(check(big));
  EXPECT_TRUE(check(big, limits.max_bytes_per_user - 100)) << "user over the limit";
}

TEST(Records, Rfc2136PrerequisitesAndUpdates) {
  using K = RecordOp::Kind;
  using E = EditError::Kind;
  struct Case {
    const char* what;
    std::vector<RecordOp> ops;
    std::optional<E> error;
  };
  auto d0 = device();
  ASSERT_FALSE(put_rrset(d0, {"www", kTxt, 300, {txt("a"), txt("b")}}));
  const std::vector<Case> cases = {
      {"exists", {{K::rrset_exists, "www", kTxt, 0, ""}}, std::nullopt},
      {"exists, absent", {{K::rrset_exists, "www", kMx, 0, ""}}, E::rrset_absent},
      {"exists any", {{K::rrset_exists, "www", rrtype::ANY, 0, ""}}, std::nullopt},
      {"value",
       {{K::rrset_exists_value, "www", kTxt, 0, txt("a")},
        {K::rrset_exists_value, "www", kTxt, 0, txt("b")}},
       std::nullopt},
      {"value, differs", {{K::rrset_exists_value, "www", kTxt, 0, txt("a")}}, E::rrset_absent},
      {"absent, present", {{K::rrset_absent, "www", kTxt, 0, ""}}, E::rrset_present},
      {"name in use", {{K::name_in_use, "www", 0, 0, ""}}, std::nullopt},
      {"name in use, not", {{K::name_in_use, "ftp", 0, 0, ""}}, E::name_absent},
      {"name not in use, is", {{K::name_not_in_use, "www", 0, 0, ""}}, E::name_present},
      {"name not in use, device", {{K::name_not_in_use, "", 0, 0, ""}}, E::name_present},
  };
  for (const auto& c : cases) {
    auto d = d0;
    const auto e = apply_record_ops(d, c.ops, 60);
    ASSERT_EQ(e.has_value(), c.error.has_value()) << c.what;
    if (e) {
      EXPECT_EQ(e->kind, *c.error) << c.what;
      EXPECT_EQ(d, d0) << c.what << ": changed despite a failed prerequisite";
    }
  }
  auto d = d0;
  const std::vector<RecordOp> ops = {
      {K::rrset_exists, "www", kTxt, 0, ""},
      {K::add, "_acme-challenge", kTxt, 120, txt("token1")},
      {K::add, "_acme-challenge", kTxt, 120, txt("token2")},
      {K::add, "_acme-challenge", kTxt, 120, txt("token2")},
      {K::delete_record, "www", kTxt, 0, txt("a")},
      {K::add, "", rrtype::A, 60, "\1\2\3\4"},
      {K::add, "www", rrtype::CNAME, 60, "\1a\0"},  // name in use: ignored (§3.4.2.2)
  };
  ASSERT_FALSE(apply_record_ops(d, ops, 60));
  EXPECT_EQ(find_rrset(d, "_acme-challenge", kTxt, 60)->rdata.size(), 2u);
  EXPECT_EQ(find_rrset(d, "www", kTxt, 60)->rdata, std::vector<std::string>{txt("b")});
  EXPECT_EQ(d.ipv4, (Ipv4{1, 2, 3, 4}));
  EXPECT_FALSE(find_rrset(d, "www", rrtype::CNAME, 60));
  const std::vector<RecordOp> deletes = {{K::delete_rrset, "_acme-challenge", kTxt, 0, ""},
                                         {K::delete_name, "", 0, 0, ""}};
  ASSERT_FALSE(apply_record_ops(d, deletes, 60));
  EXPECT_FALSE(find_rrset(d, "_acme-challenge", kTxt, 60));
  EXPECT_FALSE(d.ipv4);
  EXPECT_TRUE(find_rrset(d, "www", kTxt, 60)) << "delete_name at @ leaves other names";
}

}  // namespace
}  // namespace pweb::registrar
