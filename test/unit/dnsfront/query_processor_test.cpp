#include "pweb/dns/query_processor.hpp"

#include <gtest/gtest.h>

#include "../dns_test_util.hpp"

namespace pweb::dns {
namespace {

using testutil::build_query;
using testutil::decode;
using testutil::Decoded;
using testutil::QuerySpec;

class ProcessQuery : public ::testing::Test {
 protected:
  ProcessQuery() : auth_(make_auth(1)) {
    std::vector<registrar::DeviceRecord> recs(2);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    recs[0].ipv6 = registrar::parse_ipv6("2001:db8::10");
    recs[1].name = "phone.alice.uw";
    recs[1].ipv4 = registrar::parse_ipv4("192.0.2.11");
    snap_ = registrar::Snapshot::build(recs, 42);
  }

  static Authority make_auth(int name_servers) {
    AuthorityConfig cfg;
    cfg.ttl = 60;
    for (int i = 0; i < name_servers; ++i) {
      cfg.name_servers.push_back(
          {registrar::Ipv4{127, 0, 0, static_cast<std::uint8_t>(i + 1)}, std::nullopt});
    }
    return Authority(cfg);
  }

  Decoded run(const std::vector<std::uint8_t>& query, Transport t = Transport::udp,
              const Authority* auth = nullptr) {
    out_.assign(65535, 0);
    const auto p = process_query(query, out_, t, auth ? *auth : auth_, *snap_);
    last_size_ = p.response.size;
    return decode(std::span(out_.data(), p.response.size));
  }
  Decoded run(const QuerySpec& spec, Transport t = Transport::udp) {
    return run(build_query(spec), t);
  }

  Authority auth_;
  std::shared_ptr<const registrar::Snapshot> snap_;
  std::vector<std::uint8_t> out_;
  std::size_t last_size_ = 0;
};

TEST_F(ProcessQuery, AnswerHasFlagsCaseAndCompression) {
  QuerySpec spec;
  spec.name = "LaPtOp.AlIcE.uW.dHt.";
  const auto d = run(spec);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.header.id, 0x1234);
  EXPECT_TRUE(d.has(flag::QR));
  EXPECT_TRUE(d.has(flag::AA));
  EXPECT_TRUE(d.has(flag::RD));
  EXPECT_FALSE(d.has(flag::RA));
  EXPECT_FALSE(d.has(flag::AD));
  EXPECT_EQ(d.rcode(), 0);
  EXPECT_EQ(d.qname, "LaPtOp.AlIcE.uW.dHt.");
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].name, "LaPtOp.AlIcE.uW.dHt.");
  EXPECT_EQ(d.answer[0].ttl, 60u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{192, 0, 2, 10}));
  // Owner is a 2-byte pointer: header 12 + question (21+4) + record (2+10+4).
  EXPECT_EQ(last_size_, 12u + 25u + 16u);
}

TEST_F(ProcessQuery, RdAndCdCopiedZIgnored) {
  QuerySpec spec;
  spec.flags = flag::CD | 0x0040 /* Z */;
  const auto d = run(spec);
  EXPECT_FALSE(d.has(flag::RD));
  EXPECT_TRUE(d.has(flag::CD));
  EXPECT_EQ(d.header.flags & 0x0040, 0);
  EXPECT_EQ(d.answer.size(), 1u);
}

struct RcodeCase {
  const char* name;
  std::uint16_t qtype;
  std::uint16_t rcode;
  bool aa;
  std::size_t answers;
  std::size_t authority;  // SOA on negative answers
};

class Rcodes : public ProcessQuery, public ::testing::WithParamInterface<RcodeCase> {};

