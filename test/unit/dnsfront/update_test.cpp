#include "pweb/dns/update.hpp"

#include <gtest/gtest.h>

#include "../dns_test_util.hpp"
#include "update_builder.hpp"

namespace pweb::dns {
namespace {

using testutil::build_update;
using testutil::Bytes;
using testutil::kA1;
using testutil::Rr;
using testutil::UpdateSpec;

constexpr const char* kOwner = "laptop.alice.uw.dyn.example.org.";

UpdateParse parse(const Bytes& p, UpdateMessage& m) { return parse_update(p, m); }

struct PrereqCase {
  const char* what;
  Rr rr;
  Rcode rcode;
  PrereqKind kind;
};

TEST(ClassifyPrerequisite, EveryFormAndEveryBadCombination) {
  const PrereqCase cases[] = {
      {"2.4.1 rrset exists",
       {kOwner, type::A, cls::ANY, 0, {}},
       Rcode::noerror,
       PrereqKind::rrset_exists},
      {"2.4.2 value dependent",
       {kOwner, type::A, cls::IN, 0, kA1},
       Rcode::noerror,
       PrereqKind::rrset_exists_value},
      {"2.4.3 rrset absent",
       {kOwner, type::AAAA, cls::NONE, 0, {}},
       Rcode::noerror,
       PrereqKind::rrset_absent},
      {"2.4.4 name in use",
       {kOwner, type::ANY, cls::ANY, 0, {}},
       Rcode::noerror,
       PrereqKind::name_in_use},
      {"2.4.5 name not in use",
       {kOwner, type::ANY, cls::NONE, 0, {}},
       Rcode::noerror,
       PrereqKind::name_not_in_use},
      {"zone apex",
       {"dyn.example.org.", type::SOA, cls::ANY, 0, {}},
       Rcode::noerror,
       PrereqKind::rrset_exists},
      {"case differs from zone",
       {"X.DYN.Example.ORG.", type::A, cls::ANY, 0, {}},
       Rcode::noerror,
       PrereqKind::rrset_exists},
      {"ttl not 0", {kOwner, type::A, cls::ANY, 1, {}}, Rcode::formerr, {}},
      {"ttl not 0, value dependent", {kOwner, type::A, cls::IN, 300, kA1}, Rcode::formerr, {}},
      {"ANY with rdata", {kOwner, type::A, cls::ANY, 0, kA1}, Rcode::formerr, {}},
      {"NONE with rdata", {kOwner, type::A, cls::NONE, 0, kA1}, Rcode::formerr, {}},
      {"ANY name in use with rdata", {kOwner, type::ANY, cls::ANY, 0, kA1}, Rcode::formerr, {}},
      {"class CH", {kOwner, type::A, 3, 0, kA1}, Rcode::formerr, {}},
      {"meta type AXFR", {kOwner, type::AXFR, cls::ANY, 0, {}}, Rcode::formerr, {}},
      {"meta type TSIG", {kOwner, type::TSIG, cls::NONE, 0, {}}, Rcode::formerr, {}},
      {"value dependent ANY", {kOwner, type::ANY, cls::IN, 0, kA1}, Rcode::formerr, {}},
      {"value dependent OPT", {kOwner, type::OPT, cls::IN, 0, {}}, Rcode::formerr, {}},
      {"outside the zone", {"laptop.example.net.", type::A, cls::ANY, 0, {}}, Rcode::notzone, {}},
      {"parent of the zone", {"example.org.", type::A, cls::ANY, 0, {}}, Rcode::notzone, {}},
      {"label suffix only", {"xdyn.example.org.", type::A, cls::ANY, 0, {}}, Rcode::notzone, {}},
  };
  for (const auto& c : cases) {
    UpdateSpec spec;
    spec.prereqs = {c.rr};
    const auto p = build_update(spec);
    UpdateMessage m;
    ASSERT_EQ(parse(p, m), UpdateParse::ok) << c.what;
    ASSERT_EQ(m.prerequisites.size(), 1u);
    const auto got = classify_prerequisite(m, m.prerequisites[0]);
    EXPECT_EQ(got.rcode, c.rcode) << c.what;
    if (c.rcode == Rcode::noerror) {
      EXPECT_EQ(got.kind, c.kind) << c.what;
    }
    EXPECT_EQ(check_update_sections(m), c.rcode) << c.what;
  }
}

struct UpdateCase {
  const char* what;
  Rr rr;
  Rcode rcode;
  UpdateKind kind;
};

TEST(ClassifyUpdate, EveryFormAndEveryBadCombination) {
  const UpdateCase cases[] = {
      {"2.5.1 add", {kOwner, type::A, cls::IN, 300, kA1}, Rcode::noerror, UpdateKind::add},
      {"2.5.1 add TXT below",
       {"_acme-challenge.laptop.alice.uw.dyn.example.org.", 16, cls::IN, 60, {3, 'a', 'b', 'c'}},
       Rcode::noerror,
       UpdateKind::add},
      {"2.5.2 delete rrset",
       {kOwner, type::AAAA, cls::ANY, 0, {}},
       Rcode::noerror,
       UpdateKind::delete_rrset},
      {"2.5.3 delete name",
       {kOwner, type::ANY, cls::ANY, 0, {}},
       Rcode::noerror,
       UpdateKind::delete_name},
      {"2.5.4 delete rr",
       {kOwner, type::A, cls::NONE, 0, kA1},
       Rcode::noerror,
       UpdateKind::delete_rr},
      {"add ANY", {kOwner, type::ANY, cls::IN, 300, kA1}, Rcode::formerr, {}},
      {"add AXFR", {kOwner, type::AXFR, cls::IN, 300, {}}, Rcode::formerr, {}},
      {"add MAILA", {kOwner, type::MAILA, cls::IN, 300, {}}, Rcode::formerr, {}},
      {"add MAILB", {kOwner, type::MAILB, cls::IN, 300, {}}, Rcode::formerr, {}},
      {"add IXFR", {kOwner, type::IXFR, cls::IN, 300, {}}, Rcode::formerr, {}},
      {"add TSIG", {kOwner, type::TSIG, cls::IN, 0, {}}, Rcode::formerr, {}},
      {"add OPT", {kOwner, type::OPT, cls::IN, 0, {}}, Rcode::formerr, {}},
      {"ANY with ttl", {kOwner, type::A, cls::ANY, 1, {}}, Rcode::formerr, {}},
      {"ANY with rdata", {kOwner, type::A, cls::ANY, 0, kA1}, Rcode::formerr, {}},
      {"ANY AXFR", {kOwner, type::AXFR, cls::ANY, 0, {}}, Rcode::formerr, {}},
      {"ANY MAILB", {kOwner, type::MAILB, cls::ANY, 0, {}}, Rcode::formerr, {}},
      {"NONE with ttl", {kOwner, type::A, cls::NONE, 300, kA1}, Rcode::formerr, {}},
      {"NONE ANY", {kOwner, type::ANY, cls::NONE, 0, {}}, Rcode::formerr, {}},
      {"NONE AXFR", {kOwner, type::AXFR, cls::NONE, 0, {}}, Rcode::formerr, {}},
      {"class CH", {kOwner, type::A, 3, 300, kA1}, Rcode::formerr, {}},
      {"outside the zone", {"a.example.net.", type::A, cls::IN, 300, kA1}, Rcode::notzone, {}},
      {"outside wins over class", {"a.example.net.", type::A, 3, 300, kA1}, Rcode::notzone, {}},
      {"root", {".", type::A, cls::ANY, 0, {}}, Rcode::notzone, {}},
  };
  for (const auto& c : cases) {
    UpdateSpec spec;
    spec.updates = {c.rr};
    const auto p = build_update(spec);
    UpdateMessage m;
    ASSERT_EQ(parse(p, m), UpdateParse::ok) << c.what;
    ASSERT_EQ(m.updates.size(), 1u);
    const auto got = classify_update(m, m.updates[0]);
    EXPECT_EQ(got.rcode, c.rcode) << c.what;
    if (c.rcode == Rcode::noerror) {
      EXPECT_EQ(got.kind, c.kind) << c.what;
    }
    EXPECT_EQ(check_update_sections(m), c.rcode) << c.what;
  }
}

TEST(CheckUpdateSections, PrerequisitesAreCheckedBeforeUpdates) {
  UpdateSpec spec;
  spec.prereqs = {{"a.example.net.", type::A, cls::ANY, 0, {}}};  // NOTZONE
  spec.updates = {{kOwner, type::ANY, cls::IN, 300, {}}};         // FORMERR
  UpdateMessage m;
  ASSERT_EQ(parse(build_update(spec), m), UpdateParse::ok);
  EXPECT_EQ(check_update_sections(m), Rcode::notzone);
}

TEST(ParseUpdate, RecordsKeepOffsetsIntoTheMessage) {
  UpdateSpec spec;
  spec.prereqs = {{kOwner, type::A, cls::IN, 0, kA1}};
  spec.updates = {{"Laptop.Alice.uw.dyn.example.org.", type::A, cls::IN, 300, {192, 0, 2, 2}}};
  const auto p = build_update(spec);
  UpdateMessage m;
  ASSERT_EQ(parse(p, m), UpdateParse::ok);
  EXPECT_EQ(m.header.id, 0x4242);
  EXPECT_EQ(name_to_text(m.zone), "dyn.example.org.");
  EXPECT_EQ(m.zone_type, type::SOA);
  EXPECT_EQ(m.zone_class, cls::IN);
  const auto rd = m.prerequisites[0].rdata(p);
  EXPECT_EQ(Bytes(rd.begin(), rd.end()), kA1);
  const auto& u = m.updates[0];
  EXPECT_EQ(name_to_text(u.owner), "Laptop.Alice.uw.dyn.example.org.");  // case kept
  EXPECT_EQ(u.ttl, 300u);
  EXPECT_EQ(u.rdlength, 4);
  EXPECT_EQ(p[u.rdata_offset + 3], 2);
  EXPECT_TRUE(m.has_tsig);
  EXPECT_FALSE(m.has_edns);
  EXPECT_EQ(name_to_text(m.tsig.key_name), "tok1.");
  EXPECT_EQ(m.tsig.time_signed, testutil::kTime);
  EXPECT_EQ(m.tsig.fudge, 300);
  EXPECT_EQ(m.tsig.mac_size, 32);
  EXPECT_EQ(m.tsig.original_id, 0x4242);
}

TEST(ParseUpdate, RealClientsParseAndClassify) {
  for (const auto& f : testutil::kFixtures) {
    const auto p = testutil::from_hex(f.hex);
    UpdateMessage m;
    ASSERT_EQ(parse(p, m), UpdateParse::ok) << f.name;
    EXPECT_EQ(name_to_text(m.zone), "dyn.example.org.") << f.name;
    EXPECT_EQ(m.prerequisites.size(), f.prereqs) << f.name;
    EXPECT_EQ(m.updates.size(), f.updates) << f.name;
    EXPECT_TRUE(m.has_tsig) << f.name;
    EXPECT_EQ(check_update_sections(m), Rcode::noerror) << f.name;
  }
  // The dnspython packet holds each form once, in this order.
  const auto p = testutil::from_hex(testutil::kFixtures[0].hex);
  UpdateMessage m;
  ASSERT_EQ(parse(p, m), UpdateParse::ok);
  const PrereqKind pk[] = {PrereqKind::name_in_use, PrereqKind::name_not_in_use,
                           PrereqKind::rrset_exists, PrereqKind::rrset_exists_value,
                           PrereqKind::rrset_absent};
  const UpdateKind uk[] = {UpdateKind::add, UpdateKind::delete_rrset, UpdateKind::delete_name,
                           UpdateKind::delete_rr};
  for (std::size_t i = 0; i < 5; ++i)
    EXPECT_EQ(classify_prerequisite(m, m.prerequisites[i]).kind, pk[i]) << i;
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ(classify_update(m, m.updates[i]).kind, uk[i]) << i;
  // Compressed owners were expanded.
  EXPECT_EQ(name_to_text(m.updates[2].owner), "old.alice.uw.dyn.example.org.");
}

TEST(ParseUpdate, EveryTruncationIsRejected) {
  UpdateSpec spec;
  spec.prereqs = {{kOwner, type::A, cls::IN, 0, kA1}};
  spec.updates = {{kOwner, type::A, cls::IN, 300, kA1}, {kOwner, type::ANY, cls::ANY, 0, {}}};
  spec.additional = {{".", type::OPT, 1232, 0, {}}};
  for (const auto& full : {build_update(spec), testutil::from_hex(testutil::kFixtures[0].hex),
                           testutil::from_hex(testutil::kFixtures[3].hex)}) {
    for (std::size_t n = 0; n < full.size(); ++n) {
      UpdateMessage m;
      const auto st = parse_update(std::span(full.data(), n), m);
      EXPECT_TRUE(st == UpdateParse::drop || st == UpdateParse::formerr) << "prefix " << n;
      EXPECT_EQ(st == UpdateParse::drop, n < kHeaderSize) << n;
    }
  }
}

TEST(ParseUpdate, WrongCountsAndSectionsAreFormerr) {
  UpdateSpec spec;
  spec.prereqs = {{kOwner, type::A, cls::ANY, 0, {}}};
  spec.updates = {{kOwner, type::A, cls::IN, 300, kA1}};
  const auto good = build_update(spec);
  struct Case {
    const char* what;
    std::size_t at;  // count field offset
    int delta;
  };
  const Case cases[] = {
      {"zocount 0", 4, -1},  {"zocount 2", 4, +1},  {"ancount +1", 6, +1},  {"ancount -1", 6, -1},
      {"nscount +1", 8, +1}, {"nscount -1", 8, -1}, {"arcount +1", 10, +1}, {"arcount -1", 10, -1},
  };
  for (const auto& c : cases) {
    auto p = good;
    p[c.at + 1] = static_cast<std::uint8_t>(p[c.at + 1] + c.delta);
    UpdateMessage m;
    EXPECT_EQ(parse(p, m), UpdateParse::formerr) << c.what;
  }
  UpdateMessage m;
  ASSERT_EQ(parse(good, m), UpdateParse::ok);

  auto trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(parse(trailing, m), UpdateParse::formerr);
  EXPECT_FALSE(m.has_tsig);  // so the FORMERR goes back unsigned

  spec.ztype = type::A;  // §3.1.1: the zone section's type must be SOA
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::formerr);
  EXPECT_TRUE(m.has_zone);  // echoed in the FORMERR
}

TEST(ParseUpdate, HeaderDecidesDropAndNotimp) {
  UpdateSpec spec;
  auto p = build_update(spec);
  UpdateMessage m;
  EXPECT_EQ(parse_update(std::span(p.data(), 11), m), UpdateParse::drop);
  p[2] |= 0x80;  // QR
  EXPECT_EQ(parse(p, m), UpdateParse::drop);
  spec.flags = 0;  // QUERY
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::notimp);
  spec.flags = static_cast<std::uint16_t>(4 << 11);  // NOTIFY
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::notimp);
}

