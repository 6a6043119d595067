#pragma once
// DNS cookies (RFC 7873) with interoperable server cookies (RFC 9018): the
// server cookie is version 1, three reserved zero bytes, a 32-bit timestamp and
// SipHash-2-4 (libsodium) over client cookie | version | reserved | timestamp |
// client IP under a 16-byte secret. Nodes sharing the secret (anycast) accept
// each other's cookies. Pure: no sockets, no clock of its own, no logging.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pweb::dns {

inline constexpr std::uint16_t kEdnsOptionCookie = 10;
inline constexpr std::size_t kClientCookieSize = 8;
inline constexpr std::size_t kMinServerCookie = 8;
inline constexpr std::size_t kMaxServerCookie = 32;
inline constexpr std::size_t kServerCookieSize = 16;  // what we make (RFC 9018)
inline constexpr std::size_t kCookieSecretSize = 16;  // crypto_shorthash_siphash24_KEYBYTES

// RFC 9018 §4.3: older than an hour or more than five minutes ahead is not
// valid; older than half an hour is replaced by a fresh one in the answer.
inline constexpr std::int64_t kCookieMaxAge = 3600;
inline constexpr std::int64_t kCookieMaxAhead = 300;
inline constexpr std::int64_t kCookieRenewAge = 1800;

using CookieSecret = std::array<std::uint8_t, kCookieSecretSize>;

// The COOKIE option of a query as received (lengths checked by the parser).
struct CookieOption {
  bool present = false;
  std::array<std::uint8_t, kClientCookieSize> client{};
  std::array<std::uint8_t, kMaxServerCookie> server{};
  std::uint8_t server_size = 0;  // 0: client cookie only
};

// How a query's cookie fared, for metrics and for rate limiting.
enum class CookieResult : std::uint8_t {
  none,         // no COOKIE option (or cookies not answered on this path)
  client_only,  // a client cookie alone: a server cookie is handed out
  valid,        // our server cookie, for this client and IP, in time
  invalid,      // a server cookie we did not make, stale, from the future, other IP
  malformed,    // bad option length or two COOKIE options: FORMERR
};
inline constexpr std::size_t kCookieResults = 5;
const char* to_string(CookieResult r) noexcept;

// What to put in the answer's COOKIE option: the client cookie and our server cookie.
struct CookieReply {
  CookieResult result = CookieResult::none;
  std::array<std::uint8_t, kClientCookieSize + kServerCookieSize> option{};  // client | server
};

// The server cookie for `client_cookie` from `address` (4 or 16 bytes) at `now`
// (unix seconds, mod 2^32).
std::array<std::uint8_t, kServerCookieSize> make_server_cookie(
    const CookieSecret& secret, std::span<const std::uint8_t, kClientCookieSize> client_cookie,
    std::span<const std::uint8_t> address, std::uint32_t now) noexcept;

// Checks a received cookie and makes the reply's option: the received server
// cookie again when valid and young, else a fresh one. `address`: the client's
// 4 or 16 address bytes.
CookieReply answer_cookie(const CookieOption& cookie, const CookieSecret& secret,
                          std::span<const std::uint8_t> address, std::uint32_t now) noexcept;

// A secret from hex text (32 hex digits, surrounding white space ignored), as in
// a --cookie-secret file; nullopt otherwise.
std::optional<CookieSecret> cookie_secret_from_hex(std::string_view text) noexcept;
// A random secret (libsodium randombytes); throws if libsodium cannot start (start-up only).
CookieSecret random_cookie_secret();

}  // namespace pweb::dns
