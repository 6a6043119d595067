#pragma once
// Turns a parsed query and a lookup result into a response: rcode, flags,
// sections, EDNS, truncation. Pure: writes into the caller's buffer.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/message.hpp"

namespace pweb::dns {

inline constexpr std::uint16_t kServerUdpPayload = 1232;  // advertised, RFC 9715 / flag day 2020

struct Response {
  std::size_t size = 0;  // 0: send nothing
  Rcode rcode = Rcode::noerror;
  bool truncated = false;
};

// EDNS options of a response besides EDE (EDNS queries only; empty: none).
struct ResponseOptions {
  std::span<const std::uint8_t> cookie;  // COOKIE option value: client | server cookie
  std::string_view nsid;                 // NSID payload, when the query asked for it
};

// `max_size`: what the transport allows (client's UDP size, or 65535 on TCP).
Response write_response(const Query& q, ParseStatus status, const LookupResult& result,
                        const Authority& authority, std::uint32_t serial,
                        std::span<std::uint8_t> out, std::size_t max_size,
                        const ResponseOptions& options = {}) noexcept;

}  // namespace pweb::dns
