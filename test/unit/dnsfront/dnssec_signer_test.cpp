#include "pweb/dns/dnssec_signer.hpp"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cctype>
#include <ctime>
#include <initializer_list>

#include "../dns_test_util.hpp"
#include "pweb/dns/query_processor.hpp"

namespace pweb::dns {
namespace {

using testutil::build_query;
using testutil::decode;
using testutil::Decoded;
using testutil::QuerySpec;
using testutil::Record;

constexpr std::uint16_t kDo = 0x8000;
using Bytes = std::initializer_list<std::uint8_t>;

std::vector<std::uint8_t> wire_of(const std::string& text) {
  Name n;
  EXPECT_TRUE(name_from_text(text, n));
  std::vector<std::uint8_t> out(n.wire.begin(), n.wire.begin() + n.size);
  for (auto& c : out) c = static_cast<std::uint8_t>(std::tolower(c));
  return out;
}

class Signer : public ::testing::Test {
 protected:
  Signer() {
    pem_ = DnssecKey::generate_pem();
    std::string err;
    key_ = DnssecKey::from_pem(pem_, err);
    std::vector<registrar::DeviceRecord> recs(2);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    recs[0].ipv6 = registrar::parse_ipv6("2001:db8::10");
    recs[1].name = "phone.alice.uw";
    recs[1].ipv4 = registrar::parse_ipv4("192.0.2.11");
    // Names in rdata as an operator may write them: mixed case.
    recs[0].rrsets = {
        {"www",
         type::CNAME,
         300,
         {std::string("\x04Host\x07"
                      "Example\x03"
                      "ORG\x00",
                      18)}},
        {"", type::TXT, 300, {std::string("\x01b"), std::string("\x01a")}},
        {"*", type::TXT, 300, {std::string("\x04wild")}},
    };
    snap_ = registrar::Snapshot::build(recs, 42);
  }
  ~Signer() override { EVP_PKEY_free(pkey_); }

  Authority auth(int name_servers = 1, bool dnssec = true) {
    AuthorityConfig cfg;
    cfg.ttl = 60;
    for (int i = 0; i < name_servers; ++i) {
      cfg.name_servers.push_back(
          {registrar::Ipv4{127, 0, 0, static_cast<std::uint8_t>(i + 1)}, std::nullopt});
    }
    if (dnssec) cfg.dnssec = key_;
    return Authority(cfg);
  }

  Decoded run(const QuerySpec& spec, Transport t = Transport::udp, int name_servers = 1,
              bool dnssec = true) {
    const Authority a = auth(name_servers, dnssec);
    out_.assign(65535, 0);
    const auto p = process_query(build_query(spec), out_, t, a, *snap_);
    return decode(std::span(out_.data(), p.response.size));
  }

  static QuerySpec dnssec_query(const std::string& name, std::uint16_t qtype) {
    QuerySpec s;
    s.name = name;
    s.qtype = qtype;
    s.edns = true;
    s.edns_flags = kDo;
    return s;
  }

  // Verifies the RRSIG over `set` (records of one RRset) with OpenSSL, building
  // the signed data here (RFC 4034 §3.1.8.1), independently of the signer.
  bool verify(const Record& rrsig, const std::vector<Record>& set) {
    if (!pkey_) {
      BIO* bio = BIO_new_mem_buf(pem_.data(), static_cast<int>(pem_.size()));
      pkey_ = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
      BIO_free(bio);
    }
    const auto& rd = rrsig.rdata;
    if (rd.size() < 18 + 1 + 64) return false;
    const std::size_t head = rd.size() - 64;
    std::vector<std::uint8_t> data(rd.begin(), rd.begin() + static_cast<std::ptrdiff_t>(head));
    const std::uint32_t orig_ttl =
        (std::uint32_t{rd[4]} << 24) | (std::uint32_t{rd[5]} << 16) | (rd[6] << 8) | rd[7];
    std::vector<std::vector<std::uint8_t>> rdatas;
    for (const auto& r : set) rdatas.push_back(r.rdata);
    std::sort(rdatas.begin(), rdatas.end());
    for (const auto& r : rdatas) {
      const auto owner = wire_of(set.front().name);
      data.insert(data.end(), owner.begin(), owner.end());
      const std::uint16_t t = set.front().rtype;
      for (std::uint8_t b : Bytes{
               static_cast<std::uint8_t>(t >> 8), static_cast<std::uint8_t>(t), 0, 1,
               static_cast<std::uint8_t>(orig_ttl >> 24), static_cast<std::uint8_t>(orig_ttl >> 16),
               static_cast<std::uint8_t>(orig_ttl >> 8), static_cast<std::uint8_t>(orig_ttl),
               static_cast<std::uint8_t>(r.size() >> 8), static_cast<std::uint8_t>(r.size())}) {
        data.push_back(b);
      }
      data.insert(data.end(), r.begin(), r.end());
    }
    ECDSA_SIG* es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(rd.data() + head, 32, nullptr),
                   BN_bin2bn(rd.data() + head + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey_) == 1 &&
                    EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_len), data.data(),
                                     data.size()) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
  }