TEST_P(Rcodes, Table) {
  const auto& c = GetParam();
  QuerySpec spec;
  spec.name = c.name;
  spec.qtype = c.qtype;
  for (auto t : {Transport::udp, Transport::tcp}) {
    const auto d = run(spec, t);
    ASSERT_TRUE(d.ok) << c.name;
    EXPECT_EQ(d.rcode(), c.rcode) << c.name;
    EXPECT_EQ(d.has(flag::AA), c.aa) << c.name;
    EXPECT_EQ(d.answer.size(), c.answers) << c.name;
    ASSERT_EQ(d.authority.size(), c.authority) << c.name;
    if (c.authority) {
      EXPECT_EQ(d.authority[0].rtype, type::SOA);
      EXPECT_EQ(d.authority[0].name, "dht.");
      EXPECT_EQ(d.authority[0].target, "ns1.dht.");
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, Rcodes,
    ::testing::Values(RcodeCase{"laptop.alice.uw.dht", type::AAAA, 0, true, 1, 0},
                      RcodeCase{"laptop.alice.uw.dht", type::ANY, 0, true, 2, 0},
                      RcodeCase{"phone.alice.uw.dht", type::AAAA, 0, true, 0, 1},
                      RcodeCase{"laptop.alice.uw.dht", 99, 0, true, 0, 1},
                      RcodeCase{"alice.uw.dht", type::A, 0, true, 0, 1},
                      RcodeCase{"uw.dht", type::A, 0, true, 0, 1},
                      RcodeCase{"nosuch.alice.uw.dht", type::A, 3, true, 0, 1},
                      RcodeCase{"dht", type::SOA, 0, true, 1, 0},
                      RcodeCase{"dht", type::NS, 0, true, 1, 0},
                      RcodeCase{"example.com", type::A, 5, false, 0, 0},
                      RcodeCase{"dht", type::AXFR, 5, false, 0, 0}));

TEST_F(ProcessQuery, NsAtApexCarriesGlue) {
  QuerySpec spec;
  spec.name = "dht";
  spec.qtype = type::NS;
  const auto d = run(spec);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].target, "ns1.dht.");
  ASSERT_EQ(d.additional.size(), 1u);
  EXPECT_EQ(d.additional[0].name, "ns1.dht.");
  EXPECT_EQ(d.additional[0].rdata, (std::vector<std::uint8_t>{127, 0, 0, 1}));
}

TEST_F(ProcessQuery, MalformedAndUnsupported) {
  auto q = build_query({});
  q[5] = 0;  // QDCOUNT 0
  auto d = run(q);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 1);
  EXPECT_EQ(d.header.qdcount, 0);

  QuerySpec notimp;
  notimp.flags = static_cast<std::uint16_t>(2 << 11);  // STATUS
  d = run(notimp);
  EXPECT_EQ(d.rcode(), 4);
  EXPECT_EQ((d.header.flags >> 11) & 0xF, 2);
  EXPECT_FALSE(d.has(flag::AA));

  q = build_query({});
  q.pop_back();  // question cut short
  d = run(q);
  EXPECT_EQ(d.rcode(), 1);

  q = build_query({});
  q[2] |= 0x80;  // a response: no answer at all
  run(q);
  EXPECT_EQ(last_size_, 0u);
}

TEST_F(ProcessQuery, EdnsEchoAndBadvers) {
  QuerySpec spec;
  spec.edns = true;
  spec.edns_flags = 0x8000 | 0x0100;                               // DO and an unknown flag
  spec.edns_options = {0, 100, 0, 1, 7, 0, 8, 0, 4, 0, 1, 24, 0};  // unknown + ECS
  auto d = run(spec);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.answer.size(), 1u);
  ASSERT_EQ(d.additional.size(), 1u);
  const auto& opt = d.additional[0];
  EXPECT_EQ(opt.rtype, type::OPT);
  EXPECT_EQ(opt.rclass, kServerUdpPayload);
  EXPECT_EQ(opt.ttl, 0x8000u);  // version 0, DO echoed, unknown flags not echoed
  EXPECT_TRUE(opt.rdata.empty());

  spec.edns_version = 1;
  d = run(spec);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 0);
  EXPECT_TRUE(d.answer.empty());
  ASSERT_EQ(d.additional.size(), 1u);
  EXPECT_EQ(d.additional[0].ttl >> 24, 1u);  // extended rcode 16 = BADVERS
  EXPECT_EQ((d.additional[0].ttl >> 16) & 0xFF, 0u);
}

