// Server cookies (RFC 7873, RFC 9018): the published test vectors of RFC 9018
// Appendix A, and a table of what is valid, renewed or refused.
#include "pweb/dns/cookie.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pweb::dns {
namespace {

std::vector<std::uint8_t> unhex(std::string_view s) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(std::string(s.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string hex(std::span<const std::uint8_t> b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (auto c : b) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

CookieSecret secret_of(std::string_view h) { return *cookie_secret_from_hex(h); }

CookieOption option_of(std::string_view h) {
  const auto b = unhex(h);
  CookieOption o;
  o.present = true;
  std::copy_n(b.begin(), 8, o.client.begin());
  std::copy(b.begin() + 8, b.end(), o.server.begin());
  o.server_size = static_cast<std::uint8_t>(b.size() - 8);
  return o;
}

const std::vector<std::uint8_t> kClientV4 = {198, 51, 100, 100};
const std::vector<std::uint8_t> kClientV6 =
    unhex("20010db80220000159ded0f4876982b8");  // 2001:db8:220:1:59de:d0f4:8769:82b8
constexpr std::string_view kSecret = "e5e973e5a6b2a43f48e7dc849e37bfcf";

// RFC 9018 A.1: a client cookie alone gets a server cookie made at that second.
TEST(ServerCookie, Rfc9018LearningANewServerCookie) {
  const auto r =
      answer_cookie(option_of("2464c4abcf10c957"), secret_of(kSecret), kClientV4, 1559731985);
  EXPECT_EQ(r.result, CookieResult::client_only);
  EXPECT_EQ(hex(r.option), "2464c4abcf10c957010000005cf79f111f8130c3eee29480");
}

// RFC 9018 A.2: 40 minutes later the cookie is valid but past half an hour: renewed.
TEST(ServerCookie, Rfc9018RenewedAfterHalfAnHour) {
  const auto r = answer_cookie(option_of("2464c4abcf10c957010000005cf79f111f8130c3eee29480"),
                               secret_of(kSecret), kClientV4, 1559734385);
  EXPECT_EQ(r.result, CookieResult::valid);
  EXPECT_EQ(hex(r.option), "2464c4abcf10c957010000005cf7a871d4a564a1442aca77");
}

// RFC 9018 A.4: an IPv6 client, another secret.
TEST(ServerCookie, Rfc9018Ipv6) {
  const auto c = unhex("22681ab97d52c298");
  const auto made =
      make_server_cookie(secret_of("445536bcd2513298075a5d379663c962"),
                         std::span<const std::uint8_t, 8>(c.data(), 8), kClientV6, 1559741961);
  EXPECT_EQ(hex(made), "010000005cf7c609a6bb79d16625507a");
}

TEST(ServerCookie, ValidityTable) {
  const auto secret = secret_of(kSecret);
  const std::string client = "2464c4abcf10c957";
  constexpr std::uint32_t kNow = 1700000000;
  // A cookie of ours made at `at` for `ip`, under `key`.
  auto ours = [&](std::uint32_t at, const std::vector<std::uint8_t>& ip, const CookieSecret& key) {
    const auto c = unhex(client);
    return client +
           hex(make_server_cookie(key, std::span<const std::uint8_t, 8>(c.data(), 8), ip, at));
  };
  auto other_secret = secret;
  other_secret[0] ^= 1;
  auto tampered = ours(kNow - 10, kClientV4, secret);
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  auto version2 = ours(kNow - 10, kClientV4, secret);
  version2[17] = '2';
  struct Case {
    const char* what;
    std::string cookie;
    CookieResult result;
    bool echoed;  // the same server cookie comes back (else a fresh one, stamped now)
  };
  const std::vector<Case> cases{
      {"client only", client, CookieResult::client_only, false},
      {"fresh, echoed", ours(kNow - 10, kClientV4, secret), CookieResult::valid, true},
      {"29 minutes, echoed", ours(kNow - 1740, kClientV4, secret), CookieResult::valid, true},
      {"31 minutes, renewed", ours(kNow - 1860, kClientV4, secret), CookieResult::valid, false},
      {"an hour, still valid", ours(kNow - 3600, kClientV4, secret), CookieResult::valid, false},
      {"stale: an hour and a second", ours(kNow - 3601, kClientV4, secret), CookieResult::invalid,
       false},
      {"4 minutes ahead", ours(kNow + 240, kClientV4, secret), CookieResult::valid, true},
      {"future: 6 minutes ahead", ours(kNow + 360, kClientV4, secret), CookieResult::invalid,
       false},
      {"wrong IP", ours(kNow - 10, {198, 51, 100, 101}, secret), CookieResult::invalid, false},
      {"IPv6 cookie from IPv4", ours(kNow - 10, kClientV6, secret), CookieResult::invalid, false},
      {"wrong secret", ours(kNow - 10, kClientV4, other_secret), CookieResult::invalid, false},
      {"hash tampered", tampered, CookieResult::invalid, false},
      {"version 2", version2, CookieResult::invalid, false},
      {"8-byte server cookie (not ours)", client + "0102030405060708", CookieResult::invalid,
       false},
      {"32-byte server cookie (not ours)", client + std::string(64, 'a'), CookieResult::invalid,
       false},
  };
  for (const auto& c : cases) {
    const auto r = answer_cookie(option_of(c.cookie), secret, kClientV4, kNow);
    EXPECT_EQ(r.result, c.result) << c.what;
    const std::string got = hex(r.option);
    EXPECT_EQ(got.substr(0, 16), client) << c.what;  // the client cookie always comes back
    if (c.echoed) {
      EXPECT_EQ(got, c.cookie) << c.what;
    } else {
      EXPECT_EQ(got, ours(kNow, kClientV4, secret)) << c.what;
    }
  }
}

// The 32-bit timestamp wraps (2106); serial arithmetic keeps cookies valid across it.
TEST(ServerCookie, TimestampWraps) {
  const auto secret = secret_of(kSecret);
  const auto c = unhex("2464c4abcf10c957");
  const auto made = make_server_cookie(secret, std::span<const std::uint8_t, 8>(c.data(), 8),
                                       kClientV4, 0xFFFFFFF0u);
  CookieOption o = option_of("2464c4abcf10c957");
  std::copy(made.begin(), made.end(), o.server.begin());
  o.server_size = 16;
  EXPECT_EQ(answer_cookie(o, secret, kClientV4, 0x10).result, CookieResult::valid);
}

TEST(ServerCookie, NoOptionNoReply) {
  EXPECT_EQ(answer_cookie(CookieOption{}, secret_of(kSecret), kClientV4, 1).result,
            CookieResult::none);
}

TEST(CookieSecret, FromHex) {
  EXPECT_TRUE(cookie_secret_from_hex(kSecret));
  EXPECT_TRUE(cookie_secret_from_hex(std::string("  ") + std::string(kSecret) + "\n"));
  EXPECT_TRUE(cookie_secret_from_hex("E5E973E5A6B2A43F48E7DC849E37BFCF"));
  EXPECT_FALSE(cookie_secret_from_hex(""));
  EXPECT_FALSE(cookie_secret_from_hex("\n"));
  EXPECT_FALSE(cookie_secret_from_hex(kSecret.substr(2)));            // short
  EXPECT_FALSE(cookie_secret_from_hex(std::string(kSecret) + "00"));  // long
  EXPECT_FALSE(cookie_secret_from_hex("g5e973e5a6b2a43f48e7dc849e37bfcf"));
  EXPECT_FALSE(cookie_secret_from_hex("e5e973e5a6b2a43f 8e7dc849e37bfcf0"));
  EXPECT_NE(random_cookie_secret(), random_cookie_secret());
}

}  // namespace
}  // namespace pweb::dns
