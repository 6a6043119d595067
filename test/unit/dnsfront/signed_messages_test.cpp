// RFC 2136 UPDATE and signed queries through the handler, against a real
// registrar (SQLite store): what is answered, and that refused updates change nothing.
#include "pweb/dns/signed_messages.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <future>

#include "../dns_test_util.hpp"
#include "../temp_dir.hpp"
#include "pweb/dns/query_processor.hpp"
#include "pweb/dns/tsig.hpp"
#include "pweb/registrar/sqlite_store.hpp"
#include "update_builder.hpp"

namespace pweb::dns {
namespace {

using testutil::build_update;
using testutil::Bytes;
using testutil::Rr;
using testutil::TsigSpec;
using testutil::UpdateSpec;

std::uint64_t now() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

Bytes txt(std::string_view s) {
  Bytes b;
  b.push_back(static_cast<std::uint8_t>(s.size()));
  for (const char c : s) b.push_back(static_cast<std::uint8_t>(c));
  return b;
}

class SignedMessagesTest : public ::testing::Test {
 protected:
  SignedMessagesTest()
      : authority_(make_authority()),
        holder_(registrar::Snapshot::build(devices(), 1)),
        registrar_(std::make_unique<registrar::SqliteStore>(dir_.path()), holder_, {}),
        handler_(
            authority_, holder_,
            [this](std::string_view key, const std::string&) -> std::optional<UpdateKey> {
              if (key != "tacme" && key != "trecords" && key != "texpired") return std::nullopt;
              UpdateKey k;
              k.secret.assign(testutil::kSecret.begin(), testutil::kSecret.end());
              k.device = "laptop.alice.uw";
              const bool acme = key != "trecords";
              k.allows = [acme](std::string_view sub, std::uint16_t type) {
                return !acme || (sub == "_acme-challenge" && type == type::TXT);
              };
              if (key == "texpired") k.refusal = "expired";
              return k;
            },
            [this](registrar::DeviceChange c,
                   std::function<void(const registrar::ChangeResult&)> d) {
              registrar_.apply_async(
                  {std::move(c)},
                  [d = std::move(d)](std::vector<registrar::ChangeResult> r) { d(r.at(0)); });
            },
            30) {
    registrar::DeviceChange seed[2];
    seed[0].name = "laptop.alice.uw";
    seed[0].ipv4 = registrar::FieldChange<registrar::Ipv4>::set({192, 0, 2, 10});
    seed[1].name = "phone.alice.uw";
    seed[1].ipv4 = registrar::FieldChange<registrar::Ipv4>::set({192, 0, 2, 11});
    registrar_.apply({seed[0], seed[1]});
  }
  ~SignedMessagesTest() override { registrar_.stop(); }

  static std::vector<registrar::DeviceRecord> devices() { return {}; }
  static Authority make_authority() {
    AuthorityConfig cfg;
    cfg.zones = {"dyn.example.org."};
    return Authority(cfg);
  }

  Bytes send(const Bytes& msg, std::size_t max = 65535) {
    std::promise<Bytes> p;
    auto f = p.get_future();
    handler_.handle(msg, Transport::tcp, "192.0.2.99", max,
                    [&p](std::vector<std::uint8_t> r) { p.set_value(std::move(r)); });
    EXPECT_EQ(f.wait_for(std::chrono::seconds(10)), std::future_status::ready);
    return f.get();
  }
  static int rcode(const Bytes& r) { return r.size() >= 4 ? (r[3] & 0xF) : -1; }

  UpdateSpec spec(std::string key, std::vector<Rr> updates) {
    UpdateSpec s;
    s.updates = std::move(updates);
    s.tsig = TsigSpec{};
    s.tsig->key = key + ".";
    s.tsig->time = now();
    return s;
  }

  std::optional<registrar::DeviceRecord> stored(const std::string& name) {
    registrar::SqliteStore store(dir_.path());
    return store.get(name);
  }

