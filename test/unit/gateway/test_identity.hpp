#pragma once
// A throwaway self-signed RSA identity (PEM files) for TLS tests, made with
// OpenSSL the way an agent's DHT identity looks: a certificate and its key.
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace pweb::testutil {

struct TestIdentity {
  std::filesystem::path cert, key;
  std::vector<std::uint8_t> spki;  // DER SubjectPublicKeyInfo

  TestIdentity(const std::filesystem::path& dir, const std::string& name) {
    cert = dir / (name + ".crt");
    key = dir / (name + ".pem");
    EVP_PKEY* pkey = EVP_RSA_gen(2048);
    X509* x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME* n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_sign(x, pkey, EVP_sha256());
    FILE* f = std::fopen(cert.c_str(), "w");
    PEM_write_X509(f, x);
    std::fclose(f);
    f = std::fopen(key.c_str(), "w");
    PEM_write_PrivateKey(f, pkey, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    const int len = i2d_PUBKEY(pkey, nullptr);
    spki.resize(static_cast<std::size_t>(len));
    unsigned char* p = spki.data();
    i2d_PUBKEY(pkey, &p);
    X509_free(x);
    EVP_PKEY_free(pkey);
  }
};

}  // namespace pweb::testutil
