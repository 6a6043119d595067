#include "pweb/registrar/accounts.hpp"

#include <gtest/gtest.h>

#include <map>

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
  auto acc = make({3, 5, std::chrono::seconds(60), std::chrono::seconds(60)});
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

}  // namespace
}  // namespace pweb::registrar
