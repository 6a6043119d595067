#pragma once
// RFC 8945 TSIG with HMAC-SHA256: parse the TSIG RR, verify a signed message, sign a
// message (a response to a signed request, or a request). Not tied to one opcode.
// Pure: no sockets, no logging. Secrets are raw key bytes.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pweb/dns/message.hpp"
#include "pweb/dns/wire.hpp"

namespace pweb::dns {

inline constexpr std::size_t kHmacSha256Size = 32;
// Shortest MAC a sender may put on the wire for HMAC-SHA256: max(10, 32 / 2), §5.2.2.1.
inline constexpr std::size_t kTsigMinMacSize = 16;
inline constexpr std::uint16_t kTsigFudge = 300;  // seconds, RFC 8945 §10 recommends 300
// "hmac-sha256." in wire form, the only algorithm we accept.
inline constexpr std::array<std::uint8_t, 13> kHmacSha256Name = {11,  'h', 'm', 'a', 'c', '-', 's',
                                                                 'h', 'a', '2', '5', '6', 0};

// A TSIG RR as received. MAC and Other Data stay in the message: offsets into it.
struct TsigRecord {
  std::size_t rr_offset = 0;  // where the TSIG RR (its owner name) begins
  Name key_name;              // owner name, case as received
  Name algorithm;
  std::uint64_t time_signed = 0;  // 48 bits, seconds since the epoch
  std::uint16_t fudge = 0;
  std::size_t mac_offset = 0;
  std::uint16_t mac_size = 0;
  std::uint16_t original_id = 0;
  std::uint16_t error = 0;
  std::size_t other_offset = 0;
  std::uint16_t other_len = 0;

  [[nodiscard]] std::span<const std::uint8_t> mac(
      std::span<const std::uint8_t> msg) const noexcept {
    return msg.subspan(mac_offset, mac_size);
  }
};

// Reads one whole RR at the reader's position as a TSIG RR (owner, TYPE TSIG, CLASS ANY,
// TTL 0, RDATA exactly as long as RDLENGTH). False, reader failed, on anything else.
bool read_tsig_record(WireReader& r, TsigRecord& out) noexcept;

enum class TsigFind {
  none,     // no TSIG RR in the message
  ok,       // the last additional record is a TSIG RR, parsed into `out`
  formerr,  // malformed message, TSIG not last, two TSIGs or bytes after the last record
};
// Walks any DNS message (any opcode) and finds its TSIG RR.
TsigFind find_tsig(std::span<const std::uint8_t> msg, TsigRecord& out) noexcept;

enum class TsigResult {
  ok,
  badkey,    // unknown key (empty secret) or an algorithm other than hmac-sha256
  badsig,    // MAC does not verify
  badtime,   // MAC verifies, |now - time signed| > fudge
  badtrunc,  // MAC verifies but is shorter than the full 32 bytes (our local policy)
  formerr,   // MAC longer than 32 or shorter than 16 bytes (§5.2.2.1)
};

// The TSIG Error field for a result (none for ok and formerr).
TsigError tsig_error(TsigResult r) noexcept;
const char* to_string(TsigResult r) noexcept;

// Verifies the TSIG RR `tsig` of the message `msg` (RFC 8945 §5.2): key and algorithm,
// MAC size, MAC over the message without the TSIG RR (ARCOUNT - 1, ID = original ID)
// and the TSIG variables, then the time. `request_mac` is empty for a request; for a
// response it is the MAC of the request it answers (§5.3, prepended with its size).
// An empty `secret` means no key of that name exists.
TsigResult tsig_verify(std::span<const std::uint8_t> msg, const TsigRecord& tsig,
                       std::span<const std::uint8_t> secret, std::uint64_t now,
                       std::span<const std::uint8_t> request_mac = {}) noexcept;

struct TsigSign {
  const Name* key_name = nullptr;   // written as is; digested in canonical (lower) case
  const Name* algorithm = nullptr;  // unsigned errors only: echo the request's; else hmac-sha256
  std::span<const std::uint8_t> secret;
  std::uint64_t time_signed = 0;
  std::uint16_t fudge = kTsigFudge;
  std::uint16_t original_id = 0;
  TsigError error = TsigError::none;
  std::span<const std::uint8_t> other;        // Other Data (BADTIME: the server's time)
  std::span<const std::uint8_t> request_mac;  // set when signing a response
  bool unsigned_error = false;                // §5.3.2: empty MAC, nothing digested
};

// Appends a TSIG RR to the complete message already in `w` (its header at position 0,
// ARCOUNT not yet counting the TSIG) and increments ARCOUNT. The MAC covers w's
// bytes with the ID replaced by `original_id`. False if it does not fit (w failed) or
// on bad parameters (no key name, empty secret for a signed RR; w untouched).
bool tsig_append(WireWriter& w, const TsigSign& s) noexcept;

// Appends the TSIG RR of a response to the request `packet` whose TSIG is `t`
// (already verified with result `tsig`): signed with the request MAC when the
// key verified (ok, BADTIME with the server's time in Other Data), unsigned
// for BADKEY/BADSIG (§5.3.2). Counts itself in the response's ARCOUNT.
bool tsig_sign_response(WireWriter& w, std::span<const std::uint8_t> packet, const TsigRecord& t,
                        std::uint16_t id, TsigResult tsig, std::span<const std::uint8_t> secret,
                        std::uint64_t now) noexcept;

}  // namespace pweb::dns
