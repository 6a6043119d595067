#include "pweb/registrar/tokens.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <set>

#include "pweb/registrar/service.hpp"
#include "temp_dir.hpp"

namespace pweb::registrar {
namespace {

TEST(TokenScope, ParseAndPrint) {
  for (const auto s : {TokenScope::update, TokenScope::acme, TokenScope::records}) {
    EXPECT_EQ(parse_scope(scope_name(s)), s);
  }
  for (const char* bad : {"", "Update", "UPDATE", "admin", "update "}) {
    EXPECT_FALSE(parse_scope(bad)) << bad;
  }
  EXPECT_FALSE(parse_scope(std::string_view("records\0", 8)));
}

TEST(TokenScope, RulesTable) {
  struct Case {
    TokenScope scope;
    const char* subname;
    std::uint16_t type;
    bool allowed;
  };
  const Case cases[] = {
      {TokenScope::update, "@", 1, true},
      {TokenScope::update, "@", 28, true},
      {TokenScope::update, "@", 16, false},
      {TokenScope::update, "www", 1, false},
      {TokenScope::update, "_acme-challenge", 16, false},
      {TokenScope::acme, "_acme-challenge", 16, true},
      {TokenScope::acme, "_acme-challenge", 1, false},
      {TokenScope::acme, "@", 16, false},
      {TokenScope::acme, "@", 1, false},
      {TokenScope::acme, "x._acme-challenge", 16, false},
      {TokenScope::acme, "_ACME-challenge", 16, false},
      {TokenScope::records, "@", 1, true},
      {TokenScope::records, "www", 5, true},
      {TokenScope::records, "_acme-challenge", 16, true},
      {TokenScope::records, "*", 33, true},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(scope_allows(c.scope, c.subname, c.type), c.allowed)
        << scope_name(c.scope) << " " << c.subname << " " << c.type;
  }
}

TEST(Subnet, ParseTable) {
  struct Case {
    const char* text;
    const char* printed;  // nullptr: refused
  };
  const Case cases[] = {
      {"192.0.2.0/24", "192.0.2.0/24"},
      {"192.0.2.7/32", "192.0.2.7/32"},
      {"0.0.0.0/0", "0.0.0.0/0"},
      {"10.128.0.0/9", "10.128.0.0/9"},
      {"2001:db8::/32", "2001:db8::/32"},
      {"2001:DB8:0:100::/56", "2001:db8:0:100::/56"},
      {"::/0", "::/0"},
      {"2001:db8::1/128", "2001:db8::1/128"},
      {"::ffff:192.0.2.0/24", nullptr},  // IPv4 is written as IPv4
      {"::ffff:192.0.2.0/120", nullptr},
      {"192.0.2.7/24", nullptr},  // host bits set
      {"10.192.0.0/9", nullptr},
      {"2001:db8::1/64", nullptr},
      {"192.0.2.0/33", nullptr},
      {"2001:db8::/129", nullptr},
      {"192.0.2.0/-1", nullptr},
      {"192.0.2.0/024", nullptr},
      {"192.0.2.0/", nullptr},
      {"192.0.2.0", nullptr},
      {"/24", nullptr},
      {"192.0.2/24", nullptr},
      {"example.org/24", nullptr},
      {"192.0.2.0/24 ", nullptr},
      {"192.0.2.0/2x", nullptr},
      {"", nullptr},
  };
  for (const auto& c : cases) {
    const auto r = parse_subnet(c.text);
    if (c.printed) {
      ASSERT_TRUE(r.subnet) << c.text << ": " << r.error;
      EXPECT_EQ(r.subnet->text(), c.printed);
    } else {
      EXPECT_FALSE(r.subnet) << c.text;
      EXPECT_FALSE(r.error.empty());
    }
  }
  EXPECT_NE(parse_subnet("192.0.2.7/24").error.find("192.0.2.0/24"), std::string::npos);
}

TEST(Subnet, ContainsTable) {
  struct Case {
    const char* subnet;
    const char* address;
    bool inside;
  };
  const Case cases[] = {
      {"192.0.2.0/24", "192.0.2.0", true},
      {"192.0.2.0/24", "192.0.2.255", true},
      {"192.0.2.0/24", "192.0.3.0", false},
      {"192.0.2.0/24", "::ffff:192.0.2.9", true},
      {"192.0.2.0/24", "2001:db8::1", false},
      {"10.128.0.0/9", "10.255.1.1", true},
      {"10.128.0.0/9", "10.127.1.1", false},
      {"0.0.0.0/0", "203.0.113.1", true},
      {"0.0.0.0/0", "2001:db8::1", false},  // families never mix
      {"2001:db8::/32", "2001:db8:ffff::1", true},
      {"2001:db8::/32", "2001:db9::1", false},
      {"2001:db8::/32", "192.0.2.1", false},
      {"::/0", "::1", true},
      {"2001:db8::1/128", "2001:db8::1", true},
      {"2001:db8::1/128", "2001:db8::2", false},
      {"127.0.0.1/32", "127.0.0.1", true},
      {"127.0.0.1/32", "not an address", false},
      {"127.0.0.1/32", "", false},
  };
  for (const auto& c : cases) {
    const auto s = parse_subnet(c.subnet).subnet;
    ASSERT_TRUE(s) << c.subnet;
    EXPECT_EQ(s->contains(c.address), c.inside) << c.subnet << " " << c.address;
  }
}

TEST(TokenRefusal, ExpiryAndSubnets) {
  TokenInfo t;
  t.id = "t0123456789abcdef";
  t.device = "laptop.alice.uw";
  EXPECT_FALSE(token_refusal(t, "192.0.2.1", 1000));
  t.expires = 1000;
  EXPECT_FALSE(token_refusal(t, "192.0.2.1", 999));
  EXPECT_EQ(token_refusal(t, "192.0.2.1", 1000), "token expired");
  EXPECT_EQ(token_refusal(t, "192.0.2.1", 5000), "token expired");
  t.expires = 0;
  t.allowed_subnets = {*parse_subnet("192.0.2.0/24").subnet, *parse_subnet("2001:db8::/32").subnet};
  EXPECT_FALSE(token_refusal(t, "192.0.2.1", 1));
  EXPECT_FALSE(token_refusal(t, "2001:db8::5", 1));
  EXPECT_TRUE(token_refusal(t, "198.51.100.1", 1));
  EXPECT_TRUE(token_refusal(t, "2001:db9::5", 1));
}

TEST(Tokens, IdsAndSecretsHaveTheirForm) {
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    const auto id = new_token_id();
    ASSERT_EQ(id.size(), 17u);
    EXPECT_EQ(id[0], 't');
    EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 1), std::string::npos) << id;
    ids.insert(id);
    const auto secret = new_token_secret();
    ASSERT_EQ(secret.size(), kTokenSecretBytes);
    const auto text = encode_token(secret);
    EXPECT_EQ(text.size(), 44u);
    EXPECT_EQ(text.find('='), std::string::npos);
    EXPECT_EQ(decode_token(text), secret);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST(Tokens, DecodeRefusesAnythingButTheExactForm) {
  const auto text = encode_token(new_token_secret());
  EXPECT_TRUE(decode_token(text));
  for (const std::string& bad :
       {std::string(), text.substr(0, 43), text + "A", text.substr(0, 43) + "=",
        text.substr(0, 43) + "!", std::string(44, '\0'), std::string("hunter2")}) {
    EXPECT_FALSE(decode_token(bad)) << bad;
  }
  std::string url = text;  // the URL-safe alphabet is another variant: refused
  url[0] = '-';
  EXPECT_FALSE(decode_token(url));
}

TEST(Tokens, HashIsKeyedAndComparedWhole) {
  TokenSalt salt1{}, salt2{};
  salt2[0] = 1;
  const auto secret = new_token_secret();
  const auto h = hash_token(salt1, secret);
  EXPECT_TRUE(tokens_equal(h, hash_token(salt1, secret)));
  EXPECT_FALSE(tokens_equal(h, hash_token(salt2, secret)));
  std::string other = secret;
  other.back() = static_cast<char>(other.back() ^ 1);
  EXPECT_FALSE(tokens_equal(h, hash_token(salt1, other)));
  auto flipped = h;
  flipped[31] ^= 1;
  EXPECT_FALSE(tokens_equal(h, flipped));
}

TEST(Tokens, SealRoundTripNeedsTheKey) {
  NodeKey key{}, other{};
  key[5] = 7;
  other[5] = 8;
  const auto secret = new_token_secret();
  const auto sealed = seal_token(key, secret);
  EXPECT_EQ(sealed.find(secret), std::string::npos);
  EXPECT_NE(seal_token(key, secret), sealed);  // a fresh nonce each time
  EXPECT_EQ(unseal_token(key, sealed), secret);
  EXPECT_FALSE(unseal_token(other, sealed));
  for (std::size_t i = 0; i < sealed.size(); i += 7) {
    auto damaged = sealed;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x40);
    EXPECT_FALSE(unseal_token(key, damaged)) << i;
  }
  EXPECT_FALSE(unseal_token(key, sealed.substr(0, 39)));
  EXPECT_FALSE(unseal_token(key, ""));
}