TEST(ParseUpdate, TsigMustBeLastAndAlone) {
  const Rr opt{".", type::OPT, 1232, 0, {}};
  UpdateSpec spec;
  spec.updates = {{kOwner, type::A, cls::IN, 300, kA1}};
  spec.additional = {opt};
  UpdateMessage m;
  ASSERT_EQ(parse(build_update(spec), m), UpdateParse::ok);
  EXPECT_TRUE(m.has_edns);
  EXPECT_TRUE(m.has_tsig);

  // A TSIG RR followed by an OPT: take a signed packet, append OPT after it.
  auto p = build_update(spec);
  spec.additional = {};
  auto signed_first = build_update(spec);
  testutil::Bytes buf(signed_first.size() + 11);
  WireWriter w(buf);
  w.bytes(signed_first);
  testutil::put_rr(w, opt);
  w.patch_u16(10, 2);
  EXPECT_EQ(parse(buf, m), UpdateParse::formerr);
  EXPECT_FALSE(m.has_tsig);

  // Two TSIGs: sign an already signed message again.
  EXPECT_EQ(parse(testutil::sign(signed_first, testutil::TsigSpec{}), m), UpdateParse::formerr);

  // Two OPTs, and an OPT not owned by the root.
  spec.additional = {opt, opt};
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::formerr);
  spec.additional = {{"a.", type::OPT, 1232, 0, {}}};
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::formerr);

  // Other additional records are skipped; no TSIG is fine for the parser.
  spec.additional = {{kOwner, type::A, cls::IN, 300, kA1}};
  spec.tsig.reset();
  ASSERT_EQ(parse(build_update(spec), m), UpdateParse::ok);
  EXPECT_FALSE(m.has_tsig);
}

