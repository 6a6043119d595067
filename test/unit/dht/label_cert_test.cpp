// Label certificates with real keys: OpenDHT (GnuTLS) identities as the
// nodes' keys, OpenSSL for the CA, as in a deployment.
#include "pweb/dht/label_cert.hpp"

#include <gtest/gtest.h>
#include <opendht/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "../temp_dir.hpp"
#include "pweb/dht/agent_directory.hpp"

namespace pweb::dht {
namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> spki_of(const ::dht::crypto::Identity& id) {
  ::dht::Blob b;
  id.first->getPublicKey().pack(b);
  return b;
}

std::vector<std::uint8_t> der_of_pem(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* x = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!x) return {};
  unsigned char* out = nullptr;
  const int n = i2d_X509(x, &out);
  std::vector<std::uint8_t> der(out, out + n);
  OPENSSL_free(out);
  X509_free(x);
  return der;
}

class LabelCerts : public ::testing::Test {
 protected:
  LabelCerts() {
    make_ca(ca_, "test federation", 30);
    anchors_ = TrustAnchors::load({ca_ / kCaCertFile});
  }
  std::vector<std::uint8_t> issue(const fs::path& ca, const std::string& label,
                                  const std::vector<std::uint8_t>& spki, unsigned days = 30,
                                  std::time_t from = std::time(nullptr)) {
    return der_of_pem(issue_label_cert(ca, label, spki, days, from));
  }

  testutil::TempDir dir_;
  fs::path ca_ = dir_.path() / "ca";
  TrustAnchors anchors_;
  ::dht::crypto::Identity node_ = ::dht::crypto::generateIdentity("node", {}, 1024);
  ::dht::crypto::Identity other_ = ::dht::crypto::generateIdentity("other", {}, 1024);
};

TEST_F(LabelCerts, CaFilesAndNoOverwrite) {
  const auto key = fs::status(ca_ / kCaKeyFile).permissions() & fs::perms::all;
  EXPECT_EQ(key, fs::perms::owner_read | fs::perms::owner_write);
  std::stringstream before;
  before << std::ifstream(ca_ / kCaKeyFile).rdbuf();
  try {
    make_ca(ca_, "again", 30);
    FAIL() << "an existing CA was overwritten";
  } catch (const DirectoryError& e) {
    EXPECT_NE(std::string(e.what()).find("refusing to overwrite"), std::string::npos) << e.what();
  }
  std::stringstream after;
  after << std::ifstream(ca_ / kCaKeyFile).rdbuf();
  EXPECT_EQ(before.str(), after.str());
  EXPECT_FALSE(anchors_.empty());
  EXPECT_TRUE(TrustAnchors{}.empty());
}

TEST_F(LabelCerts, IssuedCertificateVerifiesForItsLabelAndKeyOnly) {
  const auto now = std::time(nullptr);
  const auto spki = spki_of(node_);
  const auto cert = issue(ca_, "uw", spki);
  ASSERT_FALSE(cert.empty());
  EXPECT_EQ(certificate_spki(cert), spki);  // OpenSSL and OpenDHT agree on the DER
  EXPECT_EQ(anchors_.verify("uw", cert, spki, now), std::nullopt);
  // A checker whose clock lags the issuer's (here by half an hour) still accepts it.
  EXPECT_EQ(anchors_.verify("uw", cert, spki, now - 1800), std::nullopt);

  struct Case {
    const char* what;
    std::string label;
    std::vector<std::uint8_t> cert;
    std::vector<std::uint8_t> signer;
    const char* why;
  };
  make_ca(dir_.path() / "forger", "test federation", 30);  // same name, other key
  std::vector<std::uint8_t> garbage = cert;
  garbage.resize(garbage.size() / 2);
  std::vector<std::uint8_t> tampered = cert;
  tampered[tampered.size() - 5] ^= 0x01;  // in the signature
  const std::vector<Case> cases{
      {"another label", "mit", cert, spki, "not 'mit'"},
      {"another signer", "uw", cert, spki_of(other_), "another key"},
      {"no certificate", "uw", {}, spki, "no label certificate"},
      {"truncated", "uw", garbage, spki, "does not parse"},
      {"tampered", "uw", tampered, spki, "does not verify"},
      {"forged CA", "uw", issue(dir_.path() / "forger", "uw", spki), spki, "does not verify"},
      {"expired", "uw", issue(ca_, "uw", spki, 1, now - 3 * 86400), spki, "expired"},
      {"not yet valid", "uw", issue(ca_, "uw", spki, 1, now + 3 * 86400), spki, "not yet valid"},
  };
  for (const auto& c : cases) {
    const auto err = anchors_.verify(c.label, c.cert, c.signer, now);
    ASSERT_TRUE(err) << c.what << " was accepted";
    EXPECT_NE(err->find(c.why), std::string::npos) << c.what << ": " << *err;
  }
  // Both anchors given: either CA's certificates count.
  const auto both = TrustAnchors::load({ca_ / kCaCertFile, dir_.path() / "forger" / kCaCertFile});
  EXPECT_EQ(both.verify("uw", cases[5].cert, spki, now), std::nullopt);
}

TEST_F(LabelCerts, BadAnchorFilesAreStartupErrorsNamingTheFile) {
  const auto not_ca = dir_.path() / "leaf.pem";
  std::ofstream(not_ca) << issue_label_cert(ca_, "uw", spki_of(node_), 30, std::time(nullptr));
  const auto junk = dir_.path() / "junk.pem";
  std::ofstream(junk) << "hello";
  for (const auto& f : {not_ca, junk, dir_.path() / "missing.pem"}) {
    try {
      TrustAnchors::load({f});
      FAIL() << f << " was accepted as an anchor";
    } catch (const DirectoryError& e) {
      EXPECT_NE(std::string(e.what()).find(f.string()), std::string::npos) << e.what();
    }
  }
}

TEST_F(LabelCerts, CertifyNodeWritesTheLabelCertificateBesideTheIdentity) {
  const auto base = dir_.path() / "node" / "identity";
  EXPECT_THROW(certify_node(ca_, "uw", base, 365), DirectoryError);  // no identity yet
  fs::create_directories(base.parent_path());
  {
    std::ofstream crt(base.string() + ".crt", std::ios::binary);
    const auto packed = node_.second->getPacked();  // as the directory saves it (DER)
    crt.write(reinterpret_cast<const char*>(packed.data()), static_cast<long>(packed.size()));
  }
  const auto out = certify_node(ca_, "uw", base, 365);
  EXPECT_EQ(out, fs::path(base.string() + kLabelCertSuffix));
  const auto der = read_certificate_der(out);
  EXPECT_EQ(anchors_.verify("uw", der, spki_of(node_), std::time(nullptr)), std::nullopt);
  // Valid for the days asked, not more.
  EXPECT_TRUE(anchors_.verify("uw", der, spki_of(node_), std::time(nullptr) + 366 * 86400));
}

}  // namespace
}  // namespace pweb::dht