TEST_F(ProcessQuery, TruncatesAt512AndFitsOverTcp) {
  const Authority many = make_auth(40);  // 40 NS + 40 glue: ~1.4 KB
  QuerySpec spec;
  spec.name = "dht";
  spec.qtype = type::NS;
  auto d = run(build_query(spec), Transport::udp, &many);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.has(flag::TC));
  EXPECT_TRUE(d.answer.empty());
  EXPECT_LE(last_size_, 512u);

  spec.edns = true;
  spec.udp_size = 4096;  // we cap at kServerUdpPayload: the NS fit, not all glue
  d = run(build_query(spec), Transport::udp, &many);
  EXPECT_FALSE(d.has(flag::TC));
  EXPECT_LE(last_size_, kServerUdpPayload);
  EXPECT_EQ(d.answer.size(), 40u);
  EXPECT_LT(d.additional.size(), 41u);
  EXPECT_EQ(d.additional.back().rtype, type::OPT);  // OPT always there

  d = run(build_query(spec), Transport::tcp, &many);
  ASSERT_TRUE(d.ok);
  EXPECT_FALSE(d.has(flag::TC));
  EXPECT_EQ(d.answer.size(), 40u);
  EXPECT_EQ(d.additional.size(), 41u);
  EXPECT_EQ(d.answer[39].target, "ns40.dht.");
}

TEST_F(ProcessQuery, EdnsBufferBelow512CountsAs512) {
  QuerySpec spec;
  spec.edns = true;
  spec.udp_size = 100;
  const auto d = run(spec);
  EXPECT_EQ(d.answer.size(), 1u);
  EXPECT_FALSE(d.has(flag::TC));
}

// Names of other agents: table-driven over what the resolver said.
class RemoteNames : public ProcessQuery {
 protected:
  RemoteNames() : remote_auth_(make_remote_auth()) {}

  static Authority make_remote_auth() {
    AuthorityConfig cfg;
    cfg.ttl = 60;
    cfg.label = "uw";
    cfg.resolve_remote = true;
    return Authority(cfg);
  }

  Processed process(const QuerySpec& spec, const RemoteContext& remote) {
    out_.assign(65535, 0);
    const auto p =
        process_query(build_query(spec), out_, Transport::udp, remote_auth_, *snap_, remote);
    last_size_ = p.response.size;
    return p;
  }
  Decoded decoded() const { return decode(std::span(out_.data(), last_size_)); }

  static RemoteAnswer answer(RemoteAnswer::Status status, std::uint32_t ttl = 30) {
    RemoteAnswer a;
    a.status = status;
    a.ttl = ttl;
    if (status == RemoteAnswer::Status::found) {
      a.entry = registrar::NameEntry::device(registrar::Ipv4{198, 51, 100, 7}, std::nullopt);
    }
    return a;
  }

  Authority remote_auth_;
  RemoteCache cache_;
};

TEST_F(RemoteNames, WithoutAResolverTheyDoNotExist) {
  QuerySpec spec;
  spec.name = "laptop.bob.mit.dht.";
  const auto p = process(spec, RemoteContext{});
  EXPECT_FALSE(p.pending);
  EXPECT_EQ(decoded().rcode(), 3);
}

TEST_F(RemoteNames, CacheMissAsksTheResolverWithTheLowercaseKey) {
  QuerySpec spec;
  spec.name = "LapTop.BOB.Mit.dht.";
  const auto p = process(spec, RemoteContext{&cache_, nullptr, RemoteCache::Clock::now()});
  EXPECT_TRUE(p.pending);
  EXPECT_EQ(p.pending_key, "laptop.bob.mit/1");  // name and type
  EXPECT_EQ(p.response.size, 0u);
  EXPECT_EQ(p.cache, CacheUse::miss);
}

