#pragma once
// The zone's DNSSEC key: one ECDSA P-256 CSK (algorithm 13, DNSKEY flags 257).
// OpenSSL does every piece of cryptography; this only lays out DNS wire forms.
// Pure: no sockets, no logging, no files (the node reads the PEM).
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/dns/message.hpp"

namespace pweb::dns {

inline constexpr std::uint8_t kDnssecAlgorithm = 13;  // ECDSAP256SHA256, RFC 6605
inline constexpr std::uint16_t kDnskeyFlags = 257;    // zone key + SEP: a CSK
inline constexpr std::size_t kEcdsaSignatureSize = 64;
using EcdsaSignature = std::array<std::uint8_t, kEcdsaSignatureSize>;
using Sha256 = std::array<std::uint8_t, 32>;

// SHA-256 of `data` (OpenSSL, the digest fetched once per thread); false on failure.
bool sha256(std::span<const std::uint8_t> data, Sha256& out) noexcept;

class DnssecKey {
 public:
  // A P-256 private key in PEM (PKCS#8 or SEC1); null and `error` set otherwise.
  static std::shared_ptr<const DnssecKey> from_pem(std::string_view pem, std::string& error);
  // A fresh P-256 private key, PKCS#8 PEM; empty if OpenSSL failed.
  static std::string generate_pem();

  ~DnssecKey();
  DnssecKey(const DnssecKey&) = delete;
  DnssecKey& operator=(const DnssecKey&) = delete;

  // flags, protocol 3, algorithm 13, then the 64-byte public point x||y.
  [[nodiscard]] std::span<const std::uint8_t> dnskey_rdata() const noexcept { return dnskey_; }
  [[nodiscard]] std::uint16_t key_tag() const noexcept { return key_tag_; }
  // DS rdata with a SHA-256 digest (type 2) for the zone `owner` (any case).
  [[nodiscard]] std::vector<std::uint8_t> ds_rdata(const Name& owner) const;
  // "zone. 3600 IN DS 12345 13 2 HEX" for the zone text ("dyn.example.org.").
  [[nodiscard]] std::string ds_text(std::string_view zone) const;
  // An RFC 6605 signature (r||s, 32 bytes each) of SHA-256(data); false if OpenSSL failed.
  bool sign(std::span<const std::uint8_t> data, EcdsaSignature& out) const noexcept;
  // The same from the SHA-256 digest already made (sha256()), with a signing
  // context kept per thread: the hot path of the online signer.
  bool sign_digest(const Sha256& digest, EcdsaSignature& out) const noexcept;

  struct Impl;

 private:
  explicit DnssecKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::vector<std::uint8_t> dnskey_;
  std::uint16_t key_tag_ = 0;
  std::uint64_t id_ = 0;  // unique per key made: names it in per-thread signing contexts
};

// RFC 4034 Appendix B: the key tag of DNSKEY rdata (a checksum, not cryptography).
std::uint16_t key_tag_of(std::span<const std::uint8_t> dnskey_rdata) noexcept;

}  // namespace pweb::dns
