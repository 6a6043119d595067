#pragma once
// Accounts: Argon2id password hashes (libsodium), authentication with a cache
// of recently verified credentials (Argon2id costs ~50 ms by design; DynDNS
// clients send Basic auth on every request), and throttling of failed logins
// per client address.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pweb/lock_guarded.hpp"

namespace pweb::registrar {

// Argon2id hash in libsodium's string form. Throws std::runtime_error when out of memory.
std::string hash_password(std::string_view password);
// Constant time in the password; false for malformed hashes.
bool verify_password(std::string_view password, const std::string& hash);

enum class AuthResult { ok, bad, throttled };

// Failed logins are counted per (address, user) and per address: one client
// with a wrong password (say behind a shared NAT) blocks only that user there;
// an address guessing across many users is blocked whole at a higher count.
struct ThrottleConfig {
  int max_failures = 10;           // per (address, user) within the window, then blocked
  int max_address_failures = 100;  // per address, whatever the users
  std::chrono::seconds window{60};
  std::chrono::seconds block{60};
};

class Accounts {
 public:
  // `lookup` returns the stored hash of a user (the store), or nullopt.
  using HashLookup = std::function<std::optional<std::string>(const std::string& user)>;
  using Clock = std::chrono::steady_clock;

  explicit Accounts(HashLookup lookup, ThrottleConfig throttle = {});

  AuthResult authenticate(const std::string& user, std::string_view password,
                          const std::string& client);

 private:
  using Digest = std::array<std::uint8_t, 32>;
  struct Verified {
    Digest digest;     // keyed hash of the password last verified
    std::string hash;  // the stored hash it was verified against
  };
  struct Failures {
    int count = 0;
    Clock::time_point window_start;
    Clock::time_point blocked_until;
  };

  [[nodiscard]] Digest digest(const std::string& user, std::string_view password) const;
  bool blocked(const std::string& key);
  void record_failure(const std::string& key, int limit);

  HashLookup lookup_;
  ThrottleConfig throttle_;
  std::array<std::uint8_t, 32> key_{};  // per process: cached digests are useless elsewhere
  std::string dummy_hash_;              // verified for unknown users, so timing says nothing
  LockGuarded<std::unordered_map<std::string, Verified>> verified_;
  LockGuarded<std::unordered_map<std::string, Failures>> failures_;
};

}  // namespace pweb::registrar