TEST_F(RemoteNames, CacheUseIsReportedForTheMetrics) {
  QuerySpec spec;
  spec.name = "laptop.bob.mit.dht.";
  RemoteAnswer a;
  a.status = RemoteAnswer::Status::nxdomain;
  a.ttl = 30;
  const auto now = RemoteCache::Clock::now();
  cache_.insert("laptop.bob.mit/1", a, now);
  EXPECT_EQ(process(spec, RemoteContext{&cache_, nullptr, now}).cache, CacheUse::hit);
  // An answer handed in by the resolver did not come from the cache; own names never touch it.
  EXPECT_EQ(process(spec, RemoteContext{&cache_, &a, now}).cache, CacheUse::none);
  spec.name = "tablet.alice.uw.dht.";
  EXPECT_EQ(process(spec, RemoteContext{&cache_, nullptr, now}).cache, CacheUse::none);
}

// A resolver's Extended DNS Error reaches EDNS clients, fresh or from the cache.
TEST_F(RemoteNames, ExtendedErrorOfARemoteAnswerIsSent) {
  QuerySpec spec;
  spec.name = "laptop.bob.mit.dht.";
  spec.edns = true;
  RemoteAnswer a = answer(RemoteAnswer::Status::servfail, 1);
  a.ede = {true, 0, "label contested"};
  const auto now = RemoteCache::Clock::now();
  cache_.insert("laptop.bob.mit/1", a, now);
  for (const RemoteAnswer* given :
       {static_cast<const RemoteAnswer*>(&a), static_cast<const RemoteAnswer*>(nullptr)}) {
    process(spec, RemoteContext{&cache_, given, now});
    const auto d = decoded();
    EXPECT_EQ(d.rcode(), 2);
    ASSERT_EQ(d.additional.size(), 1u);
    const auto& rdata = d.additional[0].rdata;
    ASSERT_EQ(rdata.size(), 6u + 15u);
    EXPECT_EQ(rdata[1], 15);  // option code: EDE
    EXPECT_EQ(std::string(rdata.begin() + 6, rdata.end()), "label contested");
  }
}

TEST_F(RemoteNames, OwnAgentAndImportedAgentsStayLocal) {
  // "uw" is ours; its missing devices are NXDOMAIN here, never asked elsewhere.
  QuerySpec spec;
  spec.name = "tablet.alice.uw.dht.";
  auto p = process(spec, RemoteContext{&cache_, nullptr, RemoteCache::Clock::now()});
  EXPECT_FALSE(p.pending);
  EXPECT_EQ(decoded().rcode(), 3);

  // A label-less node serving an imported store answers for the agents in it.
  AuthorityConfig cfg;
  cfg.resolve_remote = true;
  const Authority no_label(cfg);
  out_.assign(65535, 0);
  p = process_query(build_query(spec), out_, Transport::udp, no_label, *snap_,
                    RemoteContext{&cache_, nullptr, RemoteCache::Clock::now()});
  EXPECT_FALSE(p.pending);
  last_size_ = p.response.size;
  EXPECT_EQ(decoded().rcode(), 3);
}

TEST_F(RemoteNames, AgentAndUserNamesOfOthersAreNodata) {
  for (const char* name : {"mit.dht.", "bob.mit.dht."}) {
    QuerySpec spec;
    spec.name = name;
    const auto p = process(spec, RemoteContext{&cache_, nullptr, RemoteCache::Clock::now()});
    EXPECT_FALSE(p.pending) << name;
    const auto d = decoded();
    EXPECT_EQ(d.rcode(), 0) << name;
    EXPECT_TRUE(d.answer.empty()) << name;
    EXPECT_EQ(d.authority.size(), 1u) << name;  // the SOA
  }
}

struct RemoteCase {
  const char* what;
  RemoteAnswer::Status status;
  std::uint16_t qtype;
  std::uint16_t rcode;
  std::size_t answers;
  bool aa;
  std::size_t authority;
};