  static std::vector<Record> of_type(const std::vector<Record>& sec, std::uint16_t t) {
    std::vector<Record> out;
    for (const auto& r : sec) {
      if (r.rtype == t) out.push_back(r);
    }
    return out;
  }
  static std::uint16_t covered(const Record& rrsig) {
    return static_cast<std::uint16_t>(rrsig.rdata[0] << 8 | rrsig.rdata[1]);
  }
  // Each RRset of `t` in `sec` has a verifying RRSIG.
  void expect_signed(const std::vector<Record>& sec, std::uint16_t t) {
    const auto set = of_type(sec, t);
    ASSERT_FALSE(set.empty()) << "no records of type " << t;
    bool found = false;
    for (const auto& sig : of_type(sec, type::RRSIG)) {
      if (covered(sig) != t) continue;
      found = true;
      std::vector<Record> owned;  // the RRset: this type at the RRSIG's owner
      for (const auto& r : set) {
        if (r.name == sig.name) owned.push_back(r);
      }
      EXPECT_TRUE(verify(sig, owned)) << "RRSIG over type " << t << " at " << sig.name;
    }
    EXPECT_TRUE(found) << "no RRSIG over type " << t;
  }

  std::string pem_;
  std::shared_ptr<const DnssecKey> key_;
  EVP_PKEY* pkey_ = nullptr;
  std::shared_ptr<const registrar::Snapshot> snap_;
  std::vector<std::uint8_t> out_;
};

TEST_F(Signer, DeviceAnswerIsSignedInCanonicalFormWhateverTheQueryCase) {
  const auto d = run(dnssec_query("LaPtOp.AlIcE.uW.dHt.", type::A));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 0);
  EXPECT_TRUE(d.has(flag::AA));
  expect_signed(d.answer, type::A);
  const auto sigs = of_type(d.answer, type::RRSIG);
  ASSERT_EQ(sigs.size(), 1u);
  const auto& rd = sigs[0].rdata;
  EXPECT_EQ(rd[2], 13);  // algorithm
  EXPECT_EQ(rd[3], 4);   // labels of laptop.alice.uw.dht.
  const std::uint16_t tag = static_cast<std::uint16_t>(rd[16] << 8 | rd[17]);
  EXPECT_EQ(tag, key_->key_tag());
  const auto signer = wire_of("dht.");
  EXPECT_TRUE(std::equal(signer.begin(), signer.end(), rd.begin() + 18));
  // Validity: inception an hour or two back, expiration about two weeks on.
  const auto now = static_cast<std::uint32_t>(std::time(nullptr));
  const std::uint32_t exp = (std::uint32_t{rd[8]} << 24) | (rd[9] << 16) | (rd[10] << 8) | rd[11];
  const std::uint32_t inc = (std::uint32_t{rd[12]} << 24) | (rd[13] << 16) | (rd[14] << 8) | rd[15];
  EXPECT_LE(inc, now - 3600);
  EXPECT_GT(inc, now - 2 * 3600 - 1);
  EXPECT_GT(exp, now + 13 * 86400);
}

TEST_F(Signer, WithoutDoNothingIsSigned) {
  QuerySpec s = dnssec_query("laptop.alice.uw.dht.", type::A);
  s.edns_flags = 0;
  const auto d = run(s);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(of_type(d.answer, type::RRSIG).empty());
  EXPECT_EQ(of_type(d.answer, type::A).size(), 1u);
}

