#include "pweb/node/dnssec_admin.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "pweb/node/dnssec_keyfile.hpp"
#include "temp_dir.hpp"

namespace pweb::node {
namespace {

// Runs `pweb-node dnssec ...`; returns the exit code and what went to stdout.
int run(std::vector<std::string> args, std::string& out) {
  CLI::App app;
  int code = -1;
  add_dnssec_commands(app, code);
  args.insert(args.begin(), "pweb-node");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  std::ostringstream err;
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    code = 100 + e.get_exit_code();
  }
  std::cout.rdbuf(old);
  std::cerr.rdbuf(old_err);
  out = captured.str();
  return code;
}

TEST(DnssecAdmin, DsOfEachSuffixFromTheSharedKey) {
  testutil::TempDir dir;
  const auto key_file = (dir.path() / "zone.key").string();
  std::string out;
  ASSERT_EQ(run({"dnssec", "keygen", "--out", key_file}, out), 0);
  EXPECT_NE(run({"dnssec", "keygen", "--out", key_file}, out), 0);  // never overwrites
  ASSERT_EQ(run({"dnssec", "ds", "--dnssec-key", key_file, "--suffix", "dyn.example.org",
                 "--suffix", "Other.Example."},
                out),
            0);
  const auto key = load_dnssec_key(dir.path(), key_file, false);
  EXPECT_EQ(out, key->ds_text("dyn.example.org.") + "\n" + key->ds_text("other.example.") + "\n");
  EXPECT_NE(out.find(" IN DS " + std::to_string(key->key_tag()) + " 13 2 "), std::string::npos);
}

TEST(DnssecAdmin, DsOfTheDataDirKeyIsTheNodesKey) {
  testutil::TempDir dir;
  std::string out;
  ASSERT_EQ(run({"dnssec", "ds", "--data-dir", dir.path().string()}, out), 0);
  const auto key = load_dnssec_key(dir.path(), "", false);  // made by `ds`, used by the node
  EXPECT_EQ(out, key->ds_text("dht.") + "\n");
}

}  // namespace
}  // namespace pweb::node