TEST(NodeKeyFile, MadePrivateOnceAndReadBack) {
  testutil::TempDir dir;
  const auto absent = load_node_key(dir.path(), false);
  EXPECT_FALSE(absent.key);
  EXPECT_TRUE(absent.error.empty());
  const auto made = load_node_key(dir.path(), true);
  ASSERT_TRUE(made.key) << made.error;
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "token.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  EXPECT_EQ(load_node_key(dir.path(), true).key, made.key);  // not made again
  EXPECT_EQ(load_node_key(dir.path(), false).key, made.key);
  { std::ofstream(dir.path() / "token.key", std::ios::trunc) << "short"; }
  const auto bad = load_node_key(dir.path(), true);
  EXPECT_FALSE(bad.key);
  EXPECT_NE(bad.error.find("token.key"), std::string::npos);
}

TEST(TokenTable, FindsByIdAndDevice) {
  std::vector<TokenKey> keys;
  for (int i = 0; i < 5; ++i) {
    TokenKey k;
    k.info.id = "t000000000000000" + std::to_string(i);
    k.info.device = i < 3 ? "laptop.alice.uw" : "phone.alice.uw";
    k.secret = "s" + std::to_string(i);
    keys.push_back(k);
  }
  const auto table = TokenTable::build(keys);
  EXPECT_EQ(table->size(), 5u);
  ASSERT_TRUE(table->find("t0000000000000003"));
  EXPECT_EQ(table->find("t0000000000000003")->secret, "s3");
  EXPECT_FALSE(table->find("t0000000000000009"));
  EXPECT_FALSE(table->find(""));
  const auto laptop = table->of_device("laptop.alice.uw");
  ASSERT_EQ(laptop.size(), 3u);
  EXPECT_EQ(laptop[0]->info.id, "t0000000000000000");
  EXPECT_TRUE(table->of_device("tv.alice.uw").empty());

  TokenHolder holder;
  EXPECT_EQ(holder.current()->size(), 0u);
  const auto before = holder.current();
  holder.publish(table);
  EXPECT_EQ(holder.current()->size(), 5u);
  EXPECT_EQ(before->size(), 0u);  // a reader's table never changes under it
}