TEST_F(RemoteNames, ResolvedAnswersBecomeResponses) {
  const RemoteCase cases[] = {
      {"found A", RemoteAnswer::Status::found, type::A, 0, 1, true, 0},
      {"found, no AAAA", RemoteAnswer::Status::found, type::AAAA, 0, 0, true, 1},
      {"found ANY", RemoteAnswer::Status::found, type::ANY, 0, 1, true, 0},
      {"no such device", RemoteAnswer::Status::nxdomain, type::A, 3, 0, true, 1},
      {"agent unreachable", RemoteAnswer::Status::servfail, type::A, 2, 0, false, 0},
  };
  for (const auto& c : cases) {
    QuerySpec spec;
    spec.name = "laptop.bob.mit.dht.";
    spec.qtype = c.qtype;
    const RemoteAnswer a = answer(c.status);
    const auto p = process(spec, RemoteContext{&cache_, &a, RemoteCache::Clock::now()});
    EXPECT_FALSE(p.pending) << c.what;
    const auto d = decoded();
    ASSERT_TRUE(d.ok) << c.what;
    EXPECT_EQ(d.rcode(), c.rcode) << c.what;
    EXPECT_EQ(d.has(flag::AA), c.aa) << c.what;
    ASSERT_EQ(d.answer.size(), c.answers) << c.what;
    EXPECT_EQ(d.authority.size(), c.authority) << c.what;
    if (c.answers == 1) {
      EXPECT_EQ(d.answer[0].ttl, 30u) << c.what;
      EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{198, 51, 100, 7})) << c.what;
    }
  }
}

TEST_F(RemoteNames, CachedAnswerServedWithItsRemainingTtl) {
  const auto t0 = RemoteCache::Clock::now();
  cache_.insert("laptop.bob.mit/1", answer(RemoteAnswer::Status::found, 30), t0);
  QuerySpec spec;
  spec.name = "laptop.bob.mit.dht.";
  const auto p = process(spec, RemoteContext{&cache_, nullptr, t0 + std::chrono::seconds(12)});
  EXPECT_FALSE(p.pending);
  const auto d = decoded();
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].ttl, 18u);
  // Expired: asked again.
  EXPECT_TRUE(
      process(spec, RemoteContext{&cache_, nullptr, t0 + std::chrono::seconds(30)}).pending);
}

// Answers per (name, type): a TXT question is never answered from an A answer.
TEST_F(RemoteNames, CacheIsKeyedByNameAndType) {
  const auto now = RemoteCache::Clock::now();
  cache_.insert("laptop.bob.mit/1", answer(RemoteAnswer::Status::found, 30), now);
  QuerySpec spec;
  spec.name = "laptop.bob.mit.dht.";
  spec.qtype = 16;
  const auto p = process(spec, RemoteContext{&cache_, nullptr, now});
  EXPECT_TRUE(p.pending);
  EXPECT_EQ(p.pending_key, "laptop.bob.mit/16");
  std::string name;
  std::uint16_t qtype = 0;
  ASSERT_TRUE(split_remote_cache_key(p.pending_key, name, qtype));
  EXPECT_EQ(name, "laptop.bob.mit");
  EXPECT_EQ(qtype, 16);
  // Names below a device of another agent are asked whole.
  spec.name = "_acme-challenge.laptop.bob.mit.dht.";
  EXPECT_EQ(process(spec, RemoteContext{&cache_, nullptr, now}).pending_key,
            "_acme-challenge.laptop.bob.mit/16");
  EXPECT_FALSE(split_remote_cache_key("laptop.bob.mit", name, qtype));
  EXPECT_FALSE(split_remote_cache_key("laptop.bob.mit/x", name, qtype));
  EXPECT_FALSE(split_remote_cache_key("laptop.bob.mit/70000", name, qtype));
}

