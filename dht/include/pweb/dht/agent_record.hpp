#pragma once
// The agent record each Home Agent publishes in the DHT under
// InfoHash::get("pweb:agent:" + label): a msgpack map of its label, addresses,
// service ports and update time. Pure codec: records come from the network, so
// decoding checks sizes and values and says what was wrong.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace pweb::dht {

inline constexpr std::size_t kMaxRecordBytes = 1024;
inline constexpr std::size_t kMaxAddresses = 8;  // per family

struct AgentRecord {
  std::string label;
  std::vector<std::string> ipv4;  // textual, validated
  std::vector<std::string> ipv6;
  std::uint16_t gateway_port = 0;
  std::uint16_t http_port = 0;
  std::uint16_t dns_port = 0;
  std::int64_t updated = 0;  // unix seconds

  friend bool operator==(const AgentRecord&, const AgentRecord&) = default;
};

std::vector<std::uint8_t> encode(const AgentRecord& r);

struct DecodedRecord {
  std::optional<AgentRecord> record;
  std::string error;  // why it was refused
};

// Refuses oversized input, other msgpack shapes, invalid labels or addresses,
// too many addresses, and port 0 for the gateway. Unknown keys are ignored, so
// later versions can add fields.
DecodedRecord decode(std::span<const std::uint8_t> bytes);

}  // namespace pweb::dht
