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

// A record with a label certificate (kMaxCertBytes) still fits a UDP datagram.
inline constexpr std::size_t kMaxRecordBytes = 6144;
inline constexpr std::size_t kMaxCertBytes = 4096;
inline constexpr std::size_t kMaxAddresses = 8;  // per family
// Nodes of one label that a lookup lists (several may serve a label).
inline constexpr std::size_t kMaxNodeRecords = 16;

struct AgentRecord {
  std::string label;
  std::vector<std::string> ipv4;  // textual, validated
  std::vector<std::string> ipv6;
  std::uint16_t gateway_port = 0;
  std::uint16_t http_port = 0;
  std::uint16_t dns_port = 0;
  std::int64_t updated = 0;  // unix seconds
  // Optional: DER X.509 certificate a federation CA issued for this label to
  // the key that signs the record (see label_cert.hpp); empty when none.
  std::vector<std::uint8_t> cert;

  friend bool operator==(const AgentRecord&, const AgentRecord&) = default;
};

std::vector<std::uint8_t> encode(const AgentRecord& r);

struct DecodedRecord {
  std::optional<AgentRecord> record;
  std::string error;  // why it was refused
};

// Refuses oversized input, other msgpack shapes, invalid labels or addresses,
// too many addresses, port 0 for the gateway, and a certificate over
// kMaxCertBytes (its content is checked by the trust anchors, not here). Unknown keys are ignored,
// so later versions can add fields.
DecodedRecord decode(std::span<const std::uint8_t> bytes);

}  // namespace pweb::dht
