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
// Version 3 (v1 and v2 unchanged, plus any record type: the question carries
// its type and the answer the RRsets, so another agent answers TXT, SRV, ... of
// a device too; a v3 server still answers v2 QUERY frames with ANSWER):
//   QUERY3 (4):  serial (2), qtype (2), name length (2), name (ASCII)
//   ANSWER3 (5): serial (2), status (1: 0 found, 1 nodata (the name exists, not
//                that type), 2 no such name, 3 failed), ttl (4, seconds),
//                RRset count (1, at most 8, 0 unless found), each RRset:
//                type (2), ttl (4), record count (2, 1..256), each record:
//                rdata length (2) + rdata (canonical DNS wire form).
//                The RRsets are owned by the queried name (a CNAME among them
//                names where the rest lives). A frame is at most 20 KiB (a
//                device's records hold at most 16 KiB of rdata); a longer one
//                is malformed.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "pweb/rrset.hpp"

namespace pweb::gateway {

inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint16_t kVersion2 = 2;
inline constexpr std::uint16_t kTypeQuery = 1;
inline constexpr std::uint16_t kTypeReply = 2;
inline constexpr std::uint16_t kTypeAnswer = 3;
inline constexpr std::uint16_t kVersion3 = 3;
inline constexpr std::uint16_t kTypeQuery3 = 4;
inline constexpr std::uint16_t kTypeAnswer3 = 5;
inline constexpr std::size_t kMaxAnswerRRsets = 8;
inline constexpr std::size_t kMaxRRsetRecords = 256;  // a device's limit, all its RRsets
inline constexpr std::size_t kMaxAnswer3Size = 20 * 1024;
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

struct Query3 {
  std::uint16_t serial = 0;
  std::uint16_t qtype = 0;
  std::string name;
  friend bool operator==(const Query3&, const Query3&) = default;
};

enum class Answer3Status : std::uint8_t { found = 0, nodata = 1, absent = 2, failed = 3 };

struct Answer3 {
  std::uint16_t serial = 0;
  Answer3Status status = Answer3Status::absent;
  std::uint32_t ttl = 0;  // how long the answer (also a negative one) may be cached
  // Subnames are empty: the records are the queried name's.
  std::vector<RRset> rrsets;
  friend bool operator==(const Answer3&, const Answer3&) = default;
};

using Frame = std::variant<Query, Reply, Answer, Query3, Answer3>;

void encode_version(std::vector<std::uint8_t>& out, std::uint16_t version = kVersion);
// False (and nothing appended) if the name is longer than kMaxName.
bool encode(std::vector<std::uint8_t>& out, const Query& q);
void encode(std::vector<std::uint8_t>& out, const Reply& r);
// False (and nothing appended) if a family has more than kMaxAnswerAddresses,
// or addresses come with a status other than found.
bool encode(std::vector<std::uint8_t>& out, const Answer& a);

// False (and nothing appended) if the name is longer than kMaxName.
bool encode(std::vector<std::uint8_t>& out, const Query3& q);
// False (and nothing appended) if it does not fit the frame: more than
// kMaxAnswerRRsets RRsets, an RRset with no record or more than
// kMaxRRsetRecords, a record over 65535 bytes, over kMaxAnswer3Size in all,
// RRsets with a status other than found, or an RRset with a subname.
bool encode(std::vector<std::uint8_t>& out, const Answer3& a);

// A v2 ANSWER as v3 says it, for the question's type: found with the address
// RRsets the type asks for (A, AAAA, ANY: both), nodata when the device has
// none of them (v2 carries no other type).
Answer3 from_v2(const Answer& a, std::uint16_t qtype);

// Between the versions: v1 carries one address (the first IPv4, else the first
// IPv6) and cannot say "failed" (it becomes failure, as "no such device" does).
Reply to_v1(const Answer& a);
Answer from_v1(const Reply& r);

enum class DecodeStatus {
  frame,      // one frame decoded, `consumed` bytes used
  need_more,  // incomplete: read more and try again
  malformed,  // unknown type, bad status/family/count, too long: close the connection
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
