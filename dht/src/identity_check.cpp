#include "pweb/dht/identity_check.hpp"

#include <opendht/crypto.h>

#include <algorithm>
#include <exception>
#include <memory>

#include "pweb/dht/label_cert.hpp"

namespace pweb::dht {

std::optional<std::string> identity_problem(std::string_view key, std::string_view cert,
                                            std::optional<std::string_view> label_cert) {
  namespace od = ::dht;
  // The node's own loader (load_identity): OpenDHT parses both and compares key ids.
  std::unique_ptr<od::crypto::PrivateKey> private_key;
  try {
    private_key = std::make_unique<od::crypto::PrivateKey>(key);
  } catch (const std::exception& e) {
    return std::string("the private key does not parse: ") + e.what();
  }
  std::unique_ptr<od::crypto::Certificate> certificate;
  try {
    certificate = std::make_unique<od::crypto::Certificate>(cert);
  } catch (const std::exception& e) {
    return std::string("the certificate does not parse: ") + e.what();
  }
  if (!*certificate) return "the certificate does not parse";
  if (private_key->getPublicKey().getId() != certificate->getId()) {
    return "the private key is not the certificate's key";
  }
  if (!label_cert) return std::nullopt;
  const auto label_spki = certificate_spki(certificate_der(*label_cert));
  if (label_spki.empty()) return "the label certificate does not parse";
  const auto spki = certificate_spki(certificate_der(cert));
  if (spki.empty() || !std::equal(spki.begin(), spki.end(), label_spki.begin(), label_spki.end())) {
    return "the label certificate certifies another key than the identity's";
  }
  return std::nullopt;
}

}  // namespace pweb::dht
