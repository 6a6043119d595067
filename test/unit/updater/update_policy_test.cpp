#include "pweb/registrar/update_policy.hpp"

#include <gtest/gtest.h>

namespace pweb::registrar::update {
namespace {

using std::chrono::milliseconds;

// --- DynDNS2 answers --------------------------------------------------------

TEST(ClassifyAnswer, GoodAndNochgAreSuccessWithTheAddresses) {
  auto v = classify_answer(200, "good 192.0.2.55\n");
  EXPECT_EQ(v.outcome, Outcome::success);
  EXPECT_EQ(v.code, "good");
  EXPECT_TRUE(v.changed);
  EXPECT_EQ(v.addresses, std::vector<std::string>{"192.0.2.55"});

  v = classify_answer(200, "nochg 192.0.2.55,2001:DB8:0::1\r\n");
  EXPECT_EQ(v.outcome, Outcome::success);
  EXPECT_EQ(v.code, "nochg");
  EXPECT_FALSE(v.changed);
  EXPECT_EQ(v.addresses, (std::vector<std::string>{"192.0.2.55", "2001:db8::1"}));

  v = classify_answer(200, "\n  GOOD 10.0.0.1 \n");  // leading blank line, upper case
  EXPECT_EQ(v.outcome, Outcome::success);
  EXPECT_EQ(v.addresses, std::vector<std::string>{"10.0.0.1"});

  v = classify_answer(200, "good");  // no addresses: still success
  EXPECT_EQ(v.outcome, Outcome::success);
  EXPECT_TRUE(v.addresses.empty());
}

TEST(ClassifyAnswer, TemporaryFailuresAreRetried) {
  for (const char* body : {"911\n", "dnserr\n"}) {
    const auto v = classify_answer(200, body);
    EXPECT_EQ(v.outcome, Outcome::retry) << body;
    EXPECT_EQ(v.exit_code, ExitCode::temporary) << body;
    EXPECT_FALSE(v.reason.empty());
  }
  for (int status : {500, 502, 503, 504}) {
    const auto v = classify_answer(status, "oops");
    EXPECT_EQ(v.outcome, Outcome::retry) << status;
    EXPECT_EQ(v.code, "http-" + std::to_string(status));
    EXPECT_NE(v.reason.find(std::to_string(status)), std::string::npos);
  }
  EXPECT_EQ(classify_answer(429, "slow down").outcome, Outcome::retry);
  EXPECT_EQ(transport_failure("cannot connect").outcome, Outcome::retry);
  EXPECT_EQ(transport_failure("cannot connect").reason, "cannot connect");
  EXPECT_EQ(address_unavailable("no address").outcome, Outcome::retry);
}

TEST(ClassifyAnswer, UnknownAnswersAreRetriedNotTrusted) {
  // A captive portal's page, an empty body.
  for (const char* body : {"<html><body>Log in to the hotel WiFi</body></html>", "", "\n\n"}) {
    const auto v = classify_answer(200, body);
    EXPECT_EQ(v.outcome, Outcome::retry) << body;
    EXPECT_EQ(v.code, "unexpected");
  }
}

TEST(ClassifyAnswer, FatalAnswersStopWithDistinctCodes) {
  struct Case {
    int status;
    const char* body;
    ExitCode exit;
    const char* code;
  };
  const Case cases[] = {
      {200, "badauth\n", ExitCode::badauth, "badauth"},
      {401, "badauth\n", ExitCode::badauth, "badauth"},
      {401, "", ExitCode::badauth, "badauth"},
      {200, "nohost\n", ExitCode::nohost, "nohost"},
      {200, "!yours\n", ExitCode::nohost, "!yours"},
      {200, "notfqdn\n", ExitCode::notfqdn, "notfqdn"},
      {200, "numhost\n", ExitCode::numhost, "numhost"},
      {429, "abuse\n", ExitCode::abuse, "abuse"},
      {200, "abuse\n", ExitCode::abuse, "abuse"},
      {200, "badagent\n", ExitCode::rejected, "badagent"},
      {400, "myip 'x' is not an IPv4 or IPv6 address\n", ExitCode::rejected, "http-400"},
      {403, "", ExitCode::rejected, "http-403"},
      {404, "not found", ExitCode::rejected, "http-404"},
      {301, "", ExitCode::rejected, "http-301"},
  };
  for (const auto& c : cases) {
    const auto v = classify_answer(c.status, c.body);
    EXPECT_EQ(v.outcome, Outcome::fatal) << c.status << " " << c.body;
    EXPECT_EQ(v.exit_code, c.exit) << c.status << " " << c.body;
    EXPECT_EQ(v.code, c.code) << c.status << " " << c.body;
    EXPECT_FALSE(v.reason.empty());
  }
  // The reason says why, in words a user can act on.
  EXPECT_NE(classify_answer(200, "badauth").reason.find("password"), std::string::npos);
  EXPECT_NE(classify_answer(400, "myip 'x' is bad").reason.find("myip 'x' is bad"),
            std::string::npos);
}

TEST(ClassifyAnswer, ExitCodesAreDistinctAndDocumented) {
  const ExitCode codes[] = {ExitCode::usage,  ExitCode::temporary, ExitCode::badauth,
                            ExitCode::nohost, ExitCode::notfqdn,   ExitCode::numhost,
                            ExitCode::abuse,  ExitCode::rejected,  ExitCode::internal};
  const auto help = exit_code_help();
  for (std::size_t i = 0; i < std::size(codes); ++i) {
    EXPECT_NE(static_cast<int>(codes[i]), 0);
    for (std::size_t j = i + 1; j < std::size(codes); ++j) EXPECT_NE(codes[i], codes[j]);
    const auto line = "  " + std::to_string(static_cast<int>(codes[i])) + "  ";
    EXPECT_NE(help.find(line), std::string::npos) << line;
  }
}

TEST(ClassifyAnswer, HostileBodiesAreCutAndCleaned) {
  const std::string body = "weird\x1b[31m" + std::string(5000, 'x');
  const auto v = classify_answer(200, body);
  EXPECT_EQ(v.outcome, Outcome::retry);
  EXPECT_LT(v.reason.size(), 300U);
  EXPECT_EQ(v.reason.find('\x1b'), std::string::npos);
  EXPECT_EQ(excerpt("a\x01"
                    "b\nsecond line"),
            "a?b");
  EXPECT_EQ(excerpt("abcdef", 3), "abc...");
}

// --- checkip ----------------------------------------------------------------

TEST(Checkip, ParsesTheDyndnsPage) {
  EXPECT_EQ(parse_checkip("<html><head><title>Current IP Check</title></head><body>Current IP "
                          "Address: 1.2.3.4</body></html>\n"),
            "1.2.3.4");
  EXPECT_EQ(parse_checkip("<body>current ip address:   2001:DB8::0:1</body>"), "2001:db8::1");
  EXPECT_EQ(parse_checkip("Current IP Address: ::ffff:127.0.0.1</body>"), "127.0.0.1");
  EXPECT_EQ(parse_checkip("  198.51.100.7\n"), "198.51.100.7");  // a body that is only an address
}

TEST(Checkip, RejectsPagesWithoutAnAddress) {
  EXPECT_FALSE(parse_checkip(""));
  EXPECT_FALSE(parse_checkip("<html>Current IP Address: </html>"));
  EXPECT_FALSE(parse_checkip("<html>Current IP Address: 999.1.1.1</html>"));
  EXPECT_FALSE(parse_checkip("<html><body>Welcome</body></html>"));
  EXPECT_FALSE(parse_checkip("Current IP Address: 1.2.3.4.5"));
}

TEST(Checkip, ClassifiesTheHttpAnswer) {
  auto r = classify_checkip(200, "Current IP Address: 10.1.2.3");
  ASSERT_TRUE(r.address);
  EXPECT_EQ(*r.address, "10.1.2.3");
  r = classify_checkip(200, "<html>captive portal</html>");
  EXPECT_FALSE(r.address);
  EXPECT_EQ(r.verdict.outcome, Outcome::retry);
  r = classify_checkip(503, "");
  EXPECT_EQ(r.verdict.outcome, Outcome::retry);
  r = classify_checkip(404, "");
  EXPECT_EQ(r.verdict.outcome, Outcome::fatal);
  EXPECT_EQ(r.verdict.exit_code, ExitCode::rejected);
}

// --- addresses --------------------------------------------------------------

TEST(Addresses, Normalize) {
  EXPECT_EQ(normalize_address("192.0.2.55"), "192.0.2.55");
  EXPECT_EQ(normalize_address("2001:0DB8:0000::0001"), "2001:db8::1");
  EXPECT_EQ(normalize_address("::ffff:192.0.2.1"), "192.0.2.1");
  EXPECT_FALSE(normalize_address(""));
  EXPECT_FALSE(normalize_address("192.0.2"));
  EXPECT_FALSE(normalize_address("192.0.2.256"));
  EXPECT_FALSE(normalize_address("fe80::1%eth0"));
  EXPECT_FALSE(normalize_address(" 192.0.2.1"));
  EXPECT_FALSE(normalize_address("example.com"));
}

TEST(Addresses, GlobalScope) {
  for (const char* a : {"192.0.2.1", "10.0.0.1", "192.168.1.2", "8.8.8.8", "2001:db8::1", "fd00::2",
                        "2a00:1450::1"}) {
    EXPECT_TRUE(is_global_address(a)) << a;
  }
  for (const char* a :
       {"127.0.0.1", "127.1.2.3", "0.0.0.0", "169.254.3.4", "224.0.0.1", "255.255.255.255",
        "::", "::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "not an address"}) {
    EXPECT_FALSE(is_global_address(a)) << a;
  }
}

// --- back-off ---------------------------------------------------------------

TEST(Backoff, DoublesFromFiveSecondsToTenMinutes) {
  const Backoff b;  // 5 s, 10 min, 20 % jitter
  EXPECT_EQ(backoff_delay(b, 0, 0.5), milliseconds(5000));
  EXPECT_EQ(backoff_delay(b, 1, 0.5), milliseconds(10000));
  EXPECT_EQ(backoff_delay(b, 2, 0.5), milliseconds(20000));
  EXPECT_EQ(backoff_delay(b, 6, 0.5), milliseconds(320000));
  EXPECT_EQ(backoff_delay(b, 7, 0.5), milliseconds(600000));
  EXPECT_EQ(backoff_delay(b, 1000, 0.5), milliseconds(600000));
  EXPECT_EQ(backoff_delay(b, 4000000000U, 0.5), milliseconds(600000));
}

TEST(Backoff, JitterStaysWithinBoundsAndUnderTheMaximum) {
  const Backoff b;
  EXPECT_EQ(backoff_delay(b, 0, 0.0), milliseconds(4000));
  EXPECT_EQ(backoff_delay(b, 0, 0.999999), milliseconds(6000));
  for (double u = 0.0; u < 1.0; u += 0.05) {
    for (unsigned r = 0; r < 12; ++r) {
      const auto d = backoff_delay(b, r, u);
      EXPECT_LE(d, b.max);
      EXPECT_GE(d, milliseconds(4000));
    }
  }
  EXPECT_EQ(backoff_delay(b, 20, 0.0), milliseconds(480000));  // capped, then jittered down
  EXPECT_EQ(backoff_delay(b, 20, 1.5), milliseconds(600000));  // out-of-range draw clamped
  Backoff none{milliseconds(100), milliseconds(1000), 0.0};
  EXPECT_EQ(backoff_delay(none, 3, 0.9), milliseconds(800));
  EXPECT_EQ(backoff_delay(none, 4, 0.9), milliseconds(1000));
}

// --- device name ------------------------------------------------------------

TEST(ValidateDevice, AcceptsAndLowercases) {
  const auto r = validate_device("Laptop.Alice.UW.", "ALICE");
  ASSERT_TRUE(r.name) << r.error;
  EXPECT_EQ(r.name->full(), "laptop.alice.uw");
}

TEST(ValidateDevice, ErrorNamesTheBadLabel) {
  auto r = validate_device("lap_top.alice.uw", "alice");
  EXPECT_FALSE(r.name);
  EXPECT_NE(r.error.find("'lap_top'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("device"), std::string::npos) << r.error;

  r = validate_device("laptop.-alice.uw", "alice");
  EXPECT_NE(r.error.find("'-alice'"), std::string::npos) << r.error;

  r = validate_device("laptop.alice", "alice");
  EXPECT_NE(r.error.find("device.user.agent"), std::string::npos) << r.error;

  r = validate_device("laptop.alice." + std::string(64, 'a'), "alice");
  EXPECT_NE(r.error.find("agent"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("63"), std::string::npos) << r.error;
}

TEST(ValidateDevice, TheUserMustOwnTheName) {
  auto r = validate_device("laptop.alice.uw", "bob");
  EXPECT_FALSE(r.name);
  EXPECT_NE(r.error.find("'alice'"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("'bob'"), std::string::npos) << r.error;
  r = validate_device("laptop.alice.uw", "al:ice");
  EXPECT_FALSE(r.name);
  EXPECT_NE(r.error.find("--user"), std::string::npos) << r.error;
}

// --- server URL -------------------------------------------------------------

TEST(ServerUrl, Parses) {
  auto r = parse_server_url("http://127.0.0.1:8053");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->scheme, "http");
  EXPECT_EQ(r.url->host, "127.0.0.1");
  EXPECT_EQ(r.url->port, 8053);
  EXPECT_EQ(r.url->base, "");

  r = parse_server_url("HTTPS://agent.example/pweb/");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->scheme, "https");
  EXPECT_EQ(r.url->port, 443);
  EXPECT_EQ(r.url->base, "/pweb");

  r = parse_server_url("http://[2001:db8::1]:8080/");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->host, "2001:db8::1");
  EXPECT_EQ(r.url->port, 8080);
  EXPECT_EQ(r.url->base, "");

  r = parse_server_url("http://agent.example");
  ASSERT_TRUE(r.url) << r.error;
  EXPECT_EQ(r.url->port, 80);
}

TEST(ServerUrl, RejectsWithReasons) {
  const std::pair<const char*, const char*> bad[] = {
      {"127.0.0.1:8053", "http://"},    {"ftp://x", "scheme"},
      {"http://", "no host"},           {"http://:80", "no host"},
      {"http://host:", "empty port"},   {"http://host:0", "1-65535"},
      {"http://host:70000", "1-65535"}, {"http://host:8o", "not a number"},
      {"http://[::1", "unclosed"},      {"http://[nope]:1", "IPv6"},
      {"http://host/x?y=1", "query"},   {"http://ho st", "characters"},
  };
  for (const auto& [url, why] : bad) {
    const auto r = parse_server_url(url);
    EXPECT_FALSE(r.url) << url;
    EXPECT_NE(r.error.find(why), std::string::npos) << url << ": " << r.error;
  }
  // Credentials in the URL are refused without echoing them.
  const auto r = parse_server_url("http://alice:s3cret@host/");
  EXPECT_FALSE(r.url);
  EXPECT_EQ(r.error.find("s3cret"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("--password-file"), std::string::npos) << r.error;
}

// --- --ip -------------------------------------------------------------------

TEST(AddressSource, Kinds) {
  auto r = parse_address_source("auto");
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->kind, AddressSource::Kind::checkip);
  r = parse_address_source("192.0.2.55");
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->kind, AddressSource::Kind::literal);
  EXPECT_EQ(r.source->value, "192.0.2.55");
  r = parse_address_source("2001:DB8::5");
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->value, "2001:db8::5");
  r = parse_address_source("if:eth0");
  ASSERT_TRUE(r.source);
  EXPECT_EQ(r.source->kind, AddressSource::Kind::interface);
  EXPECT_EQ(r.source->value, "eth0");
  for (const char* bad : {"", "automatic", "if:", "if:a/b", "if:0123456789abcdef", "1.2.3"}) {
    EXPECT_FALSE(parse_address_source(bad).source) << bad;
    EXPECT_NE(parse_address_source(bad).error.find("--ip"), std::string::npos) << bad;
  }
}

// --- state ------------------------------------------------------------------

TEST(State, RoundTrips) {
  const UpdateState s{"http://127.0.0.1:8053", "laptop.alice.uw", "2001:db8::1"};
  const auto text = format_state(s);
  const auto back = parse_state(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, s);
}

TEST(State, RejectsIncompleteOrBrokenFiles) {
  EXPECT_FALSE(parse_state(""));
  EXPECT_FALSE(parse_state("server=http://x\ndevice=a.b.c\n"));
  EXPECT_FALSE(parse_state("server=http://x\ndevice=a.b.c\naddress=nonsense\n"));
  EXPECT_FALSE(parse_state("garbage without equals\n"));
  // Unknown keys (from a newer version) and comments are ignored; CRLF is fine.
  const auto s =
      parse_state("# c\r\nserver=http://x\r\ndevice=a.b.c\r\nfuture=1\r\naddress=10.0.0.1\r\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->address, "10.0.0.1");
}

TEST(State, UpdateNeededOnFirstRunAndOnAnyChange) {
  const UpdateState s{"http://x", "a.b.c", "10.0.0.1"};
  EXPECT_TRUE(update_needed(std::nullopt, s));
  EXPECT_FALSE(update_needed(s, s));
  auto other = s;
  other.address = "10.0.0.2";
  EXPECT_TRUE(update_needed(s, other));
  other = s;
  other.server = "http://y";
  EXPECT_TRUE(update_needed(s, other));
  other = s;
  other.device = "d.b.c";
  EXPECT_TRUE(update_needed(s, other));
  EXPECT_EQ(unchanged().outcome, Outcome::success);
}

}  // namespace
}  // namespace pweb::registrar::update
