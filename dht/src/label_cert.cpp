#include "pweb/dht/label_cert.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "pweb/dht/agent_directory.hpp"
#include "write_all.hpp"

namespace pweb::dht {
namespace {

namespace fs = std::filesystem;

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using CtxPtr = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

// The last OpenSSL error, for messages; clears the queue.
std::string ssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown error";
  std::array<char, 256> buf{};
  ERR_error_string_n(e, buf.data(), buf.size());
  return buf.data();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw DirectoryError("cannot read " + p.string());
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) throw DirectoryError("cannot read " + p.string());
  return data;
}

X509Ptr parse_der(std::span<const std::uint8_t> der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (cert && p != der.data() + der.size()) cert.reset();  // trailing bytes
  ERR_clear_error();
  return cert;
}

std::vector<std::uint8_t> to_der(X509* cert) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(cert, &out);
  if (n <= 0) return {};
  std::vector<std::uint8_t> der(out, out + n);
  OPENSSL_free(out);
  return der;
}

std::vector<std::uint8_t> spki_of(X509* cert) {
  unsigned char* out = nullptr;
  const int n = i2d_PUBKEY(X509_get0_pubkey(cert), &out);
  if (n <= 0) {
    ERR_clear_error();
    return {};
  }
  std::vector<std::uint8_t> der(out, out + n);
  OPENSSL_free(out);
  return der;
}

// Every certificate in a PEM text.
std::vector<X509Ptr> pem_certs(const std::string& text) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  while (bio) {
    X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c) break;
    out.push_back(std::move(c));
  }
  ERR_clear_error();  // the end of the text reads as an error
  return out;
}

// The first certificate in a PEM or DER text; null if there is none.
X509Ptr parse_cert(const std::string& text) {
  auto pem = pem_certs(text);
  if (!pem.empty()) return std::move(pem.front());
  return parse_der({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
}

X509Ptr read_cert(const fs::path& file) {
  auto cert = parse_cert(read_text(file));
  if (!cert) throw DirectoryError(file.string() + " holds no X.509 certificate (PEM or DER)");
  return cert;
}

// The only subject CN, or nullopt when there is none or several.
std::optional<std::string> common_name(X509* cert) {
  const X509_NAME* name = X509_get_subject_name(cert);
  const int at = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (at < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, at) >= 0) return std::nullopt;
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, at));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) {
    ERR_clear_error();
    return std::nullopt;
  }
  std::string cn(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return cn;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    throw DirectoryError(std::string("cannot add certificate extension ") + value + ": " +
                         ssl_error());
  }
}

// Clocks of the nodes that check a certificate may lag the issuer's: a fresh
// certificate starts an hour early so it is not "not yet valid" there.
constexpr long kBackdateSeconds = 3600;

// A new certificate with a random positive serial, CN `cn`, valid `days` from `from`.
X509Ptr new_cert(const std::string& cn, unsigned days, std::time_t from) {
  X509Ptr cert(X509_new());
  std::array<unsigned char, 16> serial{};
  if (!cert || RAND_bytes(serial.data(), serial.size()) != 1) {
    throw DirectoryError("cannot make a certificate: " + ssl_error());
  }
  serial[0] &= 0x7F;  // positive
  BIGNUM* bn = BN_bin2bn(serial.data(), serial.size(), nullptr);
  const bool ok =
      X509_set_version(cert.get(), 2) == 1 && bn &&
      BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) &&
      X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -kBackdateSeconds, &from) &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), static_cast<int>(days), 0, &from) &&
      X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) == 1;
  BN_free(bn);
  if (!ok) throw DirectoryError("cannot make a certificate: " + ssl_error());
  return cert;
}

// Written whole under a temporary name, then renamed; O_EXCL on the target's
// name is checked by the caller.
void write_file(const fs::path& p, const std::string& data, mode_t mode) {
  const fs::path tmp = p.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw DirectoryError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, mode) == 0;
  ok = ok && write_all(fd, data.data(), data.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw DirectoryError("cannot write " + tmp.string());
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) throw DirectoryError("cannot write " + p.string() + ": " + ec.message());
}

std::string pem_of(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    throw DirectoryError("cannot encode a certificate: " + ssl_error());
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace

TrustAnchors TrustAnchors::load(const std::vector<fs::path>& pem_files) {
  TrustAnchors out;
  if (pem_files.empty()) return out;
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  if (!store) throw DirectoryError("cannot make a certificate store: " + ssl_error());
  // An anchor may be an intermediate CA of a larger PKI: it is trusted as given.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  for (const auto& file : pem_files) {
    auto certs = pem_certs(read_text(file));
    if (certs.empty()) {
      throw DirectoryError("trust anchor " + file.string() + " holds no PEM certificate");
    }
    for (auto& c : certs) {
      if (X509_check_ca(c.get()) == 0) {
        throw DirectoryError("trust anchor " + file.string() +
                             " holds a certificate that is not a CA (basicConstraints CA:TRUE)");
      }
      if (X509_STORE_add_cert(store.get(), c.get()) != 1) {
        const auto err = ssl_error();
        throw DirectoryError("trust anchor " + file.string() + ": " + err);
      }
    }
  }
  out.store_ = std::move(store);
  return out;
}

