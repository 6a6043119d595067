#include "pweb/dns/rdata.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pweb::dns {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Wire form of a name, e.g. wire_name({"mail", "example"}).
Bytes wire_name(std::initializer_list<std::string_view> labels) {
  Bytes out;
  for (auto l : labels) {
    out.push_back(static_cast<std::uint8_t>(l.size()));
    out.insert(out.end(), l.begin(), l.end());
  }
  out.push_back(0);
  return out;
}

RdataResult from_rdata(std::uint16_t t, const Bytes& rd) {
  return rdata_from_wire(t, rd, 0, rd.size());
}

// ---- Round trips: text -> wire -> text gives the canonical text, which parses to the same wire
// ----

struct RoundTrip {
  std::uint16_t type;
  std::string text;
  std::string canonical;
};

TEST(Rdata, RoundTrips) {
  const std::vector<RoundTrip> cases = {
      {type::A, "192.0.2.1", "192.0.2.1"},
      {type::A, "  0.0.0.0\t", "0.0.0.0"},
      {type::AAAA, "2001:DB8::1", "2001:db8::1"},
      {type::AAAA, "::", "::"},
      {type::CNAME, "Target.Example.", "Target.Example."},
      {type::CNAME, ".", "."},
      {type::MX, "10 mail.example.", "10 mail.example."},
      {type::MX, "0 .", "0 ."},
      {type::MX, "65535 mx.example.", "65535 mx.example."},
      {type::TXT, R"("v=spf1 -all")", R"("v=spf1 -all")"},
      {type::TXT, "hello world", R"("hello" "world")"},
      {type::TXT, R"("a\"b\\c")", R"("a\"b\\c")"},
      {type::TXT, R"("\007\255" "\065")", R"("\007\255" "A")"},
      {type::TXT, R"(tab\tx)", R"("tabtx")"},  // RFC 1035: \X is X
      {type::TXT, R"(a\ b)", R"("a b")"},
      {type::TXT, R"("")", R"("")"},
      {type::TXT, R"("x"   ""  "y")", R"("x" "" "y")"},
      {type::SRV, "0 5 443 laptop.alice.uw.dht.", "0 5 443 laptop.alice.uw.dht."},
      {type::SRV, "65535 65535 65535 .", "65535 65535 65535 ."},
      {type::CAA, R"(0 issue "letsencrypt.org")", R"(0 issue "letsencrypt.org")"},
      {type::CAA, "128 iodef mailto:a@b.example", R"(128 iodef "mailto:a@b.example")"},
      {type::CAA, R"(0 issue "")", R"(0 issue "")"},
      {type::CAA, R"(0 tbs "x;y \"z\"")", R"(0 tbs "x;y \"z\"")"},
      {type::CAA, R"(0 ABCdef012345678 "v")", R"(0 ABCdef012345678 "v")"},
      {type::TLSA, "3 1 1 AB cd EF", "3 1 1 abcdef"},
      {type::TLSA, "0 0 0 00", "0 0 0 00"},
      {type::SVCB, "0 foo.example.", "0 foo.example."},
      {type::SVCB, "1 .", "1 ."},
      {type::HTTPS, "1 . alpn=h2,h3 port=443", R"(1 . alpn="h2,h3" port=443)"},
      {type::SVCB, "1 svc.example. port=8443 alpn=\"h2\" mandatory=port,alpn",
       R"(1 svc.example. mandatory=alpn,port alpn="h2" port=8443)"},
      {type::HTTPS, "2 . alpn=h3 no-default-alpn", R"(2 . alpn="h3" no-default-alpn)"},
      {type::HTTPS, "1 . ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:DB8::1,::1",
       "1 . ipv4hint=192.0.2.1,192.0.2.2 ipv6hint=2001:db8::1,::1"},
      {type::HTTPS, "1 . ech=AQID", "1 . ech=AQID"},
      {type::HTTPS, "1 . ech=\"AQIDBA==\"", "1 . ech=AQIDBA=="},
      {type::SVCB, "1 foo.example.com. key667=hello", R"(1 foo.example.com. key667="hello")"},
      {type::SVCB, "1 . key667", "1 . key667"},
      {type::SVCB, R"(1 . key667="")", "1 . key667"},
      {type::SVCB, R"(1 . key65534="a\"b\010")", R"(1 . key65534="a\"b\010")"},
      {type::SVCB, "1 . key1=h2 key3=53", R"(1 . alpn="h2" port=53)"},
      // RFC 9460 Appendix A.1: commas and backslashes inside an alpn id, two levels.
      {type::HTTPS, R"(1 . alpn="f\\\\oo\\,bar,h2")", R"(1 . alpn="f\\\\oo\\,bar,h2")"},
      {type::HTTPS, R"(1 . alpn=f\\\\oo\\,bar,h2)", R"(1 . alpn="f\\\\oo\\,bar,h2")"},
      // RFC 3597 generic form, checked like wire rdata.
      {type::A, R"(\# 4 C0000201)", "192.0.2.1"},
      {type::TXT, R"(\# 3 02 68 69)", R"("hi")"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(rrtype_to_text(c.type) + " " + c.text);
    const auto parsed = rdata_from_text(c.type, c.text);
    ASSERT_TRUE(parsed.ok()) << parsed.error;
    EXPECT_EQ(rdata_to_text(c.type, parsed.wire), c.canonical);
    const auto again = rdata_from_text(c.type, c.canonical);
    ASSERT_TRUE(again.ok()) << again.error;
    EXPECT_EQ(again.wire, parsed.wire);
    const auto canon = from_rdata(c.type, parsed.wire);
    ASSERT_TRUE(canon.ok()) << canon.error;
    EXPECT_EQ(canon.wire, parsed.wire);
  }
}

// ---- Exact wire bytes ----

struct Exact {
  std::uint16_t type;
  std::string text;
  Bytes wire;
};

TEST(Rdata, ExactWire) {
  const std::vector<Exact> cases = {
      {type::A, "192.0.2.1", {192, 0, 2, 1}},
      {type::AAAA, "2001:db8::1", {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
      {type::CNAME, "a.example.", wire_name({"a", "example"})},
      {type::MX, "10 mail.example.", concat({{0, 10}, wire_name({"mail", "example"})})},
      {type::TXT, R"("a" b "")", {1, 'a', 1, 'b', 0}},
      {type::SRV, "1 2 443 t.example.",
       concat({{0, 1, 0, 2, 1, 0xbb}, wire_name({"t", "example"})})},
      {type::CAA, R"(0 issue "ca.example")",
       concat({{0, 5}, bytes_of("issue"), bytes_of("ca.example")})},
      {type::TLSA, "3 1 1 ab CD", {3, 1, 1, 0xab, 0xcd}},
      {type::SVCB, "0 foo.example.", concat({{0, 0}, wire_name({"foo", "example"})})},
      // RFC 9460 Appendix D.2, figure 4 (a generic key).
      {type::SVCB, "1 foo.example.com. key667=hello",
       concat(
           {{0, 1}, wire_name({"foo", "example", "com"}), {0x02, 0x9b, 0, 5}, bytes_of("hello")})},
      // RFC 9460 Appendix D.2, figure 8 (mandatory, alpn, ipv4hint; keys sorted).
      {type::SVCB, "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1",
       concat({{0, 16},
               wire_name({"foo", "example", "org"}),
               {0, 0, 0, 4, 0, 1, 0, 4},
               {0, 1, 0, 9, 2, 'h', '2', 5, 'h', '3', '-', '1', '9'},
               {0, 4, 0, 4, 192, 0, 2, 1}})},
      {type::HTTPS,
       "1 . port=443 no-default-alpn alpn=h2 ech=AQID",
       {0, 1, 0, 0, 1, 0, 3, 2, 'h', '2', 0, 2, 0, 0, 0, 3, 0, 2, 1, 0xbb, 0, 5, 0, 3, 1, 2, 3}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(rrtype_to_text(c.type) + " " + c.text);
    const auto parsed = rdata_from_text(c.type, c.text);
    ASSERT_TRUE(parsed.ok()) << parsed.error;
    EXPECT_EQ(parsed.wire, c.wire);
  }
}

// ---- Malformed text ----

struct Bad {
  std::uint16_t type;
  std::string text;
  std::string error;  // expected substring
};

TEST(Rdata, MalformedTextIsRefusedWithAReason) {
  const std::vector<Bad> cases = {
      {type::A, "192.0.2", "A: invalid IPv4 address"},
      {type::A, "192.0.2.256", "invalid IPv4"},
      {type::A, "\"192.0.2.1\"", "invalid IPv4"},
      {type::A, "1.2.3.4 5.6.7.8", "expected 1 field"},
      {type::A, "", "expected 1 field"},
      {type::AAAA, "1.2.3.4", "AAAA: invalid IPv6 address"},
      {type::AAAA, "2001:db8:::1", "invalid IPv6"},
      {type::A, std::string("1.2.3.4\0x", 9), "invalid IPv4"},
      {type::HTTPS, R"(1 . ipv4hint=1.2.3.4\000x)", "ipv4hint: invalid address"},
      {type::CNAME, "example.com", "CNAME: name must be absolute"},
      {type::CNAME, "a..b.", "empty label"},
      {type::CNAME, ".a.", "empty label"},
      {type::CNAME, "\"a.\"", "must not be quoted"},
      {type::CNAME, R"(a\.b.)", "would need an escape"},
      {type::CNAME, "a(b.", "would need an escape"},
      {type::CNAME, "a. b.", "expected 1 field"},
      {type::MX, "65536 mx.", "MX: preference must be 0-65535"},
      {type::MX, "-1 mx.", "preference must be 0-65535"},
      {type::MX, "ten mx.", "preference must be 0-65535"},
      {type::MX, "10", "expected 2 fields"},
      {type::MX, "10 mx", "exchange name must be absolute"},
      {type::TXT, "", "TXT: at least one string required"},
      {type::TXT, "  ", "at least one string"},
      {type::TXT, R"("abc)", "unterminated quoted string"},
      {type::TXT, R"("\256")", "above 255"},
      {type::TXT, R"("\12")", "three digits"},
      {type::TXT, R"("\1a2")", "three digits"},
      {type::TXT, R"(abc\)", "backslash at the end"},
      {type::TXT, R"(a"b")", "unexpected quote"},
      {type::SRV, "1 2 70000 t.", "SRV: port must be 0-65535"},
      {type::SRV, "1 x 3 t.", "weight must be 0-65535"},
      {type::SRV, "x 2 3 t.", "priority must be 0-65535"},
      {type::SRV, "1 2 3", "expected 4 fields"},
      {type::SRV, "1 2 3 t", "target name must be absolute"},
      {type::CAA, R"(0 is-sue "x")", "CAA: tag must be 1-15 letters and digits"},
      {type::CAA, R"(0 abcdefghijklmnop "x")", "tag must be 1-15"},
      {type::CAA, R"(0 "" "x")", "tag must be 1-15"},
      {type::CAA, "256 issue x", "flags must be 0-255"},
      {type::CAA, "0 issue", "expected 3 fields"},
      {type::CAA, R"(0 issue "a" "b")", "expected 3 fields"},
      {type::TLSA, "3 1 1", "TLSA: expected"},
      {type::TLSA, "3 1 1 abc", "odd number"},
      {type::TLSA, "3 1 1 zz", "non-hex"},
      {type::TLSA, "3 1 1 \"ab\"", "must not be quoted"},
      {type::TLSA, "256 1 1 ab", "usage must be 0-255"},
      {type::TLSA, "3 256 1 ab", "selector must be 0-255"},
      {type::TLSA, "3 1 256 ab", "matching type must be 0-255"},
      {type::SVCB, "1", "SVCB: expected: priority target"},
      {type::SVCB, "70000 .", "priority must be 0-65535"},
      {type::SVCB, "1 foo", "target name must be absolute"},
      {type::SVCB, "0 . alpn=h2", "AliasMode (priority 0) takes no SvcParams"},
      {type::HTTPS, "1 . port=1 port=2", "HTTPS: SvcParam key port appears twice"},
      {type::HTTPS, "1 . port=1 key3=2", "appears twice"},
      {type::HTTPS, "1 . foo=1", "unknown SvcParam key 'foo'"},
      {type::HTTPS, "1 . key01=x", "unknown SvcParam key"},
      {type::HTTPS, "1 . key65536=x", "unknown SvcParam key"},
      {type::HTTPS, "1 . key65535=x", "key65535 is reserved"},
      {type::HTTPS, "1 . \"alpn=h2\"", "must not be quoted as a whole"},
      {type::HTTPS, "1 . mandatory=port", "mandatory: key port is missing"},
      {type::HTTPS, "1 . mandatory=mandatory", "must not list itself"},
      {type::HTTPS, "1 . mandatory=alpn,alpn alpn=h2", "listed twice"},
      {type::HTTPS, "1 . mandatory=bogus", "mandatory: unknown key 'bogus'"},
      {type::HTTPS, R"(1 . mandatory=b\255g)", "mandatory: unknown key 'b?g'"},
      {type::HTTPS, "1 . no-default-alpn", "no-default-alpn requires alpn"},
      {type::HTTPS, "1 . no-default-alpn=x alpn=h2", "no-default-alpn: takes no value"},
      {type::HTTPS, "1 . alpn", "alpn: needs a value"},
      {type::HTTPS, "1 . alpn=", "alpn: empty item"},
      {type::HTTPS, "1 . alpn=h2,,h3", "empty item"},
      {type::HTTPS, "1 . alpn=\"h2", "unterminated quoted string"},
      {type::HTTPS, "1 . alpn=\"h2\"x", "stray quote"},
      {type::HTTPS, "1 . port=x", "port: must be 0-65535"},
      {type::HTTPS, "1 . port=65536", "port: must be 0-65535"},
      {type::HTTPS, "1 . ech=!!", "ech: invalid base64"},
      {type::HTTPS, "1 . ech=AQI", "ech: invalid base64"},   // missing padding
      {type::HTTPS, "1 . ech=AQJ=", "ech: invalid base64"},  // non-zero trailing bits
      {type::HTTPS, "1 . ech=", "ech: invalid base64"},
      {type::HTTPS, "1 . ipv4hint=1.2.3", "ipv4hint: invalid address '1.2.3'"},
      {type::HTTPS, "1 . ipv6hint=1.2.3.4", "ipv6hint: invalid address"},
      {type::NS, "ns.example.", "NS: type not supported"},
      {type::A, R"(\# 3 c00002)", "A: rdata must be 4 bytes"},
      {type::A, R"(\# 4 c000)", "length does not match"},
      {type::A, R"(\#)", "generic rdata"},
      {type::TXT, R"(\# 0)", "TXT: at least one string"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(rrtype_to_text(c.type) + " " + c.text);
    const auto parsed = rdata_from_text(c.type, c.text);
    EXPECT_FALSE(parsed.ok());
    EXPECT_TRUE(parsed.wire.empty());
    EXPECT_NE(parsed.error.find(c.error), std::string::npos) << parsed.error;
  }
}

// ---- Boundary lengths ----

TEST(Rdata, TxtStringOf255IsTheLimit) {
  const std::string s255(255, 'x');
  const auto ok = rdata_from_text(type::TXT, "\"" + s255 + "\"");
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.wire.size(), 256u);
  EXPECT_EQ(ok.wire[0], 255);
  // Escapes count as the byte they stand for.
  std::string escaped;
  for (int i = 0; i < 255; ++i) escaped += "\\255";
  EXPECT_TRUE(rdata_from_text(type::TXT, escaped).ok());
  const auto bad = rdata_from_text(type::TXT, "\"" + s255 + "x\"");
  EXPECT_NE(bad.error.find("TXT: string longer than 255 bytes"), std::string::npos) << bad.error;
  EXPECT_FALSE(rdata_from_text(type::TXT, escaped + "\\255").ok());
}

TEST(Rdata, TxtRdataOver65535IsRefused) {
  std::string text;
  for (int i = 0; i < 258; ++i) text += "\"" + std::string(254, 'a') + "\" ";  // 258 * 255 bytes
  const auto bad = rdata_from_text(type::TXT, text);
  EXPECT_NE(bad.error.find("rdata longer than 65535"), std::string::npos) << bad.error;
}

TEST(Rdata, NameAndLabelLimits) {
  const std::string l63(63, 'a');
  const std::string l64(64, 'a');
  // 3 x (1 + 63) + (1 + 61) + 1 = 255 bytes of wire; one more byte is too much.
  const std::string n255 = l63 + "." + l63 + "." + l63 + "." + std::string(61, 'b') + ".";
  const std::string n256 = l63 + "." + l63 + "." + l63 + "." + std::string(62, 'b') + ".";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {l63 + ".", ""},
      {l64 + ".", "label longer than 63 bytes"},
      {n255, ""},
      {n256, "longer than 255 bytes"},
  };
  for (const auto& [name, error] : cases) {
    for (auto t : {type::CNAME, type::MX, type::SRV, type::SVCB}) {
      std::string text = name;
      if (t == type::MX) text = "1 " + name;
      if (t == type::SRV) text = "1 2 3 " + name;
      if (t == type::SVCB) text = "1 " + name + " port=1";
      SCOPED_TRACE(rrtype_to_text(t) + " " + text);
      const auto r = rdata_from_text(t, text);
      if (error.empty()) {
        ASSERT_TRUE(r.ok()) << r.error;
        EXPECT_EQ(rdata_to_text(t, r.wire), text);
      } else {
        EXPECT_NE(r.error.find(error), std::string::npos) << r.error;
      }
    }
  }
}

// ---- Wire rdata: compression, corruption ----

// A message: 12-byte header, then "example.com." at offset 12, then `rdata`.
struct Packet {
  Bytes bytes;
  std::size_t rdata_offset = 0;
};
Packet packet_with(const Bytes& rdata) {
  Packet p;
  p.bytes.assign(12, 0);
  const auto owner = wire_name({"example", "com"});
  p.bytes.insert(p.bytes.end(), owner.begin(), owner.end());
  p.rdata_offset = p.bytes.size();
  p.bytes.insert(p.bytes.end(), rdata.begin(), rdata.end());
  return p;
}

TEST(RdataFromWire, CompressedNamesAreExpanded) {
  struct Case {
    std::uint16_t type;
    Bytes rdata;
    std::string text;
  };
  const std::vector<Case> cases = {
      {type::CNAME, {3, 'w', 'w', 'w', 0xC0, 12}, "www.example.com."},
      {type::CNAME, {0xC0, 12}, "example.com."},
      {type::CNAME, {0xC0, 20}, "com."},
      {type::MX, {0, 10, 0xC0, 12}, "10 example.com."},
      {type::MX, {0, 5, 4, 'm', 'a', 'i', 'l', 0xC0, 12}, "5 mail.example.com."},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const auto p = packet_with(c.rdata);
    const auto r = rdata_from_wire(c.type, p.bytes, p.rdata_offset, c.rdata.size());
    ASSERT_TRUE(r.ok()) << r.error;
    EXPECT_EQ(rdata_to_text(c.type, r.wire), c.text);
    EXPECT_EQ(r.wire, rdata_from_text(c.type, c.text).wire);
  }
}

TEST(RdataFromWire, CorruptedPacketsAreRefused) {
  struct Case {
    std::string what;
    std::uint16_t type;
    Bytes rdata;
    std::size_t rdlength;  // as claimed in the record
    std::string error;
  };
  const std::vector<Case> cases = {
      {"rdlength past the message", type::CNAME, {0xC0, 12}, 3, "runs past the end of the message"},
      {"pointer cut by rdlength", type::CNAME, {3, 'w', 'w', 'w', 0xC0, 12}, 5, "malformed name"},
      {"label cut by rdlength", type::CNAME, {3, 'w', 'w', 'w', 0}, 3, "malformed name"},
      {"empty rdata", type::CNAME, {}, 0, "malformed name"},
      {"pointer forward", type::CNAME, {0xC0, 40, 0}, 3, "malformed name"},
      {"pointer to itself", type::CNAME, {0xC0, 25}, 2, "malformed name"},
      {"pointer loop", type::MX, {0, 1, 1, 'a', 0xC0, 27}, 6, "malformed name"},
      {"extended label type", type::CNAME, {0x40, 0}, 2, "malformed name"},
      {"trailing byte", type::CNAME, {0xC0, 12, 7}, 3, "CNAME: trailing bytes"},
      {"trailing after mx", type::MX, {0, 1, 0, 0}, 4, "MX: trailing bytes"},
      {"mx too short", type::MX, {0}, 1, "MX: rdata too short"},
      {"unprintable label", type::CNAME, {3, 'a', '.', 'b', 0}, 5, "without escapes"},
      {"unprintable via pointer", type::CNAME, {1, ' ', 0xC0, 12}, 4, "without escapes"},
      {"A of 5 bytes", type::A, {1, 2, 3, 4, 5}, 5, "A: rdata must be 4 bytes"},
      {"AAAA of 4 bytes", type::AAAA, {1, 2, 3, 4}, 4, "AAAA: rdata must be 16 bytes"},
      {"txt empty", type::TXT, {}, 0, "TXT: at least one string"},
      {"txt string past end", type::TXT, {3, 'a', 'b'}, 3, "TXT: string runs past"},
      {"srv compressed", type::SRV, {0, 1, 0, 2, 0, 3, 0xC0, 4}, 8, "compressed name not allowed"},
      {"srv pointer out of rdata", type::SRV, {0, 1, 0, 2, 0, 3, 0xC0, 12}, 8, "malformed name"},
      {"srv short", type::SRV, {0, 1, 0, 2, 0}, 5, "SRV: rdata too short"},
      {"srv trailing", type::SRV, {0, 1, 0, 2, 0, 3, 0, 9}, 8, "SRV: trailing bytes"},
      {"caa empty tag", type::CAA, {0, 0, 'x'}, 3, "CAA: tag must be"},
      {"caa tag past end", type::CAA, {0, 9, 'x'}, 3, "CAA: rdata too short"},
      {"caa tag with dash", type::CAA, {0, 2, 'a', '-'}, 4, "tag must be"},
      {"tlsa no data", type::TLSA, {3, 1, 1}, 3, "TLSA: rdata too short"},
      {"svcb compressed", type::SVCB, {0, 1, 0xC0, 0}, 4, "compressed name not allowed"},
      {"svcb keys out of order",
       type::SVCB,
       {0, 1, 0, 0, 3, 0, 2, 0, 80, 0, 1, 0, 3, 2, 'h', '2'},
       16,
       "strictly increasing"},
      {"svcb key repeated",
       type::SVCB,
       {0, 1, 0, 0, 3, 0, 2, 0, 80, 0, 3, 0, 2, 0, 81},
       15,
       "strictly increasing"},
      {"svcb value past end", type::HTTPS, {0, 1, 0, 0, 3, 0, 5, 0, 80}, 9, "runs past the end"},
      {"svcb port of 3 bytes",
       type::HTTPS,
       {0, 1, 0, 0, 3, 0, 3, 0, 80, 0},
       10,
       "port: value must be 2 bytes"},
      {"svcb alias with params", type::HTTPS, {0, 0, 0, 0, 3, 0, 2, 0, 80}, 9, "AliasMode"},
      {"svcb ipv4hint odd", type::HTTPS, {0, 1, 0, 0, 4, 0, 3, 1, 2, 3}, 10, "ipv4hint: needs"},
      {"svcb alpn empty id", type::HTTPS, {0, 1, 0, 0, 1, 0, 1, 0}, 8, "alpn: empty protocol id"},
      {"svcb alpn id past value", type::HTTPS, {0, 1, 0, 0, 1, 0, 2, 5, 'a'}, 9, "runs past"},
      {"svcb mandatory missing", type::HTTPS, {0, 1, 0, 0, 0, 0, 2, 0, 3}, 9, "port is missing"},
      {"svcb no-default-alpn alone", type::HTTPS, {0, 1, 0, 0, 2, 0, 0}, 7, "requires alpn"},
      {"svcb ech empty", type::HTTPS, {0, 1, 0, 0, 5, 0, 0}, 7, "ech: empty"},
      {"svcb key65535", type::HTTPS, {0, 1, 0, 0xFF, 0xFF, 0, 0}, 7, "reserved"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto p = packet_with(c.rdata);
    const auto r = rdata_from_wire(c.type, p.bytes, p.rdata_offset, c.rdlength);
    EXPECT_FALSE(r.ok());
    EXPECT_TRUE(r.wire.empty());
    EXPECT_NE(r.error.find(c.error), std::string::npos) << r.error;
    // Printing falls back to the RFC 3597 generic form for anything malformed.
    if (c.rdlength <= c.rdata.size()) {
      const auto text = rdata_to_text(c.type, std::span(c.rdata).first(c.rdlength));
      EXPECT_EQ(text.rfind("\\# ", 0), 0u) << text;
    }
  }
}

TEST(RdataFromWire, ManySvcParamsRoundTrip) {
  // mandatory listing 10000 generic keys, each present and empty: 60007 bytes.
  constexpr std::uint32_t kKeys = 10000;
  Bytes rd = {0,
              1,
              0,
              0,
              0,
              static_cast<std::uint8_t>((2 * kKeys) >> 8),
              static_cast<std::uint8_t>(2 * kKeys)};
  for (std::uint32_t k = 7; k < 7 + kKeys; ++k) {
    rd.push_back(static_cast<std::uint8_t>(k >> 8));
    rd.push_back(static_cast<std::uint8_t>(k));
  }
  for (std::uint32_t k = 7; k < 7 + kKeys; ++k)
    rd.insert(rd.end(), {static_cast<std::uint8_t>(k >> 8), static_cast<std::uint8_t>(k), 0, 0});
  const auto r = from_rdata(type::SVCB, rd);
  ASSERT_TRUE(r.ok()) << r.error;
  const auto text = rdata_to_text(type::SVCB, rd);
  EXPECT_EQ(rdata_from_text(type::SVCB, text).wire, rd);
  rd.resize(rd.size() - 4);  // the last listed key is now missing
  EXPECT_NE(from_rdata(type::SVCB, rd).error.find("key10006 is missing"), std::string::npos);
}

TEST(RdataFromWire, OffsetOutsideTheMessageIsRefused) {
  const Bytes msg = {1, 2, 3, 4};
  EXPECT_FALSE(rdata_from_wire(type::A, msg, 5, 0).ok());
  EXPECT_FALSE(rdata_from_wire(type::A, msg, 1, 4).ok());
  EXPECT_TRUE(rdata_from_wire(type::A, msg, 0, 4).ok());
  EXPECT_NE(rdata_from_wire(type::NS, msg, 0, 4).error.find("not supported"), std::string::npos);
}

TEST(RdataToText, OtherTypesPrintGeneric) {
  EXPECT_EQ(rdata_to_text(type::NS, Bytes{0xab, 0xcd}), R"(\# 2 abcd)");
  EXPECT_EQ(rdata_to_text(999, Bytes{}), R"(\# 0)");
  EXPECT_EQ(rdata_to_text(type::A, Bytes{1, 2, 3}), R"(\# 3 010203)");
}

// ---- Type names ----

TEST(RrType, NamesAndNumbers) {
  EXPECT_EQ(rrtype_from_text("TXT"), type::TXT);
  EXPECT_EQ(rrtype_from_text("txt"), type::TXT);
  EXPECT_EQ(rrtype_from_text("Https"), type::HTTPS);
  EXPECT_EQ(rrtype_from_text("CAA"), type::CAA);
  EXPECT_EQ(rrtype_from_text("TYPE16"), type::TXT);
  EXPECT_EQ(rrtype_from_text("type65535"), 65535);
  EXPECT_EQ(rrtype_from_text("TYPE0"), 0);
  EXPECT_EQ(rrtype_from_text("TYPE65536"), std::nullopt);
  EXPECT_EQ(rrtype_from_text("TYPE"), std::nullopt);
  EXPECT_EQ(rrtype_from_text("TYPE1x"), std::nullopt);
  EXPECT_EQ(rrtype_from_text("TXTX"), std::nullopt);
  EXPECT_EQ(rrtype_from_text(""), std::nullopt);
  EXPECT_EQ(rrtype_to_text(type::SVCB), "SVCB");
  EXPECT_EQ(rrtype_to_text(type::TSIG), "TSIG");
  EXPECT_EQ(rrtype_to_text(12345), "TYPE12345");
  for (std::uint16_t t : {type::A, type::AAAA, type::TXT, type::CNAME, type::MX, type::SRV,
                          type::CAA, type::TLSA, type::HTTPS, type::SVCB}) {
    EXPECT_TRUE(is_record_type(t)) << t;
    EXPECT_EQ(rrtype_from_text(rrtype_to_text(t)), t);
  }
  for (std::uint16_t t : {type::NS, type::SOA, type::OPT, type::TSIG, type::ANY, std::uint16_t{0}})
    EXPECT_FALSE(is_record_type(t)) << t;
}

}  // namespace
}  // namespace pweb::dns
