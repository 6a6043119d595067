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
  EXPECT_EQ(p.cfg.stale_max, 86400u);
}

TEST(NodeOptions, StaleMaxIsZeroToSevenDays) {
  auto p = parse({"--stale-max", "0"});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.stale_max, 0u);
  p = parse({"--stale-max", "604800"});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.stale_max, 604800u);
  p = parse({"--stale-max", "604801"});
  EXPECT_NE(p.error.find("--stale-max"), std::string::npos) << p.error;
  EXPECT_FALSE(parse({"--stale-max", "-1"}).error.empty());
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
  EXPECT_FALSE(parse({"--http-max-per-client", "-1"}).error.empty());
  EXPECT_FALSE(parse({"--http-max-per-client", "many"}).error.empty());
}

TEST(NodeOptions, HttpConnectionsPerClient) {
  EXPECT_EQ(parse({}).cfg.http_max_per_client, 64u);
  const auto off = parse({"--http-max-per-client", "0"});
  ASSERT_TRUE(off.error.empty()) << off.error;
  EXPECT_EQ(off.cfg.http_max_per_client, 0u);
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

TEST(NodeOptions, SingleValuedOptionGivenTwiceTakesTheLast) {
  const auto p = parse({"--log-level", "warn", "--ttl", "5", "--log-level", "debug", "--ttl", "9",
                        "--suffix", "a.", "--suffix", "b."});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.log_level, "debug");
  EXPECT_EQ(p.cfg.ttl, 9u);
  EXPECT_EQ(p.cfg.suffix, (std::vector<std::string>{"a.", "b."})) << "lists still add up";
}

TEST(NodeOptions, ConfigFileTypoIsAnErrorNamingTheKey) {
  const std::string path = "/tmp/pweb-config-typo.toml";
  std::ofstream(path) << "labl = \"uw\"\n";
  const auto p = parse({"--config", path});
  std::remove(path.c_str());
  EXPECT_NE(p.error.find("labl"), std::string::npos) << p.error;
}

// --help is the operator's reference: every option is there with its default.
TEST(NodeOptions, HelpListsEveryOptionWithItsDefault) {
  CLI::App app("pweb-node");
  NodeConfig cfg;
  add_node_options(app, cfg);
  const std::string help = app.help();
  std::size_t checked = 0;
  for (const CLI::Option* o : app.get_options()) {
    const std::string name = o->get_name(false, false);
    if (name == "--help") continue;
    EXPECT_NE(help.find(name), std::string::npos) << name << " missing from --help";
    const bool shows_default =
        !o->get_default_str().empty() && help.find("=" + o->get_default_str()) != std::string::npos;
    EXPECT_TRUE(shows_default || o->get_description().find("default: ") != std::string::npos)
        << name << " shows no default in --help:\n"
        << help;
    ++checked;
  }
  EXPECT_GE(checked, 17u);
}

