#pragma once
// RFC 2136 UPDATE messages: parser, prerequisite/update classification (§2.4, §2.5,
// §3.2, §3.4.1) and the response writer (with TSIG when the request had one).
// Pure: no sockets, no logging, no store. RDATA stays in the message (offsets), so a
// separate RDATA codec can decode it, compressed names included.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pweb/dns/message.hpp"
#include "pweb/dns/tsig.hpp"

namespace pweb::dns {

// A prerequisite (RFC 2136 §2.4) or an update RR (§2.5).
struct UpdateRecord {
  Name owner;  // as received (case kept)
  std::uint16_t type = 0;
  std::uint16_t cls = 0;
  std::uint32_t ttl = 0;
  std::size_t rdata_offset = 0;  // into the message
  std::uint16_t rdlength = 0;

  [[nodiscard]] std::span<const std::uint8_t> rdata(
      std::span<const std::uint8_t> msg) const noexcept {
    return msg.subspan(rdata_offset, rdlength);
  }
};

struct UpdateMessage {
  Header header;
  bool has_zone = false;  // the zone section parsed (so a response can echo it)
  Name zone;
  std::uint16_t zone_type = 0;
  std::uint16_t zone_class = 0;
  std::vector<UpdateRecord> prerequisites;  // the answer section
  std::vector<UpdateRecord> updates;        // the authority section
  bool has_edns = false;                    // an OPT RR in the additional section
  bool has_tsig = false;
  TsigRecord tsig;  // the last additional record; tsig.rr_offset is where it begins
};

enum class UpdateParse {
  ok,
  drop,     // too short for a header, or itself a response
  formerr,  // header readable, the rest malformed (zone echoed when has_zone)
  notimp,   // not opcode UPDATE
};

// Parses an UPDATE request. Checks the wire form only: ZOCOUNT 1 and zone type SOA
// (§3.1.1), every record inside the packet, one OPT, TSIG only as the last additional
// record (RFC 8945 §5.1), no bytes after the last record. Class/TTL/type combinations
// are checked by the classify functions below, after the TSIG is verified.
UpdateParse parse_update(std::span<const std::uint8_t> packet, UpdateMessage& out);

enum class PrereqKind : std::uint8_t {
  rrset_exists,        // §2.4.1 CLASS ANY, TYPE t, RDLENGTH 0
  rrset_exists_value,  // §2.4.2 CLASS zone, TYPE t, RDATA: the RRset equals these RRs
  rrset_absent,        // §2.4.3 CLASS NONE, TYPE t, RDLENGTH 0
  name_in_use,         // §2.4.4 CLASS ANY, TYPE ANY, RDLENGTH 0
  name_not_in_use,     // §2.4.5 CLASS NONE, TYPE ANY, RDLENGTH 0
};

enum class UpdateKind : std::uint8_t {
  add,           // §2.5.1 CLASS zone: add the RR to its RRset
  delete_rrset,  // §2.5.2 CLASS ANY, TYPE t, TTL 0, RDLENGTH 0
  delete_name,   // §2.5.3 CLASS ANY, TYPE ANY, TTL 0, RDLENGTH 0: all RRsets at the name
  delete_rr,     // §2.5.4 CLASS NONE, TYPE t, TTL 0: the RR with this RDATA
};

// rcode is noerror when kind is valid; otherwise FORMERR (bad class/TTL/type/RDLENGTH)
// or NOTZONE (owner not at or below the zone).
struct PrereqCheck {
  Rcode rcode = Rcode::noerror;
  PrereqKind kind = PrereqKind::rrset_exists;
};
struct UpdateCheck {
  Rcode rcode = Rcode::noerror;
  UpdateKind kind = UpdateKind::add;
};

PrereqCheck classify_prerequisite(const UpdateMessage& msg, const UpdateRecord& rr) noexcept;
UpdateCheck classify_update(const UpdateMessage& msg, const UpdateRecord& rr) noexcept;

// The §3.2 prerequisite checks, then the §3.4.1 update prescan, over all records: the
// first error, or noerror. (Prerequisites are evaluated against data by the caller.)
Rcode check_update_sections(const UpdateMessage& msg) noexcept;

// True for meta types that may never be data in an UPDATE (ANY, AXFR, IXFR, MAILA,
// MAILB, OPT, TSIG, TKEY).
bool is_meta_type(std::uint16_t type) noexcept;

// Writes the response to `req`: header (QR, opcode UPDATE, same ID, rcode), the zone
// section echoed when it parsed, no other records, and, when the request had a TSIG,
// a TSIG RR (RFC 8945 §5.3): signed over the request MAC and the response for
// tsig ok/badtime/badtrunc (badtime: Time Signed of the request, Other Data = now),
// unsigned with an empty MAC for badkey/badsig (§5.3.2). A TSIG error sets the header
// rcode to NOTAUTH; tsig formerr gives FORMERR without TSIG. `packet` is the request
// (its MAC is digested). Returns the size written, 0 if `out` is too small.
std::size_t write_update_response(std::span<const std::uint8_t> packet, const UpdateMessage& req,
                                  Rcode rcode, TsigResult tsig,
                                  std::span<const std::uint8_t> secret, std::uint64_t now,
                                  std::span<std::uint8_t> out) noexcept;

}  // namespace pweb::dns
