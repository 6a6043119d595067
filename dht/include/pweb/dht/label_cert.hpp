#pragma once
// Federation trust (OpenSSL): a CA certifies that a DHT key may hold an agent
// label. The certificate (CN = the label, the public key = the key that signs
// the agent record) travels inside the record; readers configured with the
// CA as a trust anchor follow only records whose certificate chains to it.
// Also the CA's own operations for `pweb-node ca init|sign`.
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct x509_store_st;

namespace pweb::dht {

// Files of a federation CA directory.
inline constexpr const char* kCaKeyFile = "ca.key";   // PEM private key, 0600
inline constexpr const char* kCaCertFile = "ca.crt";  // PEM self-signed certificate
// Beside a node's DHT identity (<data-dir>/identity.pem/.crt): its label certificate.
inline constexpr const char* kLabelCertSuffix = ".label.crt";

class TrustAnchors {
 public:
  TrustAnchors() = default;  // none: every signed record may count (TOFU)
  // Loads every certificate in each PEM file; throws DirectoryError naming the
  // file when one is unreadable, holds no certificate, or one is not a CA.
  static TrustAnchors load(const std::vector<std::filesystem::path>& pem_files);

  [[nodiscard]] bool empty() const noexcept { return !store_; }

  // nullopt when `cert_der` chains to an anchor, is valid at `now`, names
  // `label` as its only subject CN and certifies `signer_spki` (DER
  // SubjectPublicKeyInfo of the key that signed the record); else why not.
  [[nodiscard]] std::optional<std::string> verify(std::string_view label,
                                                  std::span<const std::uint8_t> cert_der,
                                                  std::span<const std::uint8_t> signer_spki,
                                                  std::time_t now) const;

 private:
  std::shared_ptr<x509_store_st> store_;
};

// A certificate file (PEM or DER) as DER; throws DirectoryError naming the file.
std::vector<std::uint8_t> read_certificate_der(const std::filesystem::path& file);

// The first certificate in `text` (PEM or DER) as DER; empty if there is none.
std::vector<std::uint8_t> certificate_der(std::string_view text);

// The DER SubjectPublicKeyInfo in a DER certificate; empty if it does not parse.
std::vector<std::uint8_t> certificate_spki(std::span<const std::uint8_t> cert_der);

// Makes a CA in `dir` (created if needed): an EC P-256 key (ca.key, 0600) and a
// self-signed certificate (ca.crt, CA:TRUE, keyCertSign) with CN `name`, valid
// `days`. Throws DirectoryError if a CA is there already or on any failure.
void make_ca(const std::filesystem::path& dir, const std::string& name, unsigned days);

// A PEM certificate for `label` (CN) on the public key `subject_spki` (DER),
// signed by the CA in `ca_dir`, valid from `not_before` for `days`.
// Throws DirectoryError on unreadable CA files or a bad key.
std::string issue_label_cert(const std::filesystem::path& ca_dir, const std::string& label,
                             std::span<const std::uint8_t> subject_spki, unsigned days,
                             std::time_t not_before);

// `pweb-node ca sign`: certifies the DHT identity <identity_base>.crt for
// `label` and writes <identity_base>.label.crt, which the node puts into its
// record. Returns that path; throws DirectoryError.
std::filesystem::path certify_node(const std::filesystem::path& ca_dir, const std::string& label,
                                   const std::filesystem::path& identity_base, unsigned days);

}  // namespace pweb::dht