TEST_F(Signer, NxdomainIsCompactDenial) {
  const auto d = run(dnssec_query("nothing.alice.uw.dht.", type::A));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 0);  // RFC 9824: NOERROR
  EXPECT_TRUE(d.answer.empty());
  expect_signed(d.authority, type::SOA);
  expect_signed(d.authority, type::NSEC);
  const auto nsec = of_type(d.authority, type::NSEC);
  ASSERT_EQ(nsec.size(), 1u);
  EXPECT_EQ(nsec[0].name, "nothing.alice.uw.dht.");
  // next name \000.nothing.alice.uw.dht., then bitmap RRSIG NSEC | NXNAME (128).
  auto expect = std::vector<std::uint8_t>{1, 0};
  const auto owner = wire_of("nothing.alice.uw.dht.");
  expect.insert(expect.end(), owner.begin(), owner.end());
  // Window 0, 17 bytes: RRSIG (46) and NSEC (47) in byte 5, NXNAME (128) in byte 16.
  std::vector<std::uint8_t> bitmap(2 + 17, 0);
  bitmap[1] = 17;
  bitmap[2 + 5] = 0x03;
  bitmap[2 + 16] = 0x80;
  expect.insert(expect.end(), bitmap.begin(), bitmap.end());
  EXPECT_EQ(nsec[0].rdata, expect);
}

TEST_F(Signer, NodataNsecListsTheTypesThereButNotTheOneAsked) {
  const auto d = run(dnssec_query("phone.alice.uw.dht.", type::AAAA));
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.rcode(), 0);
  expect_signed(d.authority, type::NSEC);
  const auto nsec = of_type(d.authority, type::NSEC);
  ASSERT_EQ(nsec.size(), 1u);
  std::vector<std::uint8_t> bitmap(nsec[0].rdata.end() - 8, nsec[0].rdata.end());
  // Window 0, 6 bytes: A (1), RRSIG (46), NSEC (47); no AAAA (28).
  EXPECT_EQ(bitmap, (std::vector<std::uint8_t>{0, 6, 0x40, 0, 0, 0, 0, 0x03}));
}

// RFC 4034 §6.2: names in CNAME (NS, SOA, MX, SRV) rdata are lowercase in the
// signed form; the answer carries that form, so validators rebuild the same data.
TEST_F(Signer, CnameTargetIsSignedLowercase) {
  const auto d = run(dnssec_query("WWW.laptop.alice.uw.dht.", type::A));
  ASSERT_TRUE(d.ok);
  const auto cname = of_type(d.answer, type::CNAME);
  ASSERT_EQ(cname.size(), 1u);
  EXPECT_EQ(cname[0].rdata, wire_of("host.example.org."));
  expect_signed(d.answer, type::CNAME);
}

// RRs of a set are signed in canonical order (RFC 4034 §6.3), whatever the stored order.
TEST_F(Signer, RrsetIsSignedInCanonicalOrder) {
  auto d = run(dnssec_query("laptop.alice.uw.dht.", type::TXT));
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(of_type(d.answer, type::TXT).size(), 2u);
  expect_signed(d.answer, type::TXT);
  // A wildcard answer is owned by the query name and signed as such.
  d = run(dnssec_query("any.laptop.alice.uw.dht.", type::TXT));
  ASSERT_TRUE(d.ok);
  expect_signed(d.answer, type::TXT);
}

// A name too long for the "\000." next name gets no NSEC (never one whose next
// name is its owner, which would cover the whole zone).
TEST_F(Signer, NoNsecWhereTheNextNameCannotBeMade) {
  std::string name = "abcde.";  // 6 + 23 x 10 + 18 = 254 bytes in wire form
  for (int i = 0; i < 23; ++i) name += "abcdefghi.";
  name += "abc.alice.uw.dht.";
  Name n;
  ASSERT_TRUE(name_from_text(name, n));
  ASSERT_EQ(n.size, 254);
  const auto d = run(dnssec_query(name, type::A));
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(of_type(d.authority, type::NSEC).empty());
  // Without its first label (248 bytes) it gets its NSEC.
  const auto ok = run(dnssec_query(name.substr(6), type::A));
  EXPECT_EQ(of_type(ok.authority, type::NSEC).size(), 1u);
}

// An NSEC (or RRSIG) query: the NSEC that answers it still lists NSEC and RRSIG.
TEST_F(Signer, NsecQueryKeepsNsecInTheBitmap) {
  const auto d = run(dnssec_query("phone.alice.uw.dht.", type::NSEC));
  ASSERT_TRUE(d.ok);
  const auto nsec = of_type(d.authority, type::NSEC);
  ASSERT_EQ(nsec.size(), 1u);
  std::vector<std::uint8_t> bitmap(nsec[0].rdata.end() - 8, nsec[0].rdata.end());
  EXPECT_EQ(bitmap, (std::vector<std::uint8_t>{0, 6, 0x40, 0, 0, 0, 0, 0x03}));
}

