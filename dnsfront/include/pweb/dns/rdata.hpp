#pragma once
// Record data (RDATA) codec for the types a device may hold as RRsets: presentation
// format (RFC 1035 §5.1 and each type's RFC) to uncompressed wire form and back, and
// the canonical form of rdata received in a DNS message. Pure: no sockets, no logging.
//
// Names inside rdata are written without escapes, so their labels may hold only
// printable ASCII other than '.', '\\' and '"'; other names are refused both as text
// and as wire, which keeps text -> wire -> text exact.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/dns/message.hpp"

namespace pweb::dns {

// The types a device may hold as RRsets: A AAAA TXT CNAME MX SRV CAA TLSA HTTPS SVCB.
bool is_record_type(std::uint16_t type) noexcept;

// "TXT"/"txt" -> 16; also RFC 3597 "TYPE16". nullopt if unknown text.
std::optional<std::uint16_t> rrtype_from_text(std::string_view text) noexcept;
// "TXT", or "TYPE12345" for types without a mnemonic here.
std::string rrtype_to_text(std::uint16_t type);

struct RdataResult {
  std::vector<std::uint8_t> wire;
  std::string error;  // empty on success; else says what was wrong, prefixed by the type
  [[nodiscard]] bool ok() const noexcept { return error.empty(); }
};

// Presentation format -> uncompressed wire rdata. Names must be absolute (end in '.').
// The RFC 3597 generic form "\# LEN HEX" is accepted too and checked like wire rdata.
RdataResult rdata_from_text(std::uint16_t type, std::string_view text);

// Wire rdata -> presentation (names absolute; TXT strings always quoted, escaping
// quote and backslash with a backslash, other non-printables as \DDD). Rdata of
// other types, or malformed, prints as "\# LEN HEX".
std::string rdata_to_text(std::uint16_t type, std::span<const std::uint8_t> rdata);

// Rdata as found in a received DNS message (e.g. an RFC 2136 UPDATE): names in
// CNAME/MX rdata may be compressed (pointers into `message`); returns the canonical
// uncompressed wire form, or an error if malformed (bad lengths, trailing bytes, bad
// names, pointer loops). Other types must not use compression (RFC 3597 §4).
RdataResult rdata_from_wire(std::uint16_t type, std::span<const std::uint8_t> message,
                            std::size_t rdata_offset, std::size_t rdlength);

}  // namespace pweb::dns
