#include "pweb/registrar/accounts.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include "pweb/registrar/device.hpp"

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
  if (f->size() > kMaxCachedUsers) {
    // Bounded memory under a spray of addresses: forget the counts that no
    // longer matter first, so a spray does not lift the blocks in force.
    std::erase_if(*f, [&](const auto& kv) {
      return now >= kv.second.blocked_until && now - kv.second.window_start > throttle_.window;
    });
    if (f->size() > kMaxCachedUsers) f->clear();
  }
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

bool Accounts::trusted(const std::string& client_user) {
  auto g = good_logins_.lock();
  const auto it = g->find(client_user);
  return it != g->end() && Clock::now() - it->second < throttle_.trusted;
}

// Distinct namespaces: no address contains "/" with "net " nor starts with "user ".
bool Accounts::throttled(const std::string& user, const std::string& client) {
  const std::string client_user = client + '\0' + user;
  if (blocked(client) || blocked(client_user)) return true;
  return (blocked("net " + address_prefix(client)) || blocked("user " + user)) &&
         !trusted(client_user);
}

void Accounts::record_failures(const std::string& user, const std::string& client) {
  record_failure(client + '\0' + user, throttle_.max_failures);
  record_failure(client, throttle_.max_address_failures);
  record_failure("net " + address_prefix(client), throttle_.max_prefix_failures);
  record_failure("user " + user, throttle_.max_user_failures);
}

void Accounts::record_success(const std::string& user, const std::string& client) {
  auto g = good_logins_.lock();
  if (g->size() > kMaxCachedUsers) g->clear();  // only real logins get here
  (*g)[client + '\0' + user] = Clock::now();
}

AuthResult Accounts::authenticate(const std::string& user, std::string_view password,
                                  const std::string& client) {
  if (throttled(user, client)) return AuthResult::throttled;
  const auto stored = lookup_(user);
  const Digest d = digest(user, password);
  bool ok = false;
  if (stored) {
    auto v = verified_.lock();
    const auto it = v->find(user);
    ok = it != v->end() && it->second.hash == *stored &&
         sodium_memcmp(it->second.digest.data(), d.data(), d.size()) == 0;
  }
  if (!ok) {
    // The slow path, outside any lock.
    ok = verify_password(password, stored ? *stored : dummy_hash_) && stored.has_value();
    if (!ok) {
      record_failures(user, client);
      return AuthResult::bad;
    }
    auto v = verified_.lock();
    if (v->size() > kMaxCachedUsers) v->clear();
    (*v)[user] = Verified{d, *stored};
  }
  record_success(user, client);
  return AuthResult::ok;
}

AuthResult Accounts::authenticate_with(const std::string& user, const std::string& client,
                                       const std::function<bool()>& check) {
  if (throttled(user, client)) return AuthResult::throttled;
  if (!check()) {
    record_failures(user, client);
    return AuthResult::bad;
  }
  record_success(user, client);
  return AuthResult::ok;
}

std::string address_prefix(const std::string& client) {
  auto v4 = parse_ipv4(client);
  auto v6 = v4 ? std::nullopt : parse_ipv6(client);
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (v6 && std::equal(kMapped, kMapped + 12, v6->begin())) {
    v4 = Ipv4{(*v6)[12], (*v6)[13], (*v6)[14], (*v6)[15]};
  }
  if (v4) {
    (*v4)[3] = 0;
    return format_ipv4(*v4) + "/24";
  }
  if (v6) {
    std::fill(v6->begin() + 7, v6->end(), std::uint8_t{0});
    return format_ipv6(*v6) + "/56";
  }
  return client;
}

}  // namespace pweb::registrar
