#include "pweb/node/config.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>

namespace pweb::node {
namespace {

TEST(ParseHostPort, Forms) {
  auto hp = parse_host_port("127.0.0.1:5353");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 5353);
  hp = parse_host_port("[::1]:53");
  ASSERT_TRUE(hp);
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 53);
  EXPECT_TRUE(parse_host_port("node-a:4222"));
  EXPECT_TRUE(parse_host_port("h:65535"));
  EXPECT_FALSE(parse_host_port("h:65536"));
  EXPECT_FALSE(parse_host_port("::1:53"));
  EXPECT_FALSE(parse_host_port("h:"));
  EXPECT_FALSE(parse_host_port(":53"));
  EXPECT_FALSE(parse_host_port("h:5x"));
  EXPECT_FALSE(parse_host_port("[::1]53"));
}

struct Parsed {
  NodeConfig cfg;
  std::string error;
};

Parsed parse(std::vector<std::string> args) {
  CLI::App app;
  Parsed p;
  add_node_options(app, p.cfg);
  std::vector<const char*> argv{"pweb-node"};
  for (auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    p.error = e.what();
  }
  return p;
}

TEST(NodeOptions, Defaults) {
  const auto p = parse({});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.data_dir, "./data");
  EXPECT_EQ(p.cfg.dns_listen, std::vector<std::string>{"127.0.0.1:5353"});
  EXPECT_EQ(p.cfg.http_listen, "127.0.0.1:8053");
  EXPECT_EQ(p.cfg.gateway_listen, "127.0.0.1:4450");
  EXPECT_EQ(p.cfg.dht_port, 4222);
  EXPECT_EQ(p.cfg.suffix, std::vector<std::string>{"dht."});
  EXPECT_EQ(p.cfg.ttl, 60u);
  EXPECT_EQ(p.cfg.threads, 0u);
}

TEST(NodeOptions, RepeatableAndLists) {
  const auto p = parse({"--dns-listen", "127.0.0.1:1", "--dns-listen", "[::1]:2", "--bootstrap",
                        "a:1,b:2", "--label", "UW", "--suffix", "x.", "--suffix", "y."});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.dns_listen.size(), 2u);
  EXPECT_EQ(p.cfg.bootstrap, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_EQ(p.cfg.suffix, (std::vector<std::string>{"x.", "y."}));
}

TEST(NodeOptions, BadValuesNameTheProblem) {
  EXPECT_NE(parse({"--dns-listen", "nonsense"}).error.find("nonsense"), std::string::npos);
  EXPECT_NE(parse({"--label", "bad_label"}).error.find("bad_label"), std::string::npos);
  EXPECT_FALSE(parse({"--ttl", "100000"}).error.empty());
  EXPECT_FALSE(parse({"--threads", "-1"}).error.empty());
  EXPECT_FALSE(parse({"--log-level", "loud"}).error.empty());
}

TEST(NodeOptions, ConfigFile) {
  const std::string path = "/tmp/pweb-config-test.toml";
  std::ofstream(path)
      << "label = \"uw\"\nttl = 30\ndns-listen = [\"127.0.0.1:1\", \"127.0.0.2:1\"]\n";
  const auto p = parse({"--config", path});
  std::remove(path.c_str());
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.label, "uw");
  EXPECT_EQ(p.cfg.ttl, 30u);
  EXPECT_EQ(p.cfg.dns_listen.size(), 2u);
}

TEST(Validate, CrossFieldRules) {
  NodeConfig cfg;
  EXPECT_FALSE(validate(cfg));
  cfg.label = "uw";
  cfg.home_agent = {"a:1"};
  EXPECT_TRUE(validate(cfg));
}

}  // namespace
}  // namespace pweb::node
