#pragma once
// How long an HTTP cache may keep a DNS response (DoH, RFC 8484 5.1): no
// longer than the smallest TTL in its answer section. Pure: no sockets.
#include <cstdint>
#include <optional>
#include <span>

namespace pweb::dns {

// The smallest TTL of the answer section; for an answer without records
// (NXDOMAIN, NODATA) the negative caching time of RFC 2308 5, the smaller of
// the authority SOA's TTL and its MINIMUM; 0 when neither exists (an error
// answer: not to be cached). nullopt when `message` is not a well-formed
// response.
std::optional<std::uint32_t> response_freshness(std::span<const std::uint8_t> message) noexcept;

}  // namespace pweb::dns
