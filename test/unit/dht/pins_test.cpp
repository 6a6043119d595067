#include "pweb/dht/pins.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "../temp_dir.hpp"

namespace pweb::dht {
namespace {

std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const std::string kA(40, 'a'), kB(40, 'b'), kC(40, 'c');

TEST(Pins, OldFilesReadAsAutomaticAndOperatorLinesWin) {
  testutil::TempDir dir;
  const auto path = dir.path() / "identity.pins";
  std::ofstream(path) << "uw " << kA << "\n"                  // automatic, as before
                      << "uw " << kB << "\n"                  // later automatic: ignored
                      << "mit " << kA << "\n"                 //
                      << "mit " << kC << " operator\n"        // the operator's wins
                      << "cmu " << kA << " whatever\n"        // unknown tag: skipped
                      << "eth " << kA << " operator extra\n"  // too many fields
                      << "torn 12";
  Pins pins(path);
  EXPECT_EQ(pins.size(), 2u);
  EXPECT_EQ(pins.find("uw"), (Pin{kA, PinKind::automatic}));
  EXPECT_EQ(pins.find("mit"), (Pin{kC, PinKind::operator_set}));
  EXPECT_EQ(pins.find("cmu"), std::nullopt);
  // An automatic pin never replaces the operator's.
  EXPECT_EQ(pins.pin("mit", kA), kC);
  EXPECT_EQ(pins.pin("eth", kB), kB);
  EXPECT_EQ(Pins(path).find("eth"), (Pin{kB, PinKind::automatic}));
}

TEST(Pins, OperatorAddAndDelRewriteTheFile) {
  testutil::TempDir dir;
  const auto path = dir.path() / "sub" / "identity.pins";
  Pins pins(path);
  pins.set_operator("uw", kA);
  EXPECT_EQ(read_text(path), "uw " + kA + " operator\n");
  EXPECT_EQ(pins.pin("mit", kB), kB);
  pins.set_operator("mit", kC);  // replaces the automatic pin
  EXPECT_EQ(read_text(path), "mit " + kC + " operator\nuw " + kA + " operator\n");
  EXPECT_TRUE(pins.remove("uw"));
  EXPECT_FALSE(pins.remove("uw"));
  EXPECT_EQ(read_text(path), "mit " + kC + " operator\n");
  EXPECT_EQ(Pins(path).find("mit"), (Pin{kC, PinKind::operator_set}));
  // Removing an automatic pin lets the next key be learnt.
  EXPECT_EQ(pins.pin("cmu", kA), kA);
  EXPECT_TRUE(pins.remove("cmu"));
  EXPECT_EQ(pins.pin("cmu", kB), kB);
}

TEST(Pins, ChangesByAnotherProcessAreReloadedOwnAppendsAreNot) {
  testutil::TempDir dir;
  const auto path = dir.path() / "identity.pins";
  Pins node(path);
  EXPECT_FALSE(node.reload_if_changed());
  EXPECT_EQ(node.pin("uw", kA), kA);
  EXPECT_FALSE(node.reload_if_changed());  // its own append
  {
    Pins admin(path);  // `pweb-node pin add` in another process
    admin.set_operator("uw", kB);
  }
  EXPECT_TRUE(node.reload_if_changed());
  EXPECT_EQ(node.find("uw"), (Pin{kB, PinKind::operator_set}));
  {
    Pins admin(path);
    admin.remove("uw");
  }
  EXPECT_TRUE(node.reload_if_changed());
  EXPECT_EQ(node.find("uw"), std::nullopt);
}

TEST(Pins, KeyIds) {
  EXPECT_TRUE(Pins::valid_key(kA));
  EXPECT_FALSE(Pins::valid_key(std::string(40, 'A')));
  EXPECT_FALSE(Pins::valid_key(std::string(39, 'a')));
  EXPECT_FALSE(Pins::valid_key(std::string(40, 'g')));
  EXPECT_STREQ(to_string(PinKind::operator_set), "operator");
  EXPECT_STREQ(to_string(PinKind::automatic), "automatic");
}

}  // namespace
}  // namespace pweb::dht
