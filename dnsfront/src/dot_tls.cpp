#include "dot_tls.hpp"

#include <openssl/ssl.h>

#include "pweb/dns/authority.hpp"  // ConfigError

namespace pweb::dns {
namespace {

constexpr unsigned char kAlpnDot[] = {3, 'd', 'o', 't'};

// Picks "dot" among the client's protocols; a client offering only others
// goes on without ALPN (RFC 7858 predates it and needs none).
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpnDot, sizeof kAlpnDot, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_dot_tls(const std::string& cert_pem,
                                                 const std::string& key_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2: ECDHE with an AEAD only (TLS 1.3's suites are all of that kind).
  SSL_CTX_set_cipher_list(native, "ECDHE+AESGCM:ECDHE+CHACHA20");
  // An idle connection keeps no read/write buffers: many may wait between queries.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  asio::error_code ec;
  ctx->use_certificate_chain_file(cert_pem, ec);
  if (ec) {
    throw ConfigError("cannot use '" + cert_pem +
                      "' (--tls-cert) as the DNS-over-TLS certificate: " + ec.message());
  }
  ctx->use_private_key_file(key_pem, asio::ssl::context::pem, ec);
  if (ec) {
    throw ConfigError("cannot use '" + key_pem +
                      "' (--tls-key) as the DNS-over-TLS key: " + ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw ConfigError("'" + key_pem + "' (--tls-key) is not the key of '" + cert_pem +
                      "' (--tls-cert)");
  }
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  ctx->set_verify_mode(asio::ssl::verify_none);  // clients are not authenticated
  return ctx;
}

}  // namespace pweb::dns
