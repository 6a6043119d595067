#pragma once
// DNS message constants and the query parser. Pure: no sockets, no logging.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "pweb/dns/cookie.hpp"
#include "pweb/dns/wire.hpp"

namespace pweb::dns {

namespace type {
inline constexpr std::uint16_t A = 1;
inline constexpr std::uint16_t NS = 2;
inline constexpr std::uint16_t CNAME = 5;
inline constexpr std::uint16_t SOA = 6;
inline constexpr std::uint16_t MX = 15;
inline constexpr std::uint16_t TXT = 16;
inline constexpr std::uint16_t AAAA = 28;
inline constexpr std::uint16_t SRV = 33;
inline constexpr std::uint16_t OPT = 41;
inline constexpr std::uint16_t TLSA = 52;
inline constexpr std::uint16_t SVCB = 64;
inline constexpr std::uint16_t HTTPS = 65;
inline constexpr std::uint16_t TKEY = 249;
inline constexpr std::uint16_t TSIG = 250;
inline constexpr std::uint16_t IXFR = 251;
inline constexpr std::uint16_t AXFR = 252;
inline constexpr std::uint16_t MAILB = 253;
inline constexpr std::uint16_t MAILA = 254;
inline constexpr std::uint16_t ANY = 255;
inline constexpr std::uint16_t CAA = 257;
}  // namespace type

namespace cls {
inline constexpr std::uint16_t IN = 1;
inline constexpr std::uint16_t NONE = 254;  // RFC 2136: "must not exist" / "delete this RR"
inline constexpr std::uint16_t ANY = 255;
}  // namespace cls

namespace opcode {
inline constexpr std::uint8_t QUERY = 0;
inline constexpr std::uint8_t UPDATE = 5;  // RFC 2136
}  // namespace opcode

// Extended rcodes above 15 need EDNS: the low 4 bits go in the header, the rest in OPT.
enum class Rcode : std::uint16_t {
  noerror = 0,
  formerr = 1,
  servfail = 2,
  nxdomain = 3,
  notimp = 4,
  refused = 5,
  yxdomain = 6,  // RFC 2136: a name exists that should not
  yxrrset = 7,   // an RRset exists that should not
  nxrrset = 8,   // an RRset that should exist does not
  notauth = 9,   // not authoritative for the zone, or (RFC 8945) TSIG failed
  notzone = 10,  // a name outside the zone of the zone section
  badvers = 16,
};

// RFC 8945 TSIG error codes, carried in the TSIG RR's Error field (the header says
// NOTAUTH). 16 is BADSIG here and BADVERS in an OPT RR: a separate type keeps them apart.
enum class TsigError : std::uint16_t {
  none = 0,
  badsig = 16,
  badkey = 17,
  badtime = 18,
  badtrunc = 22,
};

namespace flag {
inline constexpr std::uint16_t QR = 0x8000;
inline constexpr std::uint16_t AA = 0x0400;
inline constexpr std::uint16_t TC = 0x0200;
inline constexpr std::uint16_t RD = 0x0100;
inline constexpr std::uint16_t RA = 0x0080;
inline constexpr std::uint16_t AD = 0x0020;
inline constexpr std::uint16_t CD = 0x0010;
}  // namespace flag

inline constexpr std::size_t kHeaderSize = 12;
inline constexpr std::size_t kMaxNameSize = 255;
inline constexpr std::size_t kMaxLabelSize = 63;
inline constexpr std::uint16_t kEdnsDoBit = 0x8000;
inline constexpr std::uint16_t kEdnsOptionNsid = 3;  // RFC 5001 Name Server Identifier
inline constexpr std::uint16_t kEdnsOptionEde = 15;  // RFC 8914 Extended DNS Error
inline constexpr std::size_t kMaxEdeText = 64;       // longer EXTRA-TEXT is cut
// RFC 8914 INFO-CODEs we send.
inline constexpr std::uint16_t kEdeOther = 0;
inline constexpr std::uint16_t kEdeStaleAnswer = 3;
inline constexpr std::uint16_t kEdeProhibited = 18;
inline constexpr std::uint16_t kEdeNotAuthoritative = 20;
inline constexpr std::uint16_t kEdeNoReachableAuthority = 22;
inline constexpr std::uint16_t kEdeInvalidData = 24;

// An Extended DNS Error to put into a response's OPT RR (EDNS queries only).
struct ExtendedError {
  bool present = false;
  std::uint16_t info_code = 0;  // RFC 8914 INFO-CODE: 0 Other, ...
  std::string_view text;        // EXTRA-TEXT, UTF-8; static storage: copies never allocate
};

struct Header {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::uint16_t qdcount = 0;
  std::uint16_t ancount = 0;
  std::uint16_t nscount = 0;
  std::uint16_t arcount = 0;