// The service: creation, limits, revocation, authentication and the table.
class TokenService : public ::testing::Test {
 protected:
  TokenService()
      : holder_(Snapshot::build({}, 1)),
        svc_("uw", StoreLocation::sqlite(dir_.path()), holder_, {}) {
    DeviceChange c;
    c.name = "laptop.alice.uw";
    c.ipv4 = FieldChange<Ipv4>::set(Ipv4{192, 0, 2, 1});
    DeviceChange d = c;
    d.name = "phone.alice.uw";
    svc_.apply({c, d});
  }
  testutil::TempDir dir_;
  SnapshotHolder holder_;
  RegistrationService svc_;
};

TEST_F(TokenService, CreateAuthenticateRevoke) {
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "token.key"));  // made on first use
  const auto made = svc_.create_token("laptop.alice.uw", {TokenScope::update, {}, 0});
  ASSERT_EQ(made.status, TokenStatus::created) << made.error;
  EXPECT_TRUE(std::filesystem::exists(dir_.path() / "token.key"));
  EXPECT_EQ(made.token.size(), 44u);
  const auto ok = svc_.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9");
  EXPECT_EQ(ok.result, AuthResult::ok);
  EXPECT_EQ(ok.info, made.info);
  // The token is the laptop's, not the phone's.
  EXPECT_EQ(svc_.authenticate_token("phone.alice.uw", made.token, "192.0.2.9").result,
            AuthResult::bad);
  EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", made.token.substr(0, 43) + "A", "192.0.2.9")
                .result,
            AuthResult::bad);
  // The raw bytes are not the token: only its base64 text is.
  EXPECT_EQ(
      svc_.authenticate_token("laptop.alice.uw", *decode_token(made.token), "192.0.2.9").result,
      AuthResult::bad);
  // The DNS side finds the secret by id.
  const auto* key = svc_.tokens().current()->find(made.info.id);
  ASSERT_TRUE(key);
  EXPECT_EQ(encode_token(key->secret), made.token);
  const auto listed = svc_.list_tokens("laptop.alice.uw");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0], made.info);
  EXPECT_TRUE(svc_.list_tokens("phone.alice.uw").empty());

  EXPECT_EQ(svc_.revoke_token("phone.alice.uw", made.info.id), RevokeStatus::not_found);
  EXPECT_EQ(svc_.revoke_token("laptop.alice.uw", made.info.id), RevokeStatus::revoked);
  EXPECT_EQ(svc_.revoke_token("laptop.alice.uw", made.info.id), RevokeStatus::not_found);
  EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9").result,
            AuthResult::bad);
  EXPECT_FALSE(svc_.tokens().current()->find(made.info.id));
}

