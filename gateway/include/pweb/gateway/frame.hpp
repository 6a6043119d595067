#pragma once
// The DNS-Gateway <-> Home Agent protocol, version 1 (DESIGN.md), as a pure codec:
// bytes in, frames out, no sockets. TCP, big-endian. The client opens with a
// 2-byte version, the server echoes it; then QUERY and REPLY frames, each
// starting with a 2-byte type.
//   QUERY (1): serial (2), name length (2), name (ASCII)
//   REPLY (2): serial (2), status (1: 0 success, 1 failure),
//              on success family (1: 4 or 6) + 4 or 16 address bytes
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

namespace pweb::gateway {

inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint16_t kTypeQuery = 1;
inline constexpr std::uint16_t kTypeReply = 2;
inline constexpr std::size_t kMaxName = 255;

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

using Frame = std::variant<Query, Reply>;

void encode_version(std::vector<std::uint8_t>& out, std::uint16_t version = kVersion);
// False (and nothing appended) if the name is longer than kMaxName.
bool encode(std::vector<std::uint8_t>& out, const Query& q);
void encode(std::vector<std::uint8_t>& out, const Reply& r);

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