// An RRset from another agent is written as the answer, owned by the qname.
TEST_F(RemoteNames, RemoteRRsetsBecomeAnswers) {
  const std::string txt("\x05hello", 6);
  const std::string target(
      "\x03web\x03"
      "bob\x03mit\x03"
      "dht\x00",
      17);
  struct Case {
    const char* what;
    const char* name;
    std::uint16_t qtype;
    RemoteAnswer::Status status;
    std::uint16_t set_type;  // 0: no RRset
    std::string rdata;
    std::uint16_t rcode;
    std::size_t answers;
  };
  const Case cases[] = {
      {"TXT", "laptop.bob.mit.dht.", 16, RemoteAnswer::Status::found, 16, txt, 0, 1},
      {"TXT below", "_acme-challenge.laptop.bob.mit.dht.", 16, RemoteAnswer::Status::found, 16, txt,
       0, 1},
      {"CNAME for SRV", "www.laptop.bob.mit.dht.", 33, RemoteAnswer::Status::found, 5, target, 0,
       1},
      {"nodata", "laptop.bob.mit.dht.", 33, RemoteAnswer::Status::nodata, 0, "", 0, 0},
      {"nxdomain", "x.laptop.bob.mit.dht.", 16, RemoteAnswer::Status::nxdomain, 0, "", 3, 0},
  };
  for (const auto& c : cases) {
    RemoteAnswer a;
    a.status = c.status;
    a.ttl = 40;
    if (c.set_type) a.rrset = std::make_shared<RRset>(RRset{"", c.set_type, 40, {c.rdata}});
    QuerySpec spec;
    spec.name = c.name;
    spec.qtype = c.qtype;
    const auto p = process(spec, RemoteContext{&cache_, &a, RemoteCache::Clock::now()});
    EXPECT_FALSE(p.pending) << c.what;
    const auto d = decoded();
    ASSERT_TRUE(d.ok) << c.what;
    EXPECT_EQ(d.rcode(), c.rcode) << c.what;
    ASSERT_EQ(d.answer.size(), c.answers) << c.what;
    if (c.answers == 0) {
      EXPECT_EQ(d.authority.size(), 1u) << c.what;  // the SOA
      continue;
    }
    EXPECT_EQ(d.answer[0].rtype, c.set_type) << c.what;
    EXPECT_EQ(d.answer[0].ttl, 40u) << c.what;
    EXPECT_EQ(std::string(d.answer[0].rdata.begin(), d.answer[0].rdata.end()), c.rdata) << c.what;
  }
}

}  // namespace
}  // namespace pweb::dns