TEST_F(TokenService, ExpiryAndSubnetsRefuseTheRightToken) {
  const auto made = svc_.create_token(
      "laptop.alice.uw", {TokenScope::update, {*parse_subnet("192.0.2.0/24").subnet}, 2000});
  ASSERT_EQ(made.status, TokenStatus::created);
  EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9", 1999).result,
            AuthResult::ok);
  auto late = svc_.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9", 2000);
  EXPECT_EQ(late.result, AuthResult::bad);
  EXPECT_EQ(late.refusal, "token expired");
  auto far = svc_.authenticate_token("laptop.alice.uw", made.token, "198.51.100.1", 1999);
  EXPECT_EQ(far.result, AuthResult::bad);
  EXPECT_FALSE(far.refusal.empty());
}

TEST_F(TokenService, FailuresAreThrottledAsPasswordsAre) {
  const auto made = svc_.create_token("laptop.alice.uw", {TokenScope::update, {}, 0});
  const auto wrong = encode_token(new_token_secret());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", wrong, "203.0.113.5").result,
              AuthResult::bad);
  }
  // Blocked from that address, even with the right token now.
  EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", made.token, "203.0.113.5").result,
            AuthResult::throttled);
  EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", made.token, "198.51.100.7").result,
            AuthResult::ok);
  const auto counts = svc_.token_auth_counts();
  EXPECT_EQ(counts[1], 10u);  // bad
  EXPECT_EQ(counts[4], 1u);   // throttled
}

