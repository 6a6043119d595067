#include "pweb/dns/cookie.hpp"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

namespace pweb::dns {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr std::size_t kHashInput = kClientCookieSize + 8 + 16;  // cookie, version..time, IPv6
static_assert(crypto_shorthash_siphash24_KEYBYTES == kCookieSecretSize);
static_assert(crypto_shorthash_siphash24_BYTES == 8);

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const char* to_string(CookieResult r) noexcept {
  switch (r) {
    case CookieResult::none:
      return "none";
    case CookieResult::client_only:
      return "client_only";
    case CookieResult::valid:
      return "valid";
    case CookieResult::invalid:
      return "invalid";
    case CookieResult::malformed:
      return "malformed";
  }
  return "?";
}

std::array<std::uint8_t, kServerCookieSize> make_server_cookie(
    const CookieSecret& secret, std::span<const std::uint8_t, kClientCookieSize> client_cookie,
    std::span<const std::uint8_t> address, std::uint32_t now) noexcept {
  std::array<std::uint8_t, kServerCookieSize> out{};
  out[0] = kVersion;  // out[1..3]: reserved, zero
  out[4] = static_cast<std::uint8_t>(now >> 24);
  out[5] = static_cast<std::uint8_t>(now >> 16);
  out[6] = static_cast<std::uint8_t>(now >> 8);
  out[7] = static_cast<std::uint8_t>(now);
  std::array<std::uint8_t, kHashInput> in{};
  std::copy(client_cookie.begin(), client_cookie.end(), in.begin());
  std::copy_n(out.begin(), 8, in.begin() + kClientCookieSize);
  const std::size_t addr = std::min<std::size_t>(address.size(), 16);
  std::copy_n(address.begin(), addr, in.begin() + kClientCookieSize + 8);
  crypto_shorthash_siphash24(out.data() + 8, in.data(), kClientCookieSize + 8 + addr,
                             secret.data());
  return out;
}

CookieReply answer_cookie(const CookieOption& cookie, const CookieSecret& secret,
                          std::span<const std::uint8_t> address, std::uint32_t now) noexcept {
  CookieReply reply;
  if (!cookie.present) return reply;
  std::copy(cookie.client.begin(), cookie.client.end(), reply.option.begin());
  const auto server = std::span(reply.option).subspan<kClientCookieSize>();
  reply.result = cookie.server_size == 0 ? CookieResult::client_only : CookieResult::invalid;
  // Only our own format can be valid: 16 bytes, version 1, reserved zero.
  if (cookie.server_size == kServerCookieSize && cookie.server[0] == kVersion &&
      cookie.server[1] == 0 && cookie.server[2] == 0 && cookie.server[3] == 0) {
    const std::uint32_t stamp = (std::uint32_t{cookie.server[4]} << 24) |
                                (std::uint32_t{cookie.server[5]} << 16) |
                                (std::uint32_t{cookie.server[6]} << 8) | cookie.server[7];
    // Serial arithmetic (RFC 1982): the timestamp wraps in 2106.
    const std::int64_t age = static_cast<std::int32_t>(now - stamp);
    if (age <= kCookieMaxAge && age >= -kCookieMaxAhead) {
      const auto expect = make_server_cookie(secret, cookie.client, address, stamp);
      if (sodium_memcmp(expect.data() + 8, cookie.server.data() + 8, 8) == 0) {
        reply.result = CookieResult::valid;
        if (age <= kCookieRenewAge) {
          std::copy(expect.begin(), expect.end(), server.begin());
          return reply;
        }
      }
    }
  }
  const auto fresh = make_server_cookie(secret, cookie.client, address, now);
  std::copy(fresh.begin(), fresh.end(), server.begin());
  return reply;
}

std::optional<CookieSecret> cookie_secret_from_hex(std::string_view text) noexcept {
  constexpr std::string_view kSpace = " \t\r\n";
  const auto first = text.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return std::nullopt;
  text = text.substr(first, text.find_last_not_of(kSpace) - first + 1);
  if (text.size() != 2 * kCookieSecretSize) return std::nullopt;
  CookieSecret s{};
  for (std::size_t i = 0; i < s.size(); ++i) {
    const int hi = hex_digit(text[2 * i]);
    const int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    s[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return s;
}

CookieSecret random_cookie_secret() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
  CookieSecret s{};
  randombytes_buf(s.data(), s.size());
  return s;
}

}  // namespace pweb::dns
