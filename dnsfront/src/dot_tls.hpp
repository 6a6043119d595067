#pragma once
// The TLS side of DNS over TLS (RFC 7858): one server context for every
// worker's DoT listeners.
#include <asio/ssl.hpp>
#include <memory>
#include <string>

namespace pweb::dns {

// TLS 1.2 and 1.3 only (RFC 8310 / BCP 195: no SSL, TLS 1.0 or 1.1), forward
// secret AEAD suites, no renegotiation; ALPN "dot" when the client offers it.
// Presents `cert_pem` (a chain) with `key_pem`. Throws ConfigError naming the
// file that cannot be used.
std::shared_ptr<asio::ssl::context> make_dot_tls(const std::string& cert_pem,
                                                 const std::string& key_pem);

}  // namespace pweb::dns
