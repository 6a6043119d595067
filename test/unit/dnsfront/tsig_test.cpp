#include "pweb/dns/tsig.hpp"

#include <gtest/gtest.h>

#include "../dns_test_util.hpp"
#include "pweb/dns/update.hpp"
#include "update_builder.hpp"

namespace pweb::dns {
namespace {

using testutil::build_update;
using testutil::Bytes;
using testutil::kSecret;
using testutil::kTime;
using testutil::TsigSpec;
using testutil::UpdateSpec;

constexpr const char* kOwner = "laptop.alice.uw.dyn.example.org.";

UpdateSpec one_add() {
  UpdateSpec spec;
  spec.updates = {{kOwner, type::A, cls::IN, 300, testutil::kA1}};
  return spec;
}

TsigResult verify(const Bytes& p, const Bytes& secret, std::uint64_t now) {
  UpdateMessage m;
  if (parse_update(p, m) != UpdateParse::ok || !m.has_tsig) return TsigResult::formerr;
  return tsig_verify(p, m.tsig, secret, now);
}

TEST(TsigVerify, RealClientsVerify) {
  for (const auto& f : testutil::kFixtures) {
    const auto p = testutil::from_hex(f.hex);
    UpdateMessage m;
    ASSERT_EQ(parse_update(p, m), UpdateParse::ok) << f.name;
    const auto t = m.tsig.time_signed;
    EXPECT_EQ(tsig_verify(p, m.tsig, kSecret, t), TsigResult::ok) << f.name;
    EXPECT_EQ(tsig_verify(p, m.tsig, kSecret, t + 300), TsigResult::ok) << f.name;
    EXPECT_EQ(tsig_verify(p, m.tsig, kSecret, t + 301), TsigResult::badtime) << f.name;
    // Each byte before the TSIG RR is covered: changing it breaks the MAC (or the parse).
    for (std::size_t i = 2; i < m.tsig.rr_offset; ++i) {  // the ID is not: original ID is
      auto q = p;
      q[i] ^= 0x01;
      UpdateMessage mq;
      if (parse_update(q, mq) != UpdateParse::ok || !mq.has_tsig) continue;
      EXPECT_EQ(tsig_verify(q, mq.tsig, kSecret, t), TsigResult::badsig) << f.name << " @" << i;
    }
  }
}

TEST(TsigVerify, OwnBuilderAgreesWithRealClients) {
  // Our test signer, re-signing the dnspython packet, gives dnspython's MAC.
  const auto p = testutil::from_hex(testutil::kFixtures[0].hex);
  UpdateMessage m;
  ASSERT_EQ(parse_update(p, m), UpdateParse::ok);
  Bytes unsigned_msg(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(m.tsig.rr_offset));
  unsigned_msg[11] = static_cast<std::uint8_t>(unsigned_msg[11] - 1);
  TsigSpec t;
  t.time = m.tsig.time_signed;
  EXPECT_EQ(testutil::sign(unsigned_msg, t), p);
}

struct BadCase {
  const char* what;
  TsigSpec tsig;
  Bytes secret;
  std::uint64_t now;
  TsigResult want;
};

TEST(TsigVerify, EveryFailure) {
  auto with = [](auto f) {
    TsigSpec t;
    f(t);
    return t;
  };
  Bytes other_secret = kSecret;
  other_secret[0] ^= 1;
  const BadCase cases[] = {
      {"good", {}, kSecret, kTime, TsigResult::ok},
      {"good, upper-case key and algorithm", with([](TsigSpec& t) {
         t.key = "TOK1.";
         t.alg = "HMAC-SHA256.";
       }),
       kSecret, kTime, TsigResult::ok},
      {"fudge edge, late", {}, kSecret, kTime + 300, TsigResult::ok},
      {"fudge edge, early", {}, kSecret, kTime - 300, TsigResult::ok},
      {"too late", {}, kSecret, kTime + 301, TsigResult::badtime},
      {"too early", {}, kSecret, kTime - 301, TsigResult::badtime},
      {"fudge 0, one second off", with([](TsigSpec& t) { t.fudge = 0; }), kSecret, kTime + 1,
       TsigResult::badtime},
      {"unknown key (no secret)", {}, {}, kTime, TsigResult::badkey},
      {"other secret", {}, other_secret, kTime, TsigResult::badsig},
      {"signed with another key name", with([](TsigSpec& t) { t.key = "tok2."; }), kSecret, kTime,
       TsigResult::ok},  // the name is digested, so it verifies under its own name
      {"hmac-sha1", with([](TsigSpec& t) { t.alg = "hmac-sha1."; }), kSecret, kTime,
       TsigResult::badkey},
      {"hmac-sha512", with([](TsigSpec& t) { t.alg = "hmac-sha512."; }), kSecret, kTime,
       TsigResult::badkey},
      {"hmac-md5", with([](TsigSpec& t) { t.alg = "hmac-md5.sig-alg.reg.int."; }), kSecret, kTime,
       TsigResult::badkey},
      {"MAC of 33 bytes", with([](TsigSpec& t) { t.mac = Bytes(33, 1); }), kSecret, kTime,
       TsigResult::formerr},
      {"MAC of 15 bytes", with([](TsigSpec& t) { t.mac_len = 15; }), kSecret, kTime,
       TsigResult::formerr},
      {"empty MAC", with([](TsigSpec& t) { t.mac = Bytes{}; }), kSecret, kTime,
       TsigResult::formerr},
      {"truncated to 16, valid", with([](TsigSpec& t) { t.mac_len = 16; }), kSecret, kTime,
       TsigResult::badtrunc},
      {"truncated to 16, wrong", with([](TsigSpec& t) { t.mac = Bytes(16, 7); }), kSecret, kTime,
       TsigResult::badsig},
      {"garbage MAC", with([](TsigSpec& t) { t.mac = Bytes(32, 0); }), kSecret, kTime,
       TsigResult::badsig},
      {"wrong original id", with([](TsigSpec& t) { t.original_id = 1; }), kSecret, kTime,
       TsigResult::ok},  // digested as sent: the ID may be rewritten on the way (§4.3.1)
      {"other data", with([](TsigSpec& t) {
         t.other = {1, 2, 3};
       }),
       kSecret, kTime, TsigResult::ok},
  };
  for (const auto& c : cases) {
    UpdateSpec spec = one_add();
    spec.tsig = c.tsig;
    EXPECT_EQ(verify(build_update(spec), c.secret, c.now), c.want) << c.what;
  }
}

TEST(TsigVerify, TamperedFieldsFail) {
  const auto good = build_update(one_add());
  UpdateMessage m;
  ASSERT_EQ(parse_update(good, m), UpdateParse::ok);
  struct Case {
    const char* what;
    std::size_t at;
  };
  const Case cases[] = {
      {"mac bit", m.tsig.mac_offset + 31},
      {"key name letter", m.tsig.rr_offset + 4},  // tok1. -> tok0.
      {"time signed", m.tsig.mac_offset - 5},
      {"fudge", m.tsig.mac_offset - 3},
      {"error", m.tsig.mac_offset + 32 + 3},
      {"message id with original id kept", 1},
      {"flags", 2},
  };
  for (const auto& c : cases) {
    auto p = good;
    p[c.at] ^= 0x01;
    UpdateMessage mq;
    ASSERT_EQ(parse_update(p, mq), UpdateParse::ok) << c.what;
    const auto r = tsig_verify(p, mq.tsig, kSecret, kTime);
    if (std::string_view(c.what) == "message id with original id kept") {
      EXPECT_EQ(r, TsigResult::ok) << c.what;  // the MAC uses the original ID
    } else {
      EXPECT_EQ(r, TsigResult::badsig) << c.what;
    }
  }
}

TEST(FindTsig, AnyOpcode) {
  // A signed QUERY: the same TSIG code serves other opcodes.
  auto q = testutil::build_query({});
  TsigRecord t;
  EXPECT_EQ(find_tsig(q, t), TsigFind::none);
  const auto signed_q = testutil::sign(q, TsigSpec{});
  ASSERT_EQ(find_tsig(signed_q, t), TsigFind::ok);
  EXPECT_EQ(tsig_verify(signed_q, t, kSecret, kTime), TsigResult::ok);
  EXPECT_EQ(find_tsig(testutil::sign(signed_q, TsigSpec{}), t), TsigFind::formerr);
  auto trailing = signed_q;
  trailing.push_back(0);
  EXPECT_EQ(find_tsig(trailing, t), TsigFind::formerr);
  for (std::size_t n = 0; n < signed_q.size(); ++n) {
    EXPECT_NE(find_tsig(std::span(signed_q.data(), n), t), TsigFind::ok) << n;
  }
}

TEST(TsigAppend, MatchesIndependentSigner) {
  auto msg = build_update([] {
    auto s = one_add();
    s.tsig.reset();
    return s;
  }());
  Name key;
  ASSERT_TRUE(name_from_text("Tok1.", key));
  Bytes buf(msg.size() + 200);
  WireWriter w(buf);
  w.bytes(msg);
  TsigSign s;
  s.key_name = &key;
  s.secret = kSecret;
  s.time_signed = kTime;
  s.original_id = 0x4242;
  ASSERT_TRUE(tsig_append(w, s));
  buf.resize(w.pos());
  TsigSpec t;
  t.key = "Tok1.";
  EXPECT_EQ(buf, testutil::sign(msg, t));

  Bytes tiny(msg.size() + 10);
  WireWriter w2(tiny);
  w2.bytes(msg);
  EXPECT_FALSE(tsig_append(w2, s));
  s.key_name = nullptr;
  EXPECT_FALSE(tsig_append(w2, s));
}

// Parses a response, checks its TSIG RR and recomputes its MAC independently.
struct Response {
  testutil::Decoded d;
  TsigRecord t;
  Bytes mac, other;
};

Response read_response(std::span<const std::uint8_t> r) {
  Response out;
  out.d = testutil::decode(r);
  EXPECT_TRUE(out.d.ok);
  EXPECT_EQ(find_tsig(r, out.t), TsigFind::ok);
  const auto mac = out.t.mac(r);
  out.mac.assign(mac.begin(), mac.end());
  const auto other = r.subspan(out.t.other_offset, out.t.other_len);
  out.other.assign(other.begin(), other.end());
  return out;
}

Bytes recompute(std::span<const std::uint8_t> r, const Response& resp, const Bytes& request_mac) {
  Bytes msg(r.begin(), r.begin() + static_cast<std::ptrdiff_t>(resp.t.rr_offset));
  msg[11] = static_cast<std::uint8_t>(msg[11] - 1);
  return testutil::expected_mac(kSecret, request_mac, msg, testutil::name_wire("tok1."),
                                testutil::name_wire("hmac-sha256."), resp.t.time_signed,
                                resp.t.fudge, resp.t.error, resp.other);
}

TEST(UpdateResponse, SignedOverRequestMac) {
  const auto req = build_update(one_add());
  UpdateMessage m;
  ASSERT_EQ(parse_update(req, m), UpdateParse::ok);
  ASSERT_EQ(tsig_verify(req, m.tsig, kSecret, kTime + 5), TsigResult::ok);
  const Bytes req_mac(req.begin() + static_cast<std::ptrdiff_t>(m.tsig.mac_offset),
                      req.begin() + static_cast<std::ptrdiff_t>(m.tsig.mac_offset + 32));
  for (auto rc : {Rcode::noerror, Rcode::refused, Rcode::yxrrset}) {
    std::array<std::uint8_t, 1024> out{};
    const auto n = write_update_response(req, m, rc, TsigResult::ok, kSecret, kTime + 5, out);
    ASSERT_GT(n, 0u);
    const auto r = std::span<const std::uint8_t>(out.data(), n);
    const auto resp = read_response(r);
    EXPECT_EQ(resp.d.rcode(), static_cast<unsigned>(rc));
    EXPECT_EQ(resp.d.header.arcount, 1);
    EXPECT_EQ(resp.t.error, 0);
    EXPECT_EQ(resp.t.time_signed, kTime + 5);
    EXPECT_EQ(resp.t.original_id, 0x4242);
    EXPECT_EQ(resp.mac, recompute(r, resp, req_mac));
    EXPECT_EQ(tsig_verify(r, resp.t, kSecret, kTime + 5, req_mac), TsigResult::ok);
    // Without the request MAC (§5.3) it would not verify.
    EXPECT_EQ(tsig_verify(r, resp.t, kSecret, kTime + 5), TsigResult::badsig);
  }
}

TEST(UpdateResponse, BadtimeIsSignedWithServerTime) {
  const auto req = build_update(one_add());
  UpdateMessage m;
  ASSERT_EQ(parse_update(req, m), UpdateParse::ok);
  const std::uint64_t now = kTime + 1000;
  ASSERT_EQ(tsig_verify(req, m.tsig, kSecret, now), TsigResult::badtime);
  const Bytes req_mac(req.begin() + static_cast<std::ptrdiff_t>(m.tsig.mac_offset),
                      req.begin() + static_cast<std::ptrdiff_t>(m.tsig.mac_offset + 32));
  std::array<std::uint8_t, 1024> out{};
  const auto n =
      write_update_response(req, m, Rcode::noerror, TsigResult::badtime, kSecret, now, out);
  ASSERT_GT(n, 0u);
  const auto r = std::span<const std::uint8_t>(out.data(), n);
  const auto resp = read_response(r);
  EXPECT_EQ(resp.d.rcode(), static_cast<unsigned>(Rcode::notauth));
  EXPECT_EQ(resp.t.error, static_cast<std::uint16_t>(TsigError::badtime));
  EXPECT_EQ(resp.t.time_signed, kTime);  // the request's
  ASSERT_EQ(resp.other.size(), 6u);
  std::uint64_t server = 0;
  for (auto b : resp.other) server = (server << 8) | b;
  EXPECT_EQ(server, now);
  EXPECT_EQ(resp.mac, recompute(r, resp, req_mac));
}

TEST(UpdateResponse, BadkeyAndBadsigAreUnsigned) {
  UpdateSpec spec = one_add();
  spec.tsig->alg = "hmac-sha1.";
  const auto req = build_update(spec);
  for (auto [tr, secret] :
       {std::pair{TsigResult::badkey, Bytes{}}, std::pair{TsigResult::badsig, Bytes(kSecret)}}) {
    UpdateMessage m;
    ASSERT_EQ(parse_update(req, m), UpdateParse::ok);
    std::array<std::uint8_t, 1024> out{};
    const auto n = write_update_response(req, m, Rcode::noerror, tr, secret, kTime, out);
    ASSERT_GT(n, 0u);
    const auto resp = read_response(std::span<const std::uint8_t>(out.data(), n));
    EXPECT_EQ(resp.d.rcode(), static_cast<unsigned>(Rcode::notauth));
    EXPECT_EQ(resp.t.error, static_cast<std::uint16_t>(tsig_error(tr)));
    EXPECT_EQ(resp.t.mac_size, 0);
    EXPECT_EQ(name_to_text(resp.t.algorithm), "hmac-sha1.");  // echoed
    EXPECT_EQ(name_to_text(resp.t.key_name), "tok1.");
  }
}

TEST(UpdateResponse, TsigFormerrHasNoTsig) {
  UpdateSpec spec = one_add();
  spec.tsig->mac = Bytes(40, 1);
  const auto req = build_update(spec);
  UpdateMessage m;
  ASSERT_EQ(parse_update(req, m), UpdateParse::ok);
  ASSERT_EQ(tsig_verify(req, m.tsig, kSecret, kTime), TsigResult::formerr);
  std::array<std::uint8_t, 1024> out{};
  const auto n =
      write_update_response(req, m, Rcode::noerror, TsigResult::formerr, kSecret, kTime, out);
  const auto d = testutil::decode(std::span<const std::uint8_t>(out.data(), n));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), static_cast<unsigned>(Rcode::formerr));
  EXPECT_EQ(d.header.arcount, 0);
}

}  // namespace
}  // namespace pweb::dns
