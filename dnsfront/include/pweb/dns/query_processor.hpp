#pragma once
// One transport-independent function from query bytes to response bytes, used
// by both the UDP and the TCP server and tested without sockets.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/remote.hpp"
#include "pweb/dns/responder.hpp"

namespace pweb::dns {

enum class Transport : std::uint8_t { udp, tcp };

// Whether the answer cache for other agents' names was consulted, and how it went.
enum class CacheUse : std::uint8_t { none, hit, miss };

struct Processed {
  Response response;
  std::uint16_t qtype = 0;
  CacheUse cache = CacheUse::none;
  // Another agent's device not in the remote cache: nothing was written; ask the
  // resolver for `pending_key` (the cache key, "name/type": split_remote_cache_key),
  // then process the query again with its answer.
  bool pending = false;
  std::string pending_key;
  // An RFC 2136 UPDATE or a TSIG-signed message: the lock-free path answered it
  // as if it knew nothing of either (NOTIMP, or unsigned); a SignedMessageHandler,
  // when the server has one, answers it instead.
  bool special = false;
  // The query's COOKIE (RFC 7873): `valid` lets a UDP answer skip rate limiting.
  CookieResult cookie = CookieResult::none;
};

// How names of other agents are answered.
struct RemoteContext {
  const RemoteCache* cache = nullptr;      // null: they do not exist (NXDOMAIN)
  const RemoteAnswer* resolved = nullptr;  // the answer just fetched for this query
  RemoteCache::Clock::time_point now{};    // for the cache's TTLs
};

// Who asked, for server cookies (bound to the client's IP, RFC 9018). Without
// an address, COOKIE options are ignored as by a server without cookies.
struct ClientInfo {
  std::array<std::uint8_t, 16> address{};
  std::uint8_t address_size = 0;  // 4, 16, or 0: unknown
  std::uint32_t unix_time = 0;    // now, seconds since 1970 (mod 2^32): cookie timestamps

  [[nodiscard]] std::span<const std::uint8_t> address_bytes() const noexcept {
    return {address.data(), address_size};
  }
};

// `out` must hold at least 65535 bytes for TCP, or kServerUdpPayload for UDP.
Processed process_query(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                        Transport transport, const Authority& authority,
                        const registrar::Snapshot& snapshot, const RemoteContext& remote = {},
                        const ClientInfo& client = {}) noexcept;

// The largest response the client can take over this transport.
std::size_t response_limit(const Query& q, Transport transport) noexcept;

}  // namespace pweb::dns