// A file written from one configuration reads back as the same configuration.
TEST(NodeOptions, ConfigFileCarriesEveryOption) {
  const std::vector<std::string> args = {"--label",
                                         "mit",
                                         "--data-dir",
                                         "/var/lib/x",
                                         "--dns-listen",
                                         "0.0.0.0:53",
                                         "--http-listen",
                                         "0.0.0.0:80",
                                         "--gateway-listen",
                                         "[::]:4451",
                                         "--dht-port",
                                         "4000",
                                         "--identity-bits",
                                         "2048",
                                         "--bootstrap",
                                         "a:1,b:2",
                                         "--network-id",
                                         "77",
                                         "--suffix",
                                         "x.",
                                         "--ns",
                                         "ns1.x=192.0.2.1",
                                         "--ns",
                                         "ns.example.net",
                                         "--soa-contact",
                                         "first.last@example.org",
                                         "--ttl",
                                         "5",
                                         "--timeout",
                                         "0.5",
                                         "--stale-max",
                                         "600",
                                         "--threads",
                                         "3",
                                         "--log-level",
                                         "debug",
                                         "--http-max-per-client",
                                         "8",
                                         "--query-log"};
  const auto set = parse(args);
  ASSERT_TRUE(set.error.empty()) << set.error;
  // The same command line, written out as a config file by CLI11 itself.
  CLI::App writer("pweb-node");
  NodeConfig ignored;
  add_node_options(writer, ignored);
  std::vector<const char*> argv{"pweb-node"};
  for (const auto& arg : args) argv.push_back(arg.c_str());
  writer.parse(static_cast<int>(argv.size()), argv.data());
  const std::string path = "/tmp/pweb-config-roundtrip.toml";
  std::ofstream(path) << writer.config_to_str(false, false);
  const auto back = parse({"--config", path});
  std::remove(path.c_str());
  ASSERT_TRUE(back.error.empty()) << back.error;
  const NodeConfig& a = set.cfg;
  const NodeConfig& b = back.cfg;
  EXPECT_EQ(a.label, b.label);
  EXPECT_EQ(a.data_dir, b.data_dir);
  EXPECT_EQ(a.dns_listen, b.dns_listen);
  EXPECT_EQ(a.http_listen, b.http_listen);
  EXPECT_EQ(a.http_max_per_client, b.http_max_per_client);
  EXPECT_EQ(a.gateway_listen, b.gateway_listen);
  EXPECT_EQ(a.dht_port, b.dht_port);
  EXPECT_EQ(a.identity_bits, b.identity_bits);
  EXPECT_EQ(a.bootstrap, b.bootstrap);
  EXPECT_EQ(a.network_id, b.network_id);
  EXPECT_EQ(a.suffix, b.suffix);
  EXPECT_EQ(a.ns, (std::vector<std::string>{"ns1.x=192.0.2.1", "ns.example.net"}));
  EXPECT_EQ(a.ns, b.ns);
  EXPECT_EQ(a.soa_contact, b.soa_contact);
  EXPECT_FALSE(validate(b));
  EXPECT_EQ(a.ttl, b.ttl);
  EXPECT_DOUBLE_EQ(a.timeout, b.timeout);
  EXPECT_EQ(a.stale_max, b.stale_max);
  EXPECT_EQ(a.threads, b.threads);
  EXPECT_EQ(a.log_level, b.log_level);
  EXPECT_EQ(a.query_log, b.query_log);
}

TEST(NodeOptions, TrustAnchorsAreRepeatableAndReadFromTheConfigFile) {
  const std::string a = "/tmp/pweb-anchor-a.pem", b = "/tmp/pweb-anchor-b.pem";
  std::ofstream(a) << "x";
  std::ofstream(b) << "y";
  auto p = parse({"--trust-anchor", a, "--trust-anchor", b});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.trust_anchor, (std::vector<std::string>{a, b}));
  const std::string conf = "/tmp/pweb-anchor.toml";
  std::ofstream(conf) << "trust-anchor = [\"" << a << "\", \"" << b << "\"]\n";
  p = parse({"--config", conf});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.trust_anchor, (std::vector<std::string>{a, b}));
  EXPECT_TRUE(parse({}).cfg.trust_anchor.empty());
  // A missing file is named at parse time.
  p = parse({"--trust-anchor", "/nonexistent/ca.crt"});
  EXPECT_NE(p.error.find("/nonexistent/ca.crt"), std::string::npos) << p.error;
  for (const auto& f : {a, b, conf}) std::remove(f.c_str());
}