TEST(ParseUpdate, MalformedTsigRecordIsFormerr) {
  UpdateSpec spec;
  spec.tsig->rclass = cls::IN;  // §4.2: CLASS ANY
  UpdateMessage m;
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::formerr);
  spec.tsig = testutil::TsigSpec{};
  spec.tsig->ttl = 5;  // TTL 0
  EXPECT_EQ(parse(build_update(spec), m), UpdateParse::formerr);
  // RDLENGTH one longer than the RDATA (the packet grows by one byte).
  spec.tsig = testutil::TsigSpec{};
  auto p = build_update(spec);
  ASSERT_EQ(parse(p, m), UpdateParse::ok);
  const std::size_t rdlen_at = m.tsig.rr_offset + 6 + 8;  // "tok1." is 6 bytes
  p[rdlen_at + 1] = static_cast<std::uint8_t>(p[rdlen_at + 1] + 1);
  p.push_back(0);
  EXPECT_EQ(parse(p, m), UpdateParse::formerr);
}

TEST(WriteUpdateResponse, EchoesZoneWithoutTsig) {
  UpdateSpec spec;
  spec.tsig.reset();
  spec.updates = {{kOwner, type::A, cls::IN, 300, kA1}};
  const auto p = build_update(spec);
  UpdateMessage m;
  ASSERT_EQ(parse(p, m), UpdateParse::ok);
  for (auto rc : {Rcode::noerror, Rcode::refused, Rcode::nxrrset, Rcode::yxdomain, Rcode::notzone,
                  Rcode::notauth}) {
    std::array<std::uint8_t, 512> out{};
    const auto n = write_update_response(p, m, rc, TsigResult::ok, {}, testutil::kTime, out);
    ASSERT_GT(n, kHeaderSize);
    const auto d = testutil::decode(std::span(out.data(), n));
    ASSERT_TRUE(d.ok);
    EXPECT_EQ(d.header.id, 0x4242);
    EXPECT_TRUE(d.has(flag::QR));
    EXPECT_EQ((d.header.flags >> 11) & 0xF, opcode::UPDATE);
    EXPECT_EQ(d.rcode(), static_cast<unsigned>(rc));
    EXPECT_EQ(d.qname, "dyn.example.org.");
    EXPECT_EQ(d.qtype, type::SOA);
    EXPECT_EQ(d.header.ancount + d.header.nscount + d.header.arcount, 0);
  }
  // Too small a buffer: nothing.
  std::array<std::uint8_t, 20> small{};
  EXPECT_EQ(write_update_response(p, m, Rcode::noerror, TsigResult::ok, {}, 0, small), 0u);
}

TEST(WriteUpdateResponse, FormerrWithoutZoneHasHeaderOnly) {
  UpdateSpec spec;
  auto p = build_update(spec);
  p[5] = 2;  // zocount 2
  UpdateMessage m;
  ASSERT_EQ(parse(p, m), UpdateParse::formerr);
  std::array<std::uint8_t, 512> out{};
  const auto n = write_update_response(p, m, Rcode::formerr, TsigResult::ok, {}, 0, out);
  ASSERT_EQ(n, kHeaderSize);
  EXPECT_EQ(out[3] & 0xF, 1);
}

}  // namespace
}  // namespace pweb::dns