std::optional<std::string> TrustAnchors::verify(std::string_view label,
                                                std::span<const std::uint8_t> cert_der,
                                                std::span<const std::uint8_t> signer_spki,
                                                std::time_t now) const {
  if (!store_) return "no trust anchors";
  if (cert_der.empty()) return "the record carries no label certificate";
  const X509Ptr cert = parse_der(cert_der);
  if (!cert) return "the label certificate does not parse";
  const auto cn = common_name(cert.get());
  if (!cn || *cn != label) {
    return "the label certificate is for '" + cn.value_or("?") + "', not '" + std::string(label) +
           "'";
  }
  const auto spki = spki_of(cert.get());
  if (spki.empty() ||
      !std::equal(spki.begin(), spki.end(), signer_spki.begin(), signer_spki.end())) {
    return "the label certificate is for another key than the record's signer";
  }
  CtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store_.get(), cert.get(), nullptr) != 1) {
    return "cannot verify: " + ssl_error();
  }
  X509_STORE_CTX_set_time(ctx.get(), 0, now);
  if (X509_verify_cert(ctx.get()) != 1) {
    const int err = X509_STORE_CTX_get_error(ctx.get());
    ERR_clear_error();
    return std::string("the label certificate does not verify against the trust anchors: ") +
           X509_verify_cert_error_string(err);
  }
  return std::nullopt;
}

std::vector<std::uint8_t> read_certificate_der(const fs::path& file) {
  auto cert = read_cert(file);
  return to_der(cert.get());
}

std::vector<std::uint8_t> certificate_der(std::string_view text) {
  const X509Ptr cert = parse_cert(std::string(text));
  return cert ? to_der(cert.get()) : std::vector<std::uint8_t>{};
}

std::vector<std::uint8_t> certificate_spki(std::span<const std::uint8_t> cert_der) {
  const X509Ptr cert = parse_der(cert_der);
  return cert ? spki_of(cert.get()) : std::vector<std::uint8_t>{};
}

void make_ca(const fs::path& dir, const std::string& name, unsigned days) {
  const fs::path key_path = dir / kCaKeyFile, crt_path = dir / kCaCertFile;
  std::error_code ec;
  if (fs::exists(key_path, ec) || fs::exists(crt_path, ec)) {
    throw DirectoryError("a CA exists in " + dir.string() + " already (" + key_path.string() +
                         "); refusing to overwrite it");
  }
  fs::create_directories(dir, ec);
  if (ec) throw DirectoryError("cannot create " + dir.string() + ": " + ec.message());
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throw DirectoryError("cannot generate the CA key: " + ssl_error());
  X509Ptr cert = new_cert(name, days, std::time(nullptr));
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  if (X509_set_pubkey(cert.get(), key.get()) != 1) {
    throw DirectoryError("cannot make the CA certificate: " + ssl_error());
  }
  add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) {
    throw DirectoryError("cannot sign the CA certificate: " + ssl_error());
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throw DirectoryError("cannot encode the CA key: " + ssl_error());
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  // The certificate first: the key's presence means the CA is complete.
  write_file(crt_path, pem_of(cert.get()), 0644);
  write_file(key_path, std::string(data, static_cast<std::size_t>(n)), 0600);
}

std::string issue_label_cert(const fs::path& ca_dir, const std::string& label,
                             std::span<const std::uint8_t> subject_spki, unsigned days,
                             std::time_t not_before) {
  const fs::path key_path = ca_dir / kCaKeyFile;
  const X509Ptr ca = read_cert(ca_dir / kCaCertFile);
  const std::string key_pem = read_text(key_path);
  BioPtr bio(BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size())));
  KeyPtr ca_key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!ca_key) throw DirectoryError("CA key " + key_path.string() + " is unreadable");
  if (X509_check_private_key(ca.get(), ca_key.get()) != 1) {
    ERR_clear_error();
    throw DirectoryError("CA key " + key_path.string() + " does not match its certificate");
  }
  const unsigned char* p = subject_spki.data();
  KeyPtr subject(d2i_PUBKEY(nullptr, &p, static_cast<long>(subject_spki.size())));
  if (!subject) throw DirectoryError("the node's public key does not parse: " + ssl_error());
  X509Ptr cert = new_cert(label, days, not_before);
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca.get())) != 1 ||
      X509_set_pubkey(cert.get(), subject.get()) != 1) {
    throw DirectoryError("cannot make the label certificate: " + ssl_error());
  }
  add_ext(cert.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(cert.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  add_ext(cert.get(), ca.get(), NID_authority_key_identifier, "keyid");
  if (X509_sign(cert.get(), ca_key.get(), EVP_sha256()) <= 0) {
    throw DirectoryError("cannot sign the label certificate: " + ssl_error());
  }
  return pem_of(cert.get());
}

fs::path certify_node(const fs::path& ca_dir, const std::string& label,
                      const fs::path& identity_base, unsigned days) {
  const fs::path crt = identity_base.string() + ".crt";
  std::error_code ec;
  if (!fs::exists(crt, ec)) {
    throw DirectoryError("no DHT identity certificate " + crt.string() +
                         " (start the node once on that data dir to make its identity)");
  }
  const auto spki = certificate_spki(read_certificate_der(crt));
  if (spki.empty()) throw DirectoryError("cannot read the public key in " + crt.string());
  const fs::path out = identity_base.string() + kLabelCertSuffix;
  write_file(out, issue_label_cert(ca_dir, label, spki, days, std::time(nullptr)), 0644);
  return out;
}

}  // namespace pweb::dht
