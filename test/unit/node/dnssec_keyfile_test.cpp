#include "pweb/node/dnssec_keyfile.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "temp_dir.hpp"

namespace pweb::node {
namespace {

namespace fs = std::filesystem;

TEST(DnssecKeyFile, MadeOnceInTheDataDirMode0600AndNeverReplaced) {
  testutil::TempDir dir;
  const auto data = dir.path() / "data";
  const auto first = load_dnssec_key(data, "", true);
  ASSERT_TRUE(first);
  const auto file = data / kDnssecKeyFile;
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  const auto again = load_dnssec_key(data, "", true);
  EXPECT_TRUE(std::ranges::equal(first->dnskey_rdata(), again->dnskey_rdata()));
  EXPECT_FALSE(write_new_dnssec_key(file).empty());  // O_EXCL: never overwritten
  EXPECT_TRUE(
      std::ranges::equal(first->dnskey_rdata(), load_dnssec_key(data, "", false)->dnskey_rdata()));
}

TEST(DnssecKeyFile, SharedKeyMustExistAndIsNotMade) {
  testutil::TempDir dir;
  const auto missing = (dir.path() / "zone.key").string();
  try {
    load_dnssec_key(dir.path(), missing, true);
    FAIL() << "a missing --dnssec-key file was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--dnssec-key"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(missing));
  ASSERT_EQ(write_new_dnssec_key(missing), "");
  const auto key = load_dnssec_key(dir.path(), missing, false);
  ASSERT_TRUE(key);
  EXPECT_FALSE(fs::exists(dir.path() / kDnssecKeyFile));  // the data dir's key is not made
}

TEST(DnssecKeyFile, NotAKeyIsAStartupErrorNamingTheOption) {
  testutil::TempDir dir;
  const auto bad = dir.path() / "bad.key";
  std::ofstream(bad) << "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
  try {
    load_dnssec_key(dir.path(), bad.string(), false);
    FAIL() << "garbage accepted as a key";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--dnssec-key"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace pweb::node