TEST(NodeOptions, NsidAndCookieSecret) {
  const std::string secret = "/tmp/pweb-cookie-secret";
  std::ofstream(secret) << "000102030405060708090a0b0c0d0e0f\n";
  auto p = parse({"--nsid", "node-7", "--cookie-secret", secret});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.nsid, "node-7");
  EXPECT_EQ(p.cfg.cookie_secret, secret);
  EXPECT_FALSE(validate(p.cfg));
  // Defaults: no NSID, a random secret per start.
  p = parse({});
  EXPECT_TRUE(p.cfg.nsid.empty());
  EXPECT_TRUE(p.cfg.cookie_secret.empty());
  // A missing secret file is named at parse time; an NSID over 128 bytes by validate.
  p = parse({"--cookie-secret", "/nonexistent/secret"});
  EXPECT_NE(p.error.find("/nonexistent/secret"), std::string::npos) << p.error;
  p = parse({"--nsid", std::string(129, 'n')});
  ASSERT_TRUE(p.error.empty()) << p.error;
  const auto err = validate(p.cfg);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("--nsid"), std::string::npos) << *err;
  p.cfg.nsid.resize(128);
  EXPECT_FALSE(validate(p.cfg));
  std::remove(secret.c_str());
}

TEST(Validate, CrossFieldRules) {
  NodeConfig cfg;
  EXPECT_FALSE(validate(cfg));
  cfg.label = "uw";
  cfg.home_agent = {"a:1"};
  EXPECT_TRUE(validate(cfg));
  cfg.label.clear();
  EXPECT_FALSE(validate(cfg));
  cfg.trust_anchor = {"/etc/ca.crt"};  // a gateway follows no agent records
  const auto err = validate(cfg);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("--trust-anchor"), std::string::npos) << *err;
}

// --ns and --soa-contact are checked against the zones before anything starts.
TEST(Validate, NameServersAndContactNameTheOption) {
  struct Row {
    std::vector<std::string> ns;
    std::string contact;
    const char* says;  // null: valid
  };
  for (const Row& row :
       {Row{{"ns1.dht=127.0.0.1", "ns.example.net"}, "a@example.org", nullptr},
        Row{{"ns1.dht"}, "", "--ns"}, Row{{"ns.example.net=192.0.2.1"}, "", "--ns"},
        Row{{}, "nobody", "--soa-contact"}}) {
    NodeConfig cfg;
    cfg.ns = row.ns;
    cfg.soa_contact = row.contact;
    const auto err = validate(cfg);
    if (!row.says) {
      EXPECT_FALSE(err) << *err;
      continue;
    }
    ASSERT_TRUE(err) << row.says;
    EXPECT_NE(err->find(row.says), std::string::npos) << *err;
  }
}

// The DNSSEC key options mean nothing without --dnssec: a start-up error, not ignored.
TEST(NodeOptions, DnssecKeyOptionsNeedDnssec) {
  NodeConfig cfg;
  cfg.dnssec_key = "/etc/pweb/zone.key";
  ASSERT_TRUE(validate(cfg));
  EXPECT_NE(validate(cfg)->find("--dnssec-key needs --dnssec"), std::string::npos);
  cfg.dnssec = true;
  EXPECT_FALSE(validate(cfg));
  cfg = NodeConfig{};
  cfg.dnssec_publish = {"/etc/pweb/next.key"};
  ASSERT_TRUE(validate(cfg));
  EXPECT_NE(validate(cfg)->find("--dnssec-publish needs --dnssec"), std::string::npos);
}

TEST(Validate, DotNeedsTheTlsFiles) {
  auto p = parse({"--dot-listen", "127.0.0.1:853", "--dot-listen", "[::1]:853"});
  ASSERT_TRUE(p.error.empty()) << p.error;
  EXPECT_EQ(p.cfg.dot_listen, (std::vector<std::string>{"127.0.0.1:853", "[::1]:853"}));
  const auto err = validate(p.cfg);
  ASSERT_TRUE(err);
  EXPECT_NE(err->find("--dot-listen"), std::string::npos) << *err;
  EXPECT_NE(err->find("--tls-cert"), std::string::npos) << *err;
  p.cfg.tls_cert = "/etc/cert.pem";
  p.cfg.tls_key = "/etc/key.pem";
  EXPECT_FALSE(validate(p.cfg));
  EXPECT_FALSE(parse({"--dot-listen", "853"}).error.empty());  // not host:port
}

}  // namespace
}  // namespace pweb::node
