#include "pweb/registrar/accounts.hpp"

#include <sodium.h>

#include <stdexcept>

namespace pweb::registrar {
namespace {

// OWASP's Argon2id floor (19 MiB, 2 passes): a node verifying a burst of logins
// must not need hundreds of MB.
constexpr unsigned long long kOpsLimit = 2;
constexpr std::size_t kMemLimit = 19 * 1024 * 1024;
constexpr std::size_t kMaxCachedUsers = 100000;

void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

std::string hash_password(std::string_view password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), kOpsLimit, kMemLimit,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    throw std::runtime_error("password hashing ran out of memory");
  }
  return out;
}

bool verify_password(std::string_view password, const std::string& hash) {
  init_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Accounts::Accounts(HashLookup lookup, ThrottleConfig throttle)
    : lookup_(std::move(lookup)), throttle_(throttle) {
  init_sodium();
  randombytes_buf(key_.data(), key_.size());
  dummy_hash_ = hash_password("pweb-dummy-password");
}

Accounts::Digest Accounts::digest(const std::string& user, std::string_view password) const {
  Digest d{};
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), key_.size(), d.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(user.data()), user.size());
  const unsigned char sep = 0;
  crypto_generichash_update(&st, &sep, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(password.data()),
                            password.size());
  crypto_generichash_final(&st, d.data(), d.size());
  return d;
}

bool Accounts::blocked(const std::string& key) {
  auto f = failures_.lock();
  const auto it = f->find(key);
  return it != f->end() && Clock::now() < it->second.blocked_until;
}

void Accounts::record_failure(const std::string& key, int limit) {
  const auto now = Clock::now();
  auto f = failures_.lock();
  if (f->size() > kMaxCachedUsers) f->clear();  // bounded memory under a spray of addresses
  auto& e = (*f)[key];
  if (now - e.window_start > throttle_.window) {
    e.count = 0;
    e.window_start = now;
  }
  if (++e.count >= limit) {
    e.blocked_until = now + throttle_.block;
    e.count = 0;
  }
}

AuthResult Accounts::authenticate(const std::string& user, std::string_view password,
                                  const std::string& client) {
  const std::string client_user = client + '\0' + user;
  if (blocked(client) || blocked(client_user)) return AuthResult::throttled;
  const auto stored = lookup_(user);
  const Digest d = digest(user, password);
  if (stored) {
    auto v = verified_.lock();
    const auto it = v->find(user);
    if (it != v->end() && it->second.hash == *stored &&
        sodium_memcmp(it->second.digest.data(), d.data(), d.size()) == 0) {
      return AuthResult::ok;
    }
  }
  // The slow path, outside any lock.
  const bool ok = verify_password(password, stored ? *stored : dummy_hash_) && stored.has_value();
  if (!ok) {
    record_failure(client_user, throttle_.max_failures);
    record_failure(client, throttle_.max_address_failures);
    return AuthResult::bad;
  }
  auto v = verified_.lock();
  if (v->size() > kMaxCachedUsers) v->clear();
  (*v)[user] = Verified{d, *stored};
  return AuthResult::ok;
}

}  // namespace pweb::registrar
