#include "pweb/gateway/tls.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>

namespace pweb::gateway {
namespace {

void tls13_only(asio::ssl::context& ctx) {
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(ctx.native_handle(), TLS1_3_VERSION);
  // Renegotiation does not exist in 1.3; compression is off by default.
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_server_tls(const std::filesystem::path& cert_pem,
                                                    const std::filesystem::path& key_pem) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  tls13_only(*ctx);
  asio::error_code ec;
  ctx->use_certificate_chain_file(cert_pem.string(), ec);
  if (ec)
    throw TlsError("cannot use " + cert_pem.string() +
                   " as the gateway's TLS certificate: " + ec.message());
  ctx->use_private_key_file(key_pem.string(), asio::ssl::context::pem, ec);
  if (ec)
    throw TlsError("cannot use " + key_pem.string() + " as the gateway's TLS key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    throw TlsError(key_pem.string() + " is not the key of " + cert_pem.string());
  }
  // Tickets let a reconnecting agent resume without the RSA signature.
  SSL_CTX_set_num_tickets(ctx->native_handle(), 2);
  ctx->set_verify_mode(asio::ssl::verify_none);  // clients are not authenticated
  return ctx;
}

std::shared_ptr<asio::ssl::context> make_client_tls() {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  tls13_only(*ctx);
  // No CA: the peer's self-signed identity certificate is judged by its key
  // alone (key_matches), after the handshake proved possession of that key.
  ctx->set_verify_mode(asio::ssl::verify_none);
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_CLIENT);
  return ctx;
}

std::size_t read_buffered(SSL* ssl, std::vector<std::uint8_t>& in, std::size_t max) {
  const std::size_t had = in.size();
  in.resize(had + max);
  ERR_clear_error();
  const int n = SSL_read(ssl, in.data() + had, static_cast<int>(max));
  const std::size_t got = n > 0 ? static_cast<std::size_t>(n) : 0;
  if (got == 0) ERR_clear_error();  // want-read: nothing buffered
  in.resize(had + got);
  return got;
}

std::vector<std::uint8_t> peer_spki(SSL* ssl) {
  std::vector<std::uint8_t> out;
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return out;
  EVP_PKEY* key = X509_get0_pubkey(cert);
  if (key != nullptr) {
    const int n = i2d_PUBKEY(key, nullptr);
    if (n > 0) {
      out.resize(static_cast<std::size_t>(n));
      unsigned char* p = out.data();
      if (i2d_PUBKEY(key, &p) != n) out.clear();
    }
  }
  X509_free(cert);
  return out;
}

std::string key_id_of(const std::vector<std::uint8_t>& spki) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(spki.data(), spki.size(), md.data(), &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned i = 0; i < len; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0x0f]);
  }
  return out;
}

bool key_matches(const PeerKey& expected, const std::vector<std::uint8_t>& seen) {
  if (seen.empty() || expected.empty()) return false;
  if (!expected.spki.empty()) return expected.spki == seen;
  return key_id_of(seen) == expected.key_id;
}

}  // namespace pweb::gateway
