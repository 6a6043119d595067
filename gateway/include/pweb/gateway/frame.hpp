#pragma once
// The DNS-Gateway <-> Home Agent protocol (DESIGN.md), as a pure codec: bytes
// in, frames out, no sockets. TCP, big-endian. The client opens with a 2-byte
// version, the server echoes it (a server that does not speak it echoes its own
// and closes); then QUERY and reply frames, each starting with a 2-byte type.
// Version 1:
//   QUERY (1): serial (2), name length (2), name (ASCII)
//   REPLY (2): serial (2), status (1: 0 success, 1 failure),
//              on success family (1: 4 or 6) + 4 or 16 address bytes
// Version 2 (v1 unchanged, plus every address, a TTL, and "could not tell"
// apart from "no such device"; servers answer QUERY with ANSWER instead of REPLY):
//   ANSWER (3): serial (2), status (1: 0 found, 1 no such device, 2 failed),
//               ttl (4, seconds), IPv4 count (1) + 4 bytes each,
//               IPv6 count (1) + 16 bytes each; counts at most 8, both 0
//               unless found
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace pweb::gateway {

inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint16_t kVersion2 = 2;
inline constexpr std::uint16_t kTypeQuery = 1;
inline constexpr std::uint16_t kTypeReply = 2;
inline constexpr std::uint16_t kTypeAnswer = 3;
inline constexpr std::size_t kMaxName = 255;
inline constexpr std::size_t kMaxAnswerAddresses = 8;  // per family

struct Query {
  std::uint16_t serial = 0;
  std::string name;
  friend bool operator==(const Query&, const Query&) = default;
};

struct Reply {
  std::uint16_t serial = 0;
  bool success = false;
  std::uint8_t family = 0;                 // 4 or 6 when success
  std::array<std::uint8_t, 16> address{};  // first 4 bytes for IPv4
  friend bool operator==(const Reply&, const Reply&) = default;
};

enum class AnswerStatus : std::uint8_t { found = 0, absent = 1, failed = 2 };

struct Answer {
  std::uint16_t serial = 0;
  AnswerStatus status = AnswerStatus::absent;
  std::uint32_t ttl = 0;  // seconds it may be cached; 0 from a v1 server: not said
  std::vector<std::array<std::uint8_t, 4>> ipv4;
  std::vector<std::array<std::uint8_t, 16>> ipv6;
  friend bool operator==(const Answer&, const Answer&) = default;
};

using Frame = std::variant<Query, Reply, Answer>;

void encode_version(std::vector<std::uint8_t>& out, std::uint16_t version = kVersion);
// False (and nothing appended) if the name is longer than kMaxName.
bool encode(std::vector<std::uint8_t>& out, const Query& q);
void encode(std::vector<std::uint8_t>& out, const Reply& r);
// False (and nothing appended) if a family has more than kMaxAnswerAddresses,
// or addresses come with a status other than found.
bool encode(std::vector<std::uint8_t>& out, const Answer& a);

// Between the versions: v1 carries one address (the first IPv4, else the first
// IPv6) and cannot say "failed" (it becomes failure, as "no such device" does).
Reply to_v1(const Answer& a);
Answer from_v1(const Reply& r);

enum class DecodeStatus {
  frame,      // one frame decoded, `consumed` bytes used
  need_more,  // incomplete: read more and try again
  malformed,  // unknown type, bad status/family, name too long: close the connection
};

struct Decoded {
  DecodeStatus status = DecodeStatus::need_more;
  std::size_t consumed = 0;
  Frame frame;
};

// Decodes the frame at the start of `bytes`.
Decoded decode(std::span<const std::uint8_t> bytes) noexcept;

// The handshake: the 2-byte version at the start of `bytes`, nullopt if fewer.
std::optional<std::uint16_t> decode_version(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace pweb::gateway
