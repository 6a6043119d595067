#include "pweb/registrar/accounts.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>

namespace pweb::registrar {
namespace {

TEST(PasswordHash, Argon2idRoundTrip) {
  const auto h = hash_password("correct horse");
  EXPECT_EQ(h.rfind("$argon2id$", 0), 0u) << h;
  EXPECT_EQ(h.find("correct horse"), std::string::npos);
  EXPECT_TRUE(verify_password("correct horse", h));
  EXPECT_FALSE(verify_password("correct horsf", h));
  EXPECT_FALSE(verify_password("correct horse", "not a hash"));
  EXPECT_NE(hash_password("correct horse"), h);  // salted
}

class AccountsTest : public ::testing::Test {
 protected:
  std::map<std::string, std::string> users{{"alice", hash_password("secret")}};
  int lookups = 0;
  Accounts make(ThrottleConfig t = {}) {
    return Accounts(
        [this](const std::string& u) -> std::optional<std::string> {
          ++lookups;
          auto it = users.find(u);
          if (it == users.end()) return std::nullopt;
          return it->second;
        },
        t);
  }
};

TEST_F(AccountsTest, OkBadAndUnknown) {
  auto acc = make();
  EXPECT_EQ(acc.authenticate("alice", "secret", "192.0.2.1"), AuthResult::ok);
  EXPECT_EQ(acc.authenticate("alice", "secret", "192.0.2.1"), AuthResult::ok);  // cached path
  EXPECT_EQ(acc.authenticate("alice", "wrong", "192.0.2.1"), AuthResult::bad);
  EXPECT_EQ(acc.authenticate("bob", "secret", "192.0.2.1"), AuthResult::bad);
  EXPECT_EQ(acc.authenticate("alice", "", "192.0.2.1"), AuthResult::bad);
}

TEST_F(AccountsTest, PasswordChangeAndDeletionTakeEffectDespiteTheCache) {
  auto acc = make();
  ASSERT_EQ(acc.authenticate("alice", "secret", "c"), AuthResult::ok);
  users["alice"] = hash_password("new");
  EXPECT_EQ(acc.authenticate("alice", "secret", "c"), AuthResult::bad);
  EXPECT_EQ(acc.authenticate("alice", "new", "c"), AuthResult::ok);
  users.erase("alice");
  EXPECT_EQ(acc.authenticate("alice", "new", "c"), AuthResult::bad);
}

TEST_F(AccountsTest, FailuresFromOneAddressAreThrottledOthersAreNot) {
  users["bob"] = hash_password("pw");
  auto acc = make({.max_failures = 3,
                   .max_address_failures = 5,
                   .max_prefix_failures = 100,
                   .max_user_failures = 100});
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(acc.authenticate("alice", "x", "198.51.100.1"), AuthResult::bad);
  }
  // Blocked now, even with the right password; other users there and other addresses are not.
  EXPECT_EQ(acc.authenticate("alice", "secret", "198.51.100.1"), AuthResult::throttled);
  EXPECT_EQ(acc.authenticate("alice", "secret", "198.51.100.2"), AuthResult::ok);
  EXPECT_EQ(acc.authenticate("bob", "pw", "198.51.100.1"), AuthResult::ok);
  // Guessing across users from one address blocks the address whole.
  EXPECT_EQ(acc.authenticate("u1", "x", "198.51.100.1"), AuthResult::bad);
  EXPECT_EQ(acc.authenticate("u2", "x", "198.51.100.1"), AuthResult::bad);
  EXPECT_EQ(acc.authenticate("bob", "pw", "198.51.100.1"), AuthResult::throttled);
}

TEST(AddressPrefix, Ipv4Slash24Ipv6Slash56) {
  EXPECT_EQ(address_prefix("192.0.2.77"), "192.0.2.0/24");
  EXPECT_EQ(address_prefix("::ffff:192.0.2.77"), "192.0.2.0/24");
  EXPECT_EQ(address_prefix("2001:db8:0:1ab::1"), "2001:db8:0:100::/56");
  EXPECT_EQ(address_prefix("2001:db8:0:1ff:ffff::9"), "2001:db8:0:100::/56");
  EXPECT_EQ(address_prefix("2001:db8:0:200::1"), "2001:db8:0:200::/56");
  EXPECT_EQ(address_prefix("not an address"), "not an address");
}

// The defaults: 45 guesses from 5 addresses of one /24 within a second (9 from
// each, under the per-address limits, at different users) are stopped by the
// prefix count; the /24 next door and the clients that logged in before are not.
TEST_F(AccountsTest, GuessesSpreadOverOneSlash24AreThrottled) {
  auto acc = make();
  ASSERT_EQ(acc.authenticate("alice", "secret", "203.0.113.9"), AuthResult::ok);
  int throttled_at = -1;
  for (int i = 0; i < 45 && throttled_at < 0; ++i) {
    const std::string from = "203.0.113." + std::to_string(1 + i % 5);
    if (acc.authenticate("user" + std::to_string(i), "guess", from) == AuthResult::throttled) {
      throttled_at = i;
    }
  }
  EXPECT_EQ(throttled_at, ThrottleConfig{}.max_prefix_failures);
  EXPECT_EQ(acc.authenticate("alice", "secret", "203.0.113.200"), AuthResult::throttled);
  EXPECT_EQ(acc.authenticate("alice", "secret", "203.0.114.1"), AuthResult::ok);
  EXPECT_EQ(acc.authenticate("alice", "secret", "203.0.113.9"), AuthResult::ok);  // known client
}

TEST_F(AccountsTest, GuessesSpreadOverOneSlash56AreThrottled) {
  auto acc = make({.max_failures = 100,
                   .max_address_failures = 100,
                   .max_prefix_failures = 3,
                   .max_user_failures = 100});
  for (const char* from : {"2001:db8:0:101::1", "2001:db8:0:1fe::2", "2001:db8:0:180::3"}) {
    EXPECT_EQ(acc.authenticate("alice", "x", from), AuthResult::bad) << from;
  }
  EXPECT_EQ(acc.authenticate("alice", "secret", "2001:db8:0:1ff::9"), AuthResult::throttled);
  EXPECT_EQ(acc.authenticate("alice", "secret", "2001:db8:0:200::9"), AuthResult::ok);
}

// Guesses at one user from many networks block that user, but for a bounded
// time, and never for the clients that logged in as that user before.
TEST_F(AccountsTest, GuessesAtOneUserAreThrottledForABoundedTime) {
  users["bob"] = hash_password("pw");
  auto acc = make({.max_failures = 100,
                   .max_address_failures = 100,
                   .max_prefix_failures = 100,
                   .max_user_failures = 3,
                   .window = std::chrono::seconds(60),
                   .block = std::chrono::seconds(1)});
  ASSERT_EQ(acc.authenticate("alice", "secret", "192.0.2.1"), AuthResult::ok);
  for (const char* from : {"198.51.100.1", "203.0.113.1", "100.64.0.1"}) {
    EXPECT_EQ(acc.authenticate("alice", "x", from), AuthResult::bad) << from;
  }
  EXPECT_EQ(acc.authenticate("alice", "secret", "198.18.0.1"), AuthResult::throttled);
  EXPECT_EQ(acc.authenticate("alice", "secret", "192.0.2.1"), AuthResult::ok);  // her own client
  EXPECT_EQ(acc.authenticate("bob", "pw", "198.18.0.1"), AuthResult::ok);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(acc.authenticate("alice", "secret", "198.18.0.1"), AuthResult::ok);
}

}  // namespace
}  // namespace pweb::registrar
