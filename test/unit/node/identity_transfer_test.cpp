// The identity bundle with real keys: OpenDHT identities written as the node
// writes them (identity.pem/.crt), a real federation CA for label certificates.
#include "pweb/node/identity_transfer.hpp"

#include <gtest/gtest.h>
#include <opendht/crypto.h>

#include <algorithm>
#include <fstream>
#include <iterator>

#include "../temp_dir.hpp"
#include "pweb/dht/label_cert.hpp"

namespace pweb::node {
namespace {

namespace fs = std::filesystem;

std::string text_of(const ::dht::Blob& b) { return std::string(b.begin(), b.end()); }

IdentityFiles make_identity(const std::string& name) {
  const auto id = ::dht::crypto::generateIdentity(name, {}, 1024);
  IdentityFiles f;
  f.key = text_of(id.first->serialize());
  f.cert = text_of(id.second->getPacked());
  return f;
}

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write(const fs::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

class IdentityTransfer : public ::testing::Test {
 protected:
  IdentityTransfer() {
    dht::make_ca(ca_, "test federation", 30);
    full_ = a_;
    full_.label_cert = label_cert(a_);
    full_.token_key = std::string(32, '\x5a');
    full_.token_key->at(0) = '\0';  // raw bytes, NUL included
  }
  std::string label_cert(const IdentityFiles& f) {
    const auto spki = dht::certificate_spki(dht::certificate_der(f.cert));
    return dht::issue_label_cert(ca_, "uw", spki, 30, std::time(nullptr));
  }
  std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

  testutil::TempDir dir_;
  fs::path ca_ = dir_.path() / "ca";
  fs::path d1_ = dir_.path() / "d1";
  fs::path d2_ = dir_.path() / "d2";
  IdentityFiles a_ = make_identity("a");
  IdentityFiles b_ = make_identity("b");
  IdentityFiles full_;
};

TEST_F(IdentityTransfer, BundleRoundTrips) {
  for (const IdentityFiles& f : {a_, full_}) {
    const auto text = format_bundle(f);
    const auto parsed = parse_bundle(text);
    ASSERT_TRUE(parsed.files) << parsed.error << "\n" << text;
    EXPECT_EQ(*parsed.files, f);
  }
  const auto text = format_bundle(full_);
  EXPECT_NE(text.find("-----BEGIN PWEB TOKEN KEY-----"), std::string::npos);
  EXPECT_NE(text.find(a_.key), std::string::npos);  // the files as they are
  EXPECT_NE(text.find(a_.cert), std::string::npos);
  EXPECT_NE(text.find(*full_.label_cert), std::string::npos);
  // A bundle that went through an editor saving CRLF still reads the same.
  std::string crlf;
  for (char c : text) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  const auto parsed = parse_bundle(crlf);
  ASSERT_TRUE(parsed.files) << parsed.error;
  EXPECT_EQ(*parsed.files, full_);
}

TEST_F(IdentityTransfer, EveryTruncationIsRefused) {
  const auto text = format_bundle(full_);
  // Only the last newline may go: every shorter prefix lacks the end line or more.
  for (std::size_t n = 0; n + 1 < text.size(); ++n) {
    EXPECT_FALSE(parse_bundle(std::string_view(text).substr(0, n)).files) << n;
  }
  EXPECT_TRUE(parse_bundle(std::string_view(text).substr(0, text.size() - 1)).files);
  EXPECT_NE(parse_bundle(text.substr(0, text.size() / 2)).error.find("truncated"),
            std::string::npos);
}

TEST_F(IdentityTransfer, MalformedBundlesAreRefused) {
  const auto good = format_bundle(full_);
  auto replaced = [&](const std::string& from, const std::string& to) {
    auto t = good;
    const auto at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "empty"},
      {"hello\n", "not a pweb identity bundle"},
      {replaced("pweb-identity-bundle 1", "pweb-identity-bundle 2"), "not a pweb identity"},
      {replaced("file identity.crt", "file identity.pins"), "unknown"},
      {replaced("file token.key", "file identity.crt"), "twice"},
      {replaced("file identity.crt\n", "file identity.crt\nxx\n"), "BEGIN"},
      {replaced("-----END CERTIFICATE-----", "-----END PRIVATE KEY-----"), "closes"},
      {replaced("-----BEGIN PWEB TOKEN KEY-----\n", "-----BEGIN PWEB TOKEN KEY-----\nAAAA"),
       "32 bytes"},
      {good + "file identity.pem\n", "after the end"},
      {replaced("file identity.pem\n" + a_.key, ""), "no identity.pem"},
      {replaced("file identity.crt\n" + a_.cert, ""), "no identity.crt"},
      {replaced("file identity.crt\n" + a_.cert, "file identity.crt\n" + a_.key),
       "not a CERTIFICATE"},
  };
  for (const auto& [text, why] : cases) {
    const auto r = parse_bundle(text);
    EXPECT_FALSE(r.files) << why;
    EXPECT_NE(r.error.find(why), std::string::npos) << r.error << " / expected: " << why;
  }
}

TEST_F(IdentityTransfer, KeyMustBeTheCertificates) {
  EXPECT_EQ(identity_problem(a_), std::nullopt);
  EXPECT_EQ(identity_problem(full_), std::nullopt);
  auto mixed = a_;
  mixed.cert = b_.cert;
  ASSERT_TRUE(identity_problem(mixed));
  EXPECT_NE(identity_problem(mixed)->find("not the certificate's key"), std::string::npos);
  auto foreign_label = a_;
  foreign_label.label_cert = label_cert(b_);
  ASSERT_TRUE(identity_problem(foreign_label));
  EXPECT_NE(identity_problem(foreign_label)->find("another key"), std::string::npos);
  auto damaged = a_;
  damaged.key.resize(damaged.key.size() / 2);
  EXPECT_TRUE(identity_problem(damaged));
  auto short_token = a_;
  short_token.token_key = "abc";
  EXPECT_TRUE(identity_problem(short_token));
  // A well-formed bundle of a mismatched pair parses: the crypto check is separate.
  EXPECT_TRUE(parse_bundle(format_bundle(mixed)).files);
}

TEST_F(IdentityTransfer, WritesFilesPrivatelyAndReadsThemBack) {
  const auto r = write_identity(d2_, full_, false);
  ASSERT_EQ(r.error, "");
  EXPECT_FALSE(r.unchanged);
  EXPECT_EQ(listing(d2_), (std::vector<std::string>{"identity.crt", "identity.label.crt",
                                                    "identity.pem", "token.key"}));
  for (const auto& name : listing(d2_)) {
    EXPECT_EQ(fs::status(d2_ / name).permissions() & fs::perms::all,
              fs::perms::owner_read | fs::perms::owner_write)
        << name;
  }
  EXPECT_EQ(read(d2_ / "identity.pem"), a_.key);
  EXPECT_EQ(read(d2_ / "identity.crt"), a_.cert);
  EXPECT_EQ(read(d2_ / "token.key"), *full_.token_key);
  const auto back = read_identity(d2_);
  ASSERT_TRUE(back.files) << back.error;
  EXPECT_EQ(*back.files, full_);
  // The same again: nothing to do.
  const auto again = write_identity(d2_, full_, false);
  EXPECT_EQ(again.error, "");
  EXPECT_TRUE(again.unchanged);
}

TEST_F(IdentityTransfer, RefusesAnotherIdentityUnlessForced) {
  ASSERT_EQ(write_identity(d2_, full_, false).error, "");
  auto other = b_;
  other.token_key = std::string(32, 'b');
  const auto refused = write_identity(d2_, other, false);
  EXPECT_NE(refused.error.find("another identity"), std::string::npos) << refused.error;
  EXPECT_NE(refused.error.find("--force"), std::string::npos);
  const auto kept = read_identity(d2_);
  ASSERT_TRUE(kept.files);
  EXPECT_EQ(*kept.files, full_);  // nothing written
  EXPECT_EQ(listing(d2_).size(), 4u);

  // Only the token key differs: refused as well (it unseals the stored tokens).
  auto other_token = full_;
  other_token.token_key = std::string(32, 'c');
  EXPECT_NE(write_identity(d2_, other_token, false).error, "");

  const auto forced = write_identity(d2_, other, true);
  ASSERT_EQ(forced.error, "");
  const auto now = read_identity(d2_);
  ASSERT_TRUE(now.files) << now.error;
  EXPECT_EQ(*now.files, other);  // the old label certificate went with the old key
  EXPECT_FALSE(fs::exists(d2_ / "identity.label.crt"));
  ASSERT_EQ(forced.notes.size(), 1u);
  EXPECT_NE(forced.notes[0].find("identity.label.crt"), std::string::npos);
}

TEST_F(IdentityTransfer, AddsToAPartOfTheSameIdentity) {
  // A node that already made its token key, or got the label certificate later.
  ASSERT_EQ(write_identity(d2_, a_, false).error, "");
  const auto r = write_identity(d2_, full_, false);
  EXPECT_EQ(r.error, "");
  EXPECT_FALSE(r.unchanged);
  EXPECT_EQ(*read_identity(d2_).files, full_);
  // A bundle without a token key leaves the one there alone.
  const auto kept = write_identity(d2_, a_, false);
  EXPECT_EQ(kept.error, "");
  EXPECT_EQ(read(d2_ / "token.key"), *full_.token_key);
}

TEST_F(IdentityTransfer, ReadRefusesWhatCannotBeCarried) {
  fs::create_directories(d1_);
  auto none = read_identity(d1_);
  EXPECT_FALSE(none.files);
  EXPECT_NE(none.error.find("no DHT identity"), std::string::npos) << none.error;

  write(d1_ / "identity.pem", a_.key);
  none = read_identity(d1_);
  EXPECT_NE(none.error.find("identity.crt is missing"), std::string::npos) << none.error;

  write(d1_ / "identity.crt", a_.cert);
  const auto plain = read_identity(d1_);
  ASSERT_TRUE(plain.files) << plain.error;
  EXPECT_FALSE(plain.files->token_key);  // absent: the caller says so

  write(d1_ / "identity.crt", a_.cert + "# a comment after the certificate\n");
  EXPECT_NE(read_identity(d1_).error.find("not exactly one PEM block"), std::string::npos);

  write(d1_ / "identity.crt", b_.cert);
  EXPECT_NE(read_identity(d1_).error.find("unusable"), std::string::npos);

  write(d1_ / "identity.crt", a_.cert);
  write(d1_ / "token.key", "short");
  EXPECT_NE(read_identity(d1_).error.find("token.key"), std::string::npos);
}

}  // namespace
}  // namespace pweb::node
