#include "pweb/dns/dnssec_key.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <atomic>
#include <cstdio>

namespace pweb::dns {

struct DnssecKey::Impl {
  EVP_PKEY* key = nullptr;
  ~Impl() { EVP_PKEY_free(key); }
};

namespace {

constexpr std::size_t kCoordinate = 32;
constexpr std::uint8_t kDnskeyProtocol = 3;
constexpr std::uint8_t kDigestSha256 = 2;

std::uint8_t lower(std::uint8_t c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<std::uint8_t>(c + ('a' - 'A')) : c;
}

}  // namespace

std::uint16_t key_tag_of(std::span<const std::uint8_t> rdata) noexcept {
  std::uint32_t ac = 0;
  for (std::size_t i = 0; i < rdata.size(); ++i) {
    ac += (i & 1) ? rdata[i] : static_cast<std::uint32_t>(rdata[i]) << 8;
  }
  ac += (ac >> 16) & 0xFFFF;
  return static_cast<std::uint16_t>(ac & 0xFFFF);
}

// Not the key's address: a new key may live where a freed one did.
namespace {
std::atomic<std::uint64_t> g_next_key_id{1};
}  // namespace

DnssecKey::DnssecKey(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)), id_(g_next_key_id.fetch_add(1, std::memory_order_relaxed)) {}
DnssecKey::~DnssecKey() = default;

std::shared_ptr<const DnssecKey> DnssecKey::from_pem(std::string_view pem, std::string& error) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) {
    error = "out of memory";
    return nullptr;
  }
  auto impl = std::make_unique<Impl>();
  impl->key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!impl->key) {
    error = "not a PEM private key";
    return nullptr;
  }
  char group[64] = {};
  std::size_t group_len = 0;
  if (!EVP_PKEY_is_a(impl->key, "EC") ||
      EVP_PKEY_get_group_name(impl->key, group, sizeof group, &group_len) != 1 ||
      std::string_view(group, group_len) != "prime256v1") {
    error = "not an ECDSA P-256 key (DNSSEC algorithm 13 needs one)";
    return nullptr;
  }
  unsigned char* point = nullptr;
  const std::size_t point_len = EVP_PKEY_get1_encoded_public_key(impl->key, &point);
  if (point_len != 1 + 2 * kCoordinate || point[0] != 0x04) {
    OPENSSL_free(point);
    error = "cannot read the public key";
    return nullptr;
  }
  std::shared_ptr<DnssecKey> key(new DnssecKey(std::move(impl)));
  key->dnskey_ = {static_cast<std::uint8_t>(kDnskeyFlags >> 8),
                  static_cast<std::uint8_t>(kDnskeyFlags & 0xFF), kDnskeyProtocol,
                  kDnssecAlgorithm};
  key->dnskey_.insert(key->dnskey_.end(), point + 1, point + point_len);
  OPENSSL_free(point);
  key->key_tag_ = key_tag_of(key->dnskey_);
  return key;
}

std::string DnssecKey::generate_pem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (!key) return {};
  std::string out;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio && PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1) {
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    if (n > 0) out.assign(data, static_cast<std::size_t>(n));
  }
  BIO_free(bio);
  EVP_PKEY_free(key);
  return out;
}

