#pragma once
// One transport-independent function from query bytes to response bytes, used
// by both the UDP and the TCP server and tested without sockets.
#include <cstddef>
#include <cstdint>
#include <span>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/responder.hpp"

namespace pweb::dns {

enum class Transport : std::uint8_t { udp, tcp };

struct Processed {
  Response response;
  std::uint16_t qtype = 0;
};

// `out` must hold at least 65535 bytes for TCP, or kServerUdpPayload for UDP.
Processed process_query(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                        Transport transport, const Authority& authority,
                        const registrar::Snapshot& snapshot) noexcept;

// The largest response the client can take over this transport.
std::size_t response_limit(const Query& q, Transport transport) noexcept;

}  // namespace pweb::dns