  pweb::testutil::TempDir dir_;
  Authority authority_;
  registrar::SnapshotHolder holder_;
  registrar::Registrar registrar_;
  SignedMessages handler_;
};

const char* kAcme = "_acme-challenge.laptop.alice.uw.dyn.example.org.";

TEST_F(SignedMessagesTest, AcmeTokenAddsAndDeletesItsChallengeOnly) {
  const auto add =
      send(build_update(spec("tacme", {Rr{kAcme, type::TXT, cls::IN, 120, txt("tok")}})));
  ASSERT_EQ(rcode(add), 0);
  // Durable before the answer, and visible to the DNS path.
  const auto d = stored("laptop.alice.uw");
  ASSERT_TRUE(d);
  ASSERT_EQ(d->rrsets.size(), 1u);
  EXPECT_EQ(d->rrsets[0].subname, "_acme-challenge");
  EXPECT_EQ(d->rrsets[0].ttl, 120u);
  testutil::QuerySpec q;
  q.name = kAcme;
  q.qtype = type::TXT;
  std::vector<std::uint8_t> out(4096);
  const auto p =
      process_query(testutil::build_query(q), out, Transport::udp, authority_, *holder_.current());
  EXPECT_EQ(testutil::decode(std::span(out.data(), p.response.size)).answer.size(), 1u);

  // The signed answer carries a TSIG RR (ARCOUNT 1) signed over the request MAC.
  EXPECT_EQ((add[10] << 8) | add[11], 1);

  // Low TTLs are raised to the minimum, not refused.
  ASSERT_EQ(
      rcode(send(build_update(spec("tacme", {Rr{kAcme, type::TXT, cls::IN, 5, txt("two")}})))), 0);
  EXPECT_EQ(stored("laptop.alice.uw")->rrsets[0].ttl, 30u);

  const auto del =
      send(build_update(spec("tacme", {Rr{kAcme, type::TXT, cls::NONE, 0, txt("tok")}})));
  ASSERT_EQ(rcode(del), 0);
  EXPECT_EQ(stored("laptop.alice.uw")->rrsets[0].rdata.size(), 1u);
}

TEST_F(SignedMessagesTest, RefusedUpdatesChangeNothing) {
  const auto before = stored("laptop.alice.uw");
  const auto other = stored("phone.alice.uw");
  struct Case {
    const char* what;
    Bytes msg;
    int rcode;
  };
  auto wrong_secret = spec("tacme", {Rr{kAcme, type::TXT, cls::IN, 60, txt("x")}});
  wrong_secret.tsig->secret[0] ^= 1;
  auto old = spec("tacme", {Rr{kAcme, type::TXT, cls::IN, 60, txt("x")}});
  old.tsig->time = now() - 3600;  // a replay outside the time window
  auto unsigned_update = spec("tacme", {Rr{kAcme, type::TXT, cls::IN, 60, txt("x")}});
  unsigned_update.tsig.reset();
  auto other_zone =
      spec("tacme",
           {Rr{"_acme-challenge.laptop.alice.uw.other.org.", type::TXT, cls::IN, 60, txt("x")}});
  other_zone.zone = "other.org.";
  auto prereq = spec("trecords", {Rr{kAcme, type::TXT, cls::IN, 60, txt("x")}});
  prereq.prereqs = {Rr{"www.laptop.alice.uw.dyn.example.org.", type::TXT, cls::ANY, 0, {}}};
  const std::vector<Case> cases = {
      {"A at the device with an acme token",
       build_update(spec(
           "tacme", {Rr{"laptop.alice.uw.dyn.example.org.", type::A, cls::IN, 60, {1, 2, 3, 4}}})),
       5},
      {"TXT at another device",
       build_update(spec("tacme", {Rr{"_acme-challenge.phone.alice.uw.dyn.example.org.", type::TXT,
                                      cls::IN, 60, txt("x")}})),
       5},
      {"TXT at another device, records token",
       build_update(spec("trecords", {Rr{"www.phone.alice.uw.dyn.example.org.", type::TXT, cls::IN,
                                         60, txt("x")}})),
       5},
      {"outside the zone",
       build_update(spec("trecords", {Rr{"x.example.net.", type::TXT, cls::IN, 60, txt("x")}})),
       10},
      {"unknown key", build_update(spec("tnobody", {Rr{kAcme, type::TXT, cls::IN, 60, txt("x")}})),
       9},
      {"wrong secret", build_update(wrong_secret), 9},
      {"outside the time window", build_update(old), 9},
      {"unsigned", build_update(unsigned_update), 5},
      {"expired token",
       build_update(spec("texpired", {Rr{kAcme, type::TXT, cls::IN, 60, txt("x")}})), 5},
      {"a zone not served", build_update(other_zone), 9},
      {"a failed prerequisite", build_update(prereq), 8},
      {"an unknown type",
       build_update(
           spec("trecords", {Rr{"x.laptop.alice.uw.dyn.example.org.", 99, cls::IN, 60, {1}}})),
       5},
      {"malformed TXT",
       build_update(
           spec("trecords",
                {Rr{"x.laptop.alice.uw.dyn.example.org.", type::TXT, cls::IN, 60, {9, 'a'}}})),
       1},
      {"CNAME beside the address",
       build_update(spec("trecords", {Rr{"laptop.alice.uw.dyn.example.org.", type::CNAME, cls::IN,
                                         60, testutil::name_wire("a.example.org.")}})),
       0},  // §3.4.2.2: ignored, the update succeeds without effect
  };
  for (const auto& c : cases) {
    EXPECT_EQ(rcode(send(c.msg)), c.rcode) << c.what;
    EXPECT_EQ(stored("laptop.alice.uw"), before) << c.what << ": changed the device";
    EXPECT_EQ(stored("phone.alice.uw"), other) << c.what << ": changed another device";
  }
}

TEST_F(SignedMessagesTest, SignedQueriesAreAnsweredAndSigned) {
  testutil::QuerySpec q;
  q.name = "dyn.example.org.";
  q.qtype = type::SOA;
  const Bytes plain = testutil::build_query(q);
  TsigSpec t;
  t.key = "tacme.";
  t.time = now();
  const Bytes ok = send(testutil::sign(plain, t));
  ASSERT_EQ(rcode(ok), 0);
  const auto d = testutil::decode(std::span(ok.data(), ok.size()));
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rtype, type::SOA);
  EXPECT_TRUE(d.has(flag::AA));
  ASSERT_EQ(d.additional.size(), 1u);
  EXPECT_EQ(d.additional[0].rtype, type::TSIG);
  // The response's MAC verifies against the request's (as certbot's dnspython checks).
  TsigRecord req_tsig, resp_tsig;
  const Bytes signed_query = testutil::sign(plain, t);
  ASSERT_EQ(find_tsig(signed_query, req_tsig), TsigFind::ok);
  ASSERT_EQ(find_tsig(ok, resp_tsig), TsigFind::ok);
  EXPECT_EQ(tsig_verify(ok, resp_tsig, testutil::kSecret, now(), req_tsig.mac(signed_query)),
            TsigResult::ok);

  t.secret[0] ^= 1;
  EXPECT_EQ(rcode(send(testutil::sign(plain, t))), 9) << "NOTAUTH for a bad MAC";
}

}  // namespace
}  // namespace pweb::dns