  [[nodiscard]] bool qr() const noexcept { return (flags & flag::QR) != 0; }
  [[nodiscard]] std::uint8_t opcode() const noexcept {
    return static_cast<std::uint8_t>((flags >> 11) & 0xF);
  }
};

// A domain name in uncompressed wire form, letter case as received.
struct Name {
  std::array<std::uint8_t, kMaxNameSize> wire{};
  std::uint16_t size = 0;                   // bytes in wire, including the root label
  std::uint8_t labels = 0;                  // not counting the root
  std::array<std::uint8_t, 128> offsets{};  // start of each label in wire

  [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return {wire.data(), size}; }
  // Label i (0 = leftmost) without its length byte.
  [[nodiscard]] std::span<const std::uint8_t> label(std::size_t i) const noexcept {
    return {wire.data() + offsets[i] + 1, wire[offsets[i]]};
  }
  // The name from label i to the root, as wire bytes.
  [[nodiscard]] std::span<const std::uint8_t> suffix(std::size_t i) const noexcept {
    return {wire.data() + offsets[i], static_cast<std::size_t>(size - offsets[i])};
  }
};

// The 12-byte header, read or written in place (the reader or writer fails if short).
Header read_header(WireReader& r) noexcept;
// A response header (QR set, counts zero but the question's) and the question
// echoed when `question` is given; the caller patches counts it adds.
void write_response_head(WireWriter& w, std::uint16_t id, std::uint16_t flags, const Name* question,
                         std::uint16_t qtype, std::uint16_t qclass) noexcept;

// Reads a possibly compressed name. Pointers must point strictly backwards, so
// loops are impossible. Leaves the reader after the name (after the first pointer).
bool read_name(WireReader& r, Name& out) noexcept;

// Parses presentation form ("laptop.alice.uw.dht." or without the final dot) into
// wire form; false on empty labels or over-long names.
bool name_from_text(std::string_view text, Name& out) noexcept;
std::string name_to_text(const Name& name);

// Case-insensitive comparison of two wire-form names or name suffixes.
bool wire_equal_nocase(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

struct Edns {
  bool present = false;
  std::uint16_t udp_size = 0;
  std::uint8_t version = 0;
  std::uint16_t flags = 0;  // DO and the unknown rest
  bool nsid_requested = false;
  CookieOption cookie;  // RFC 7873

  [[nodiscard]] bool do_bit() const noexcept { return (flags & kEdnsDoBit) != 0; }
};

struct Query {
  Header header;
  bool has_question = false;
  bool has_tsig = false;    // a TSIG RR in the additional section (verified elsewhere)
  bool bad_cookie = false;  // FORMERR because of the COOKIE option (RFC 7873 §5.2.2)
  Name qname;
  std::uint16_t qtype = 0;
  std::uint16_t qclass = 0;
  Edns edns;
};

enum class ParseStatus {
  ok,
  drop,     // not worth an answer: too short for a header, or itself a response
  formerr,  // header readable, the rest malformed
  notimp,   // an opcode we do not implement
};

// Parses a query. On formerr/notimp the header (and the question and EDNS, when
// they parsed) are filled so that an error response can echo them.
ParseStatus parse_query(std::span<const std::uint8_t> packet, Query& out) noexcept;

}  // namespace pweb::dns