std::vector<std::uint8_t> DnssecKey::ds_rdata(const Name& owner) const {
  std::vector<std::uint8_t> input;
  for (auto c : owner.bytes()) input.push_back(lower(c));
  input.insert(input.end(), dnskey_.begin(), dnskey_.end());
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_len = 0;
  if (EVP_Digest(input.data(), input.size(), md.data(), &md_len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  std::vector<std::uint8_t> ds = {static_cast<std::uint8_t>(key_tag_ >> 8),
                                  static_cast<std::uint8_t>(key_tag_ & 0xFF), kDnssecAlgorithm,
                                  kDigestSha256};
  ds.insert(ds.end(), md.begin(), md.begin() + md_len);
  return ds;
}

std::string DnssecKey::ds_text(std::string_view zone) const {
  std::string z(zone);
  for (auto& c : z)
    c = static_cast<char>(lower(static_cast<std::uint8_t>(c)));  // as the node's zones
  if (z.empty() || z.back() != '.') z.push_back('.');
  Name name;
  if (!name_from_text(z, name)) return {};
  const auto ds = ds_rdata(name);
  if (ds.size() < 5) return {};
  std::string hex;
  for (std::size_t i = 4; i < ds.size(); ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02X", ds[i]);
    hex += b;
  }
  return z + " 3600 IN DS " + std::to_string(key_tag_) + " " + std::to_string(kDnssecAlgorithm) +
         " " + std::to_string(kDigestSha256) + " " + hex;
}

namespace {

// OpenSSL 3 fetches algorithms by name: done once per thread, not per answer.
struct ThreadCrypto {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* md_ctx = nullptr;
  std::uint64_t sign_key = 0;  // the id of the key `sign_ctx` was made for
  EVP_PKEY_CTX* sign_ctx = nullptr;
  ThreadCrypto() : md(EVP_MD_fetch(nullptr, "SHA256", nullptr)), md_ctx(EVP_MD_CTX_new()) {}
  ~ThreadCrypto() {
    EVP_PKEY_CTX_free(sign_ctx);
    EVP_MD_CTX_free(md_ctx);
    EVP_MD_free(md);
  }
  ThreadCrypto(const ThreadCrypto&) = delete;
  ThreadCrypto& operator=(const ThreadCrypto&) = delete;
};

ThreadCrypto& thread_crypto() {
  static thread_local ThreadCrypto c;
  return c;
}

// OpenSSL gives DER; RFC 6605 wants the two integers as 32 bytes each.
bool der_to_raw(const unsigned char* der, std::size_t der_len, EcdsaSignature& out) noexcept {
  const unsigned char* p = der;
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len));
  if (!sig) return false;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  const bool ok = BN_bn2binpad(r, out.data(), kCoordinate) == kCoordinate &&
                  BN_bn2binpad(s, out.data() + kCoordinate, kCoordinate) == kCoordinate;
  ECDSA_SIG_free(sig);
  return ok;
}

}  // namespace

bool sha256(std::span<const std::uint8_t> data, Sha256& out) noexcept {
  ThreadCrypto& c = thread_crypto();
  unsigned int len = 0;
  return c.md && c.md_ctx && EVP_DigestInit_ex(c.md_ctx, c.md, nullptr) == 1 &&
         EVP_DigestUpdate(c.md_ctx, data.data(), data.size()) == 1 &&
         EVP_DigestFinal_ex(c.md_ctx, out.data(), &len) == 1 && len == out.size();
}

bool DnssecKey::sign_digest(const Sha256& digest, EcdsaSignature& out) const noexcept {
  ThreadCrypto& c = thread_crypto();
  if (c.sign_key != id_ || !c.sign_ctx) {
    EVP_PKEY_CTX_free(c.sign_ctx);
    c.sign_key = 0;
    c.sign_ctx = EVP_PKEY_CTX_new(impl_->key, nullptr);
    if (!c.sign_ctx || EVP_PKEY_sign_init(c.sign_ctx) != 1) {
      EVP_PKEY_CTX_free(c.sign_ctx);
      c.sign_ctx = nullptr;
      return false;
    }
    c.sign_key = id_;
  }
  std::array<unsigned char, 80> der{};  // a P-256 DER signature is at most 72 bytes
  std::size_t der_len = der.size();
  if (EVP_PKEY_sign(c.sign_ctx, der.data(), &der_len, digest.data(), digest.size()) != 1) {
    return false;
  }
  return der_to_raw(der.data(), der_len, out);
}

bool DnssecKey::sign(std::span<const std::uint8_t> data, EcdsaSignature& out) const noexcept {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  std::array<unsigned char, 80> der{};  // a P-256 DER signature is at most 72 bytes
  std::size_t der_len = der.size();
  const bool signed_ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) == 1 &&
                         EVP_DigestSign(ctx, der.data(), &der_len, data.data(), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return signed_ok && der_to_raw(der.data(), der_len, out);
}

}  // namespace pweb::dns
