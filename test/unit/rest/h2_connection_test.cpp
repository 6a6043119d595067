#include "h2_connection.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace pweb::rest {
namespace {

// A TLS server context with a fresh self-signed P-256 certificate, and a
// client context that does not verify it: only ALPN is under test.
struct Contexts {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> server{SSL_CTX_new(TLS_server_method()),
                                                           SSL_CTX_free};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client{SSL_CTX_new(TLS_client_method()),
                                                           SSL_CTX_free};
  Contexts() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX_use_certificate(server.get(), cert);
    SSL_CTX_use_PrivateKey(server.get(), key);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// The protocol ALPN agreed on ("" for none) after an in-memory handshake in
// which the client offers `offer` (wire format: length-prefixed names).
std::string negotiate(Contexts& c, const std::string& offer, bool server_offers_h2) {
  if (server_offers_h2) offer_h2(c.server.get());
  SSL* server = SSL_new(c.server.get());
  SSL* client = SSL_new(c.client.get());
  BIO* a = nullptr;
  BIO* b = nullptr;
  BIO_new_bio_pair(&a, 0, &b, 0);
  SSL_set_bio(server, a, a);
  SSL_set_bio(client, b, b);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  if (!offer.empty()) {
    SSL_set_alpn_protos(client, reinterpret_cast<const unsigned char*>(offer.data()),
                        static_cast<unsigned int>(offer.size()));
  }
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {  // bounded: a handshake takes a few rounds
    const int s = SSL_do_handshake(server);
    const int cl = SSL_do_handshake(client);
    done = s == 1 && cl == 1;
  }
  EXPECT_TRUE(done);
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(server, &data, &len);
  const std::string chosen =
      data ? std::string(reinterpret_cast<const char*>(data), len) : std::string();
  EXPECT_EQ(alpn_is_h2(server), chosen == "h2");
  SSL_free(server);
  SSL_free(client);
  return chosen;
}

const std::string kH2AndHttp11("\x02h2\x08http/1.1", 12);
const std::string kHttp11Only("\x08http/1.1", 9);
const std::string kH2Only("\x02h2", 3);

TEST(OfferH2, H2IsPreferredWhenOffered) {
  Contexts c;
  EXPECT_EQ(negotiate(c, kH2AndHttp11, true), "h2");
  Contexts c2;
  EXPECT_EQ(negotiate(c2, kH2Only, true), "h2");
}

TEST(OfferH2, Http11ClientsKeepHttp11) {
  Contexts c;
  EXPECT_EQ(negotiate(c, kHttp11Only, true), "http/1.1");
  Contexts c2;
  EXPECT_EQ(negotiate(c2, "", true), "");  // no ALPN: HTTP/1.1 as before
  Contexts c3;
  EXPECT_EQ(negotiate(c3, std::string("\x06spdy/3", 7), true), "");
}

TEST(OfferH2, WithoutItNoAlpnIsAgreed) {
  Contexts c;
  EXPECT_EQ(negotiate(c, kH2AndHttp11, false), "");
}

}  // namespace
}  // namespace pweb::rest
