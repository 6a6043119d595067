#pragma once
// Accounts: Argon2id password hashes (libsodium), authentication with a cache
// of recently verified credentials (Argon2id costs ~50 ms by design; DynDNS
// clients send Basic auth on every request), and throttling of failed logins
// per client address, address prefix and user.
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

// Failed logins are counted per (address, user), per address, per address
// prefix (/24 IPv4, /56 IPv6) and per user, each within `window`; at its limit
// a count blocks for `block`, then starts over. One client with a wrong
// password (say behind a shared NAT) blocks only that user there; an address
// guessing across users is blocked at a higher count; guesses spread over the
// addresses of one network, or over networks at one user, are caught by the
// prefix and the user counts. The prefix and user blocks do not hold a (user,
// address) that logged in successfully within `trusted`: an attacker cannot
// lock a user's own clients out, and every block ends `block` after its limit.
struct ThrottleConfig {
  int max_failures = 10;          // per (address, user) within the window, then blocked
  int max_address_failures = 20;  // per address, whatever the users
  int max_prefix_failures = 30;   // per /24 (IPv4) or /56 (IPv6), whatever the users
  int max_user_failures = 20;     // per user, whatever the addresses
  std::chrono::seconds window{60};
  std::chrono::seconds block{60};
  std::chrono::seconds trusted{7 * 24 * 3600};
};

// "192.0.2.0/24" for 192.0.2.7 (and ::ffff:192.0.2.7), "2001:db8:0:100::/56" for
// 2001:db8:0:1ab::1; anything else unchanged.
std::string address_prefix(const std::string& client);

class Accounts {
 public:
  // `lookup` returns the stored hash of a user (the store), or nullopt.
  using HashLookup = std::function<std::optional<std::string>(const std::string& user)>;
  using Clock = std::chrono::steady_clock;

  explicit Accounts(HashLookup lookup, ThrottleConfig throttle = {});

  AuthResult authenticate(const std::string& user, std::string_view password,
                          const std::string& client);
  // The same throttling around another kind of secret (a device token, `user`
  // then the device name): `check` runs unless blocked, and false counts as a
  // failed login of `user` from `client`.
  AuthResult authenticate_with(const std::string& user, const std::string& client,
                               const std::function<bool()>& check);

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
  bool trusted(const std::string& client_user);
  bool throttled(const std::string& user, const std::string& client);
  void record_failures(const std::string& user, const std::string& client);
  void record_success(const std::string& user, const std::string& client);

  HashLookup lookup_;
  ThrottleConfig throttle_;
  std::array<std::uint8_t, 32> key_{};  // per process: cached digests are useless elsewhere
  std::string dummy_hash_;              // verified for unknown users, so timing says nothing
  LockGuarded<std::unordered_map<std::string, Verified>> verified_;
  LockGuarded<std::unordered_map<std::string, Failures>> failures_;
  // (address, user) -> when it last logged in successfully.
  LockGuarded<std::unordered_map<std::string, Clock::time_point>> good_logins_;
};

}  // namespace pweb::registrar