TEST_F(Signer, ApexHasDnskeyCdsAndCdnskeyEvenWithoutDo) {
  QuerySpec s;
  s.name = "dht.";
  s.qtype = type::DNSKEY;
  auto d = run(s);
  ASSERT_TRUE(d.ok);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rtype, type::DNSKEY);
  EXPECT_EQ(d.answer[0].rdata,
            std::vector<std::uint8_t>(key_->dnskey_rdata().begin(), key_->dnskey_rdata().end()));
  d = run(dnssec_query("dht.", type::DNSKEY));
  expect_signed(d.answer, type::DNSKEY);
  d = run(dnssec_query("dht.", type::CDS));
  expect_signed(d.answer, type::CDS);
  Name zone;
  name_from_text("dht.", zone);
  EXPECT_EQ(of_type(d.answer, type::CDS)[0].rdata, key_->ds_rdata(zone));
  d = run(dnssec_query("dht.", type::CDNSKEY));
  expect_signed(d.answer, type::CDNSKEY);
  // Without --dnssec there is no key.
  d = run(s, Transport::udp, 1, false);
  EXPECT_TRUE(d.answer.empty());
}

TEST_F(Signer, NsAnswerAndGlueAreSigned) {
  const auto d = run(dnssec_query("dht.", type::NS), Transport::udp, 3);
  ASSERT_TRUE(d.ok);
  expect_signed(d.answer, type::NS);
  expect_signed(d.additional, type::A);
}

TEST_F(Signer, TooBigForTheClientIsTruncatedAndWholeOverTcp) {
  QuerySpec s = dnssec_query("dht.", type::NS);
  s.udp_size = 512;
  auto d = run(s, Transport::udp, 40);
  ASSERT_TRUE(d.ok);
  EXPECT_TRUE(d.has(flag::TC));
  EXPECT_TRUE(d.answer.empty());
  d = run(s, Transport::tcp, 40);
  ASSERT_TRUE(d.ok);
  EXPECT_FALSE(d.has(flag::TC));
  EXPECT_EQ(of_type(d.answer, type::NS).size(), 40u);
  expect_signed(d.answer, type::NS);
}

TEST(DnssecWire, CanonicalSoaRdataIsLowercaseAndUncompressed) {
  // A message with "Dht." at 12, then SOA rdata at 17: "NS1" + pointer, "HostMaster" + pointer.
  std::vector<std::uint8_t> msg(12, 0);
  for (std::uint8_t b : Bytes{3, 'D', 'h', 't', 0}) msg.push_back(b);
  const std::size_t at = msg.size();
  for (std::uint8_t b : Bytes{3, 'N', 'S', '1', 0xC0, 12}) msg.push_back(b);
  for (std::uint8_t b : Bytes{10, 'H', 'o', 's', 't', 'M', 'a', 's', 't', 'e', 'r', 0xC0, 12}) {
    msg.push_back(b);
  }
  for (int i = 0; i < 20; ++i) msg.push_back(static_cast<std::uint8_t>(i));
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(canonical_rdata(type::SOA, msg, at, msg.size() - at, out));
  std::vector<std::uint8_t> expect;
  for (const char* n : {"ns1.dht.", "hostmaster.dht."}) {
    const auto w = wire_of(n);
    expect.insert(expect.end(), w.begin(), w.end());
  }
  for (int i = 0; i < 20; ++i) expect.push_back(static_cast<std::uint8_t>(i));
  EXPECT_EQ(out, expect);
  // Short or trailing bytes are refused.
  out.clear();
  EXPECT_FALSE(canonical_rdata(type::SOA, msg, at, msg.size() - at - 1, out));
  // Other types are copied as they are.
  out.clear();
  ASSERT_TRUE(canonical_rdata(type::TXT, msg, at, 4, out));
  EXPECT_EQ(out, (std::vector<std::uint8_t>{3, 'N', 'S', '1'}));
}

TEST(DnssecWire, TypeBitmapWindows) {
  std::vector<std::uint8_t> out;
  const std::vector<std::uint16_t> types{type::NSEC, type::A, type::RRSIG, type::CAA};
  append_type_bitmap(types, out);
  EXPECT_EQ(out, (std::vector<std::uint8_t>{0, 6, 0x40, 0, 0, 0, 0, 0x03, 1, 1, 0x40}));
}

TEST(DnssecWire, ValidityIsRoundedToTheHourBehind) {
  const auto v = validity_at(1'700'000'000);
  EXPECT_EQ(v.inception % 3600, 0u);
  EXPECT_LE(v.inception, 1'700'000'000u - 3600);
  EXPECT_GT(v.inception, 1'700'000'000u - 7200);
  EXPECT_EQ(v.expiration, v.inception + kSignatureLifetime);
  EXPECT_EQ(validity_at(1'700'000'001).inception, v.inception);  // same window: cached
}

}  // namespace
}  // namespace pweb::dns
