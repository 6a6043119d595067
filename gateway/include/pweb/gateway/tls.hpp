#pragma once
// TLS 1.3 for agent-to-agent links. The server presents its DHT identity
// certificate; the client trusts no CA: it accepts a peer only if the public
// key in the peer's certificate is the key it follows for that agent (the one
// that signed the agent's DHT record), checked after the handshake, whose
// CertificateVerify proves the peer holds that key's private half.
#include <asio/ssl.hpp>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pweb::gateway {

class TlsError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Server side: certificate and key (PEM) of this node's DHT identity. Throws
// TlsError naming the file that could not be used.
std::shared_ptr<asio::ssl::context> make_server_tls(const std::filesystem::path& cert_pem,
                                                    const std::filesystem::path& key_pem);
// Client side: TLS 1.3 only, no CA (the peer key is checked by the caller),
// session tickets kept by the client for resumption.
std::shared_ptr<asio::ssl::context> make_client_tls();

// The key an agent link must present: its DER SubjectPublicKeyInfo when the
// DHT record gave it, else its key id (SHA-1 of that DER, 40 hex digits, as
// OpenDHT and `pweb-node pin` print it) from configuration.
struct PeerKey {
  std::vector<std::uint8_t> spki;
  std::string key_id;
  [[nodiscard]] bool empty() const noexcept { return spki.empty() && key_id.empty(); }
  friend bool operator==(const PeerKey&, const PeerKey&) = default;
};

// Appends to `in` up to `max` bytes TLS has already received and decrypted
// or buffered (no system call beyond what OpenSSL's buffers hold); returns how
// many, 0 when nothing is there or on an error (the next asynchronous read
// reports it). For a stream with no operation in flight.
std::size_t read_buffered(SSL* ssl, std::vector<std::uint8_t>& in, std::size_t max);

// The DER SubjectPublicKeyInfo of the peer's certificate; empty if none.
std::vector<std::uint8_t> peer_spki(SSL* ssl);
// SHA-1 of `spki` in lowercase hex (OpenDHT's key id).
std::string key_id_of(const std::vector<std::uint8_t>& spki);
// Whether `seen` (a peer's SPKI) is the expected key.
bool key_matches(const PeerKey& expected, const std::vector<std::uint8_t>& seen);

}  // namespace pweb::gateway