TEST_F(TokenService, LimitsAndUnknownDevices) {
  EXPECT_EQ(svc_.create_token("tv.alice.uw", {}).status, TokenStatus::no_device);
  for (std::size_t i = 0; i < kMaxTokensPerDevice; ++i) {
    ASSERT_EQ(svc_.create_token("laptop.alice.uw", {}).status, TokenStatus::created) << i;
  }
  EXPECT_EQ(svc_.create_token("laptop.alice.uw", {}).status, TokenStatus::limit);
  EXPECT_EQ(svc_.create_token("phone.alice.uw", {}).status, TokenStatus::created);
  EXPECT_EQ(svc_.tokens().current()->size(), kMaxTokensPerDevice + 1);
  std::set<std::string> ids;
  for (const auto& t : svc_.list_tokens("laptop.alice.uw")) ids.insert(t.id);
  EXPECT_EQ(ids.size(), kMaxTokensPerDevice);
}

TEST_F(TokenService, RemovingTheDeviceRemovesItsTokens) {
  const auto made = svc_.create_token("laptop.alice.uw", {});
  const auto phone = svc_.create_token("phone.alice.uw", {});
  DeviceChange gone;
  gone.name = "laptop.alice.uw";
  gone.remove = true;
  ASSERT_EQ(svc_.apply({gone}).at(0).status, ChangeStatus::removed);
  EXPECT_FALSE(svc_.tokens().current()->find(made.info.id));
  EXPECT_TRUE(svc_.tokens().current()->find(phone.info.id));
  EXPECT_EQ(svc_.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9").result,
            AuthResult::bad);
  // Registered again, the device does not get its old tokens back.
  DeviceChange back;
  back.name = "laptop.alice.uw";
  svc_.apply({back});
  EXPECT_TRUE(svc_.list_tokens("laptop.alice.uw").empty());
}

TEST_F(TokenService, NicUpdateChangesOnlyTheTokensDeviceInItsScope) {
  const auto upd = svc_.create_token("laptop.alice.uw", {TokenScope::update, {}, 0});
  const auto acme = svc_.create_token("laptop.alice.uw", {TokenScope::acme, {}, 0});
  NicUpdateRequest r;
  r.hostname = "laptop.alice.uw,phone.alice.uw,x.bob.uw";
  r.myip = "198.51.100.4";
  EXPECT_EQ(svc_.nic_update_token(upd.info, r).body, "good 198.51.100.4\nnohost\nnohost\n");
  EXPECT_EQ(svc_.get("phone.alice.uw")->ipv4, (Ipv4{192, 0, 2, 1}));
  r.myip = "198.51.100.5";
  EXPECT_EQ(svc_.nic_update_token(acme.info, r).body, "badauth\n");
  EXPECT_EQ(svc_.get("laptop.alice.uw")->ipv4, (Ipv4{198, 51, 100, 4}));
}

TEST_F(TokenService, TokensSurviveARestartWithTheirSecrets) {
  const auto made = svc_.create_token("laptop.alice.uw", {TokenScope::records, {}, 0});
  SnapshotHolder holder2(Snapshot::build({}, 1));
  RegistrationService again("uw", StoreLocation::sqlite(dir_.path()), holder2, {});
  const auto* key = again.tokens().current()->find(made.info.id);
  ASSERT_TRUE(key);
  EXPECT_EQ(encode_token(key->secret), made.token);
  EXPECT_EQ(again.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9").result,
            AuthResult::ok);
}

TEST_F(TokenService, WithoutTheKeyFileTokensStillWorkAsPasswordsButNotAsTsigKeys) {
  const auto made = svc_.create_token("laptop.alice.uw", {});
  std::filesystem::remove(dir_.path() / "token.key");
  SnapshotHolder holder2(Snapshot::build({}, 1));
  RegistrationService again("uw", StoreLocation::sqlite(dir_.path()), holder2, {});
  const auto* key = again.tokens().current()->find(made.info.id);
  ASSERT_TRUE(key);
  EXPECT_TRUE(key->secret.empty());
  EXPECT_EQ(again.authenticate_token("laptop.alice.uw", made.token, "192.0.2.9").result,
            AuthResult::ok);
}

}  // namespace
}  // namespace pweb::registrar
