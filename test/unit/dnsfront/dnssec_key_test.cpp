#include "pweb/dns/dnssec_key.hpp"

#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>

#include "temp_dir.hpp"

namespace pweb::dns {
namespace {

std::string base64(std::span<const std::uint8_t> data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  std::array<char, 512> buf{};
  while (fgets(buf.data(), static_cast<int>(buf.size()), p)) out += buf.data();
  pclose(p);
  return out;
}

std::shared_ptr<const DnssecKey> new_key() {
  std::string err;
  auto key = DnssecKey::from_pem(DnssecKey::generate_pem(), err);
  EXPECT_TRUE(key) << err;
  return key;
}

TEST(DnssecKey, DnskeyIsACskOfAlgorithm13) {
  const auto key = new_key();
  ASSERT_TRUE(key);
  const auto rd = key->dnskey_rdata();
  ASSERT_EQ(rd.size(), 4u + 64u);
  EXPECT_EQ(rd[0], 1);  // flags 257: zone key and SEP
  EXPECT_EQ(rd[1], 1);
  EXPECT_EQ(rd[2], 3);
  EXPECT_EQ(rd[3], 13);
}

// BIND's dnssec-dsfromkey computes the key tag and the SHA-256 DS independently.
TEST(DnssecKey, KeyTagAndDsMatchBindsDsfromkey) {
  const std::string tool = "/usr/bin/dnssec-dsfromkey";
  if (!std::ifstream(tool)) FAIL() << tool << " is missing (Debian bind9-utils, in install-deps)";
  testutil::TempDir dir;
  for (int round = 0; round < 3; ++round) {
    const auto key = new_key();
    ASSERT_TRUE(key);
    const auto rd = key->dnskey_rdata();
    const auto file = dir.path() / ("k" + std::to_string(round));
    std::ofstream(file) << "Dyn.Example.ORG. 3600 IN DNSKEY 257 3 13 " << base64(rd.subspan(4))
                        << "\n";
    const std::string out = run(tool + " -2 -f " + file.string() + " dyn.example.org. 2>&1");
    // "dyn.example.org. IN DS 12345 13 2 HEX"
    const std::string ours = key->ds_text("dyn.example.org");
    ASSERT_EQ(ours.rfind("dyn.example.org. 3600 IN DS ", 0), 0u) << ours;
    const std::string tail = ours.substr(std::string("dyn.example.org. 3600 IN DS ").size());
    EXPECT_NE(out.find("IN DS " + tail), std::string::npos) << "bind: " << out << "ours: " << ours;
    EXPECT_NE(out.find(" DS " + std::to_string(key->key_tag()) + " 13 2 "), std::string::npos)
        << out;
  }
}

TEST(DnssecKey, SignatureIsRawRAndSVerifiedByOpenSsl) {
  const std::string pem = DnssecKey::generate_pem();
  std::string err;
  const auto key = DnssecKey::from_pem(pem, err);
  ASSERT_TRUE(key) << err;
  const std::string msg = "the data an RRSIG covers";
  const std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(msg.data()),
                                           msg.size());
  EcdsaSignature sig{};
  ASSERT_TRUE(key->sign(data, sig));

  // Back to DER, then OpenSSL verifies with the public key from the PEM.
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_TRUE(pkey);
  // The DNSKEY carries the same public point.
  unsigned char* point = nullptr;
  const std::size_t point_len = EVP_PKEY_get1_encoded_public_key(pkey, &point);
  ASSERT_EQ(point_len, 65u);
  EXPECT_TRUE(std::equal(point + 1, point + 65, key->dnskey_rdata().begin() + 4));
  OPENSSL_free(point);

  auto verify = [&](std::span<const std::uint8_t> d) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    const int rc =
        EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey) == 1
            ? EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_len), d.data(), d.size())
            : -1;
    EVP_MD_CTX_free(ctx);
    return rc;
  };
  EXPECT_EQ(verify(data), 1);
  std::string other = msg;
  other[0] = 'T';
  EXPECT_NE(verify({reinterpret_cast<const std::uint8_t*>(other.data()), other.size()}), 1);
  OPENSSL_free(der);
  EVP_PKEY_free(pkey);
}

// The signer's path: the digest made once (also the cache key), signed with a
// per-thread context; OpenSSL verifies it over the data, twice with one context.
TEST(DnssecKey, DigestSignatureVerifiesOverTheData) {
  const std::string pem = DnssecKey::generate_pem();
  std::string err;
  const auto key = DnssecKey::from_pem(pem, err);
  ASSERT_TRUE(key) << err;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_TRUE(pkey);
  for (const std::string msg : {"first RRset", "second RRset"}) {
    const std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(msg.data()),
                                             msg.size());
    Sha256 digest{};
    ASSERT_TRUE(sha256(data, digest));
    EcdsaSignature sig{};
    ASSERT_TRUE(key->sign_digest(digest, sig));
    ECDSA_SIG* es = ECDSA_SIG_new();
    ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(es, &der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EXPECT_EQ(EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, pkey), 1);
    EXPECT_EQ(
        EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_len), data.data(), data.size()), 1)
        << msg;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
  }
  EVP_PKEY_free(pkey);
}

TEST(DnssecKey, RefusesOtherKeys) {
  std::string err;
  EXPECT_FALSE(DnssecKey::from_pem("not a key", err));
  EXPECT_FALSE(err.empty());
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  ASSERT_TRUE(p384);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, p384, nullptr, nullptr, 0, nullptr, nullptr);
  char* text = nullptr;
  const long n = BIO_get_mem_data(bio, &text);
  const std::string pem(text, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(p384);
  err.clear();
  EXPECT_FALSE(DnssecKey::from_pem(pem, err));
  EXPECT_NE(err.find("P-256"), std::string::npos) << err;
}

// RFC 4034 Appendix B over a known rdata: the sum of 16-bit words, folded.
TEST(DnssecKey, KeyTagArithmetic) {
  const std::array<std::uint8_t, 6> rd{0x01, 0x01, 0x03, 0x0d, 0xff, 0xff};
  // 0x0101 + 0x030d + 0xffff = 0x1040d -> 0x040d + 0x1 = 0x040e
  EXPECT_EQ(key_tag_of(rd), 0x040e);
}

}  // namespace
}  // namespace pweb::dns