namespace pweb::dns {
namespace {

// RFC 2181 §9: glue is optional. 45 NS at a 1232-byte buffer: every NS record,
// as much glue as fits, TC clear; only an NS RRset that does not fit sets TC.
TEST_F(ProcessQuery, GlueThatDoesNotFitIsDroppedNotTruncated) {
  const Authority many = make_auth(45);
  QuerySpec spec;
  spec.name = "dht";
  spec.qtype = type::NS;
  spec.edns = true;
  spec.udp_size = 1232;
  auto d = run(build_query(spec), Transport::udp, &many);
  ASSERT_TRUE(d.ok);
  EXPECT_FALSE(d.has(flag::TC));
  EXPECT_TRUE(d.has(flag::AA));
  ASSERT_EQ(d.answer.size(), 45u);
  EXPECT_EQ(d.answer[44].target, "ns45.dht.");
  ASSERT_GT(d.additional.size(), 2u);  // some glue and the OPT
  EXPECT_LT(d.additional.size(), 46u);
  for (std::size_t i = 0; i + 1 < d.additional.size(); ++i) {
    EXPECT_EQ(d.additional[i].name, "ns" + std::to_string(i + 1) + ".dht.");
    EXPECT_EQ(d.additional[i].rtype, type::A);
  }
  EXPECT_EQ(d.additional.back().rtype, type::OPT);
  EXPECT_LE(last_size_, 1232u);

  // At 512 the NS RRset itself does not fit: then TC, nothing partial.
  spec.edns = false;
  d = run(build_query(spec), Transport::udp, &many);
  EXPECT_TRUE(d.has(flag::TC));
  EXPECT_TRUE(d.answer.empty());

  d = run(build_query(spec), Transport::tcp, &many);
  EXPECT_FALSE(d.has(flag::TC));
  EXPECT_EQ(d.additional.size(), 45u);
}

// ISC genreport "opcodeflg": opcode 15, every flag set, header only: NOTIMP,
// the opcode echoed and none of the flags (RD and CD are QUERY's).
TEST_F(ProcessQuery, UnknownOpcodeEchoesNoFlag) {
  struct Row {
    std::uint16_t flags;
    bool question;
  };
  for (const Row& row : {Row{0x7FF0, false}, Row{0x7FF0, true}, Row{15 << 11, false},
                         Row{static_cast<std::uint16_t>(2 << 11 | flag::RD), true}}) {
    QuerySpec spec;
    spec.flags = row.flags;
    auto q = build_query(spec);
    if (!row.question) {
      q.resize(kHeaderSize);
      q[5] = 0;  // QDCOUNT 0
    }
    const auto d = run(q);
    ASSERT_TRUE(d.ok);
    EXPECT_EQ(d.rcode(), 4);
    EXPECT_EQ(d.header.flags & 0x7FF0, row.flags & 0x7800) << std::hex << row.flags;
    EXPECT_TRUE(d.has(flag::QR));
  }
}

// A QCLASS ANY question may have answers in classes not served here: no AA.
TEST_F(ProcessQuery, ClassAnyIsNotAuthoritative) {
  for (const char* name : {"laptop.alice.uw.dht", "nosuch.alice.uw.dht", "dht"}) {
    QuerySpec spec;
    spec.name = name;
    spec.qtype = type::SOA;
    spec.qclass = cls::ANY;
    auto d = run(spec);
    EXPECT_FALSE(d.has(flag::AA)) << name;
    spec.qclass = cls::IN;
    d = run(spec);
    EXPECT_TRUE(d.has(flag::AA)) << name;
  }
}

// --ns and --soa-contact: the NS RRset is exactly the names given, glue only
// for in-zone names, SOA MNAME the first, RNAME the contact.
TEST_F(ProcessQuery, NamedServersAndContactInNsAndSoa) {
  AuthorityConfig cfg;
  cfg.zones = {"dyn.example.org"};
  cfg.ns = {{"ns1.dyn.example.org.",
             {registrar::parse_ipv4("192.0.2.1"), registrar::parse_ipv6("2001:db8::1")}},
            {"ns.provider.net.", {}},
            {"b.ns.dyn.example.org.", {registrar::parse_ipv4("192.0.2.2"), std::nullopt}}};
  ASSERT_FALSE(parse_soa_contact("first.last@example.org", cfg.soa_contact));
  cfg.name_servers.push_back({registrar::parse_ipv4("127.0.0.1"), std::nullopt});  // replaced
  const Authority named(cfg);
  QuerySpec spec;
  spec.name = "dyn.example.org";  // compressed names take the qname's case
  spec.qtype = type::NS;
  auto d = run(build_query(spec), Transport::udp, &named);
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.answer.size(), 3u);
  EXPECT_EQ(d.answer[0].target, "ns1.dyn.example.org.");
  EXPECT_EQ(d.answer[1].target, "ns.provider.net.");
  EXPECT_EQ(d.answer[2].target, "b.ns.dyn.example.org.");
  ASSERT_EQ(d.additional.size(), 3u);
  EXPECT_EQ(d.additional[0].name, "ns1.dyn.example.org.");
  EXPECT_EQ(d.additional[0].rtype, type::A);
  EXPECT_EQ(d.additional[1].name, "ns1.dyn.example.org.");
  EXPECT_EQ(d.additional[1].rtype, type::AAAA);
  EXPECT_EQ(d.additional[2].name, "b.ns.dyn.example.org.");

  spec.qtype = type::SOA;
  d = run(build_query(spec), Transport::udp, &named);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].target, "ns1.dyn.example.org.");
  // RDATA: MNAME (3 bytes + pointer), then RNAME whole: \x0afirst.last\x07example\x03org\0.
  const auto& rd = d.answer[0].rdata;
  const std::vector<std::uint8_t> rname{10,  'f', 'i', 'r', 's', 't', '.', 'l', 'a', 's', 't', 7,
                                        'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,   'o', 'r', 'g', 0};
  ASSERT_GE(rd.size(), 6 + rname.size());
  EXPECT_EQ(std::vector<std::uint8_t>(rd.begin() + 6, rd.begin() + 6 + rname.size()), rname);

  spec.name = "ns1.dyn.example.org";
  spec.qtype = type::AAAA;
  d = run(build_query(spec), Transport::udp, &named);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_TRUE(d.has(flag::AA));
}

}  // namespace
}  // namespace pweb::dns
