#pragma once
// The rules of a device's RRsets, whoever edits them (the JSON API, RFC 2136
// UPDATE): names below the device, CNAME exclusive at its name, TTL bounds, and
// limits per device and per user so that one user cannot fill a node. Pure:
// works on a DeviceRecord; the writer thread runs it inside its transaction.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pweb/registrar/device.hpp"

namespace pweb::registrar {

namespace rrtype {
inline constexpr std::uint16_t A = 1;
inline constexpr std::uint16_t CNAME = 5;
inline constexpr std::uint16_t AAAA = 28;
inline constexpr std::uint16_t ANY = 255;
}  // namespace rrtype

struct RecordLimits {
  std::uint32_t default_ttl = 60;  // --ttl: of addresses with no TTL of their own
  std::uint32_t min_ttl = 30;      // --min-ttl
  std::uint32_t max_ttl = 7 * 24 * 3600;
  std::size_t max_rrsets_per_device = 64;
  std::size_t max_records_per_device = 256;
  std::size_t max_bytes_per_device = 16 * 1024;  // rdata bytes
  std::size_t max_bytes_per_user = 64 * 1024;
};

// Why an edit was refused. Nothing of the request is written.
struct EditError {
  enum class Kind : std::uint8_t {
    invalid,        // malformed: 400 / FORMERR
    refused,        // not allowed (scope, rules, limits): 403/422 / REFUSED
    not_found,      // no such device
    name_absent,    // RFC 2136 prerequisite: name not in use -> NXDOMAIN
    name_present,   // YXDOMAIN
    rrset_absent,   // NXRRSET
    rrset_present,  // YXRRSET
  };
  Kind kind = Kind::invalid;
  std::string message;
};

// A subname as typed ("@", "www", "_acme-challenge", "_http._tcp", "*",
// "*.www"), lowercased into its stored form ("" for "@"), or why not.
struct SubnameResult {
  std::optional<std::string> subname;
  std::string error;
};
SubnameResult parse_subname(std::string_view text);

// The RRset at (subname, type), the device's own addresses included as "@"
// A/AAAA (with the device's TTL, `default_ttl` when it has none). nullopt if absent.
std::optional<RRset> find_rrset(const DeviceRecord& d, std::string_view subname, std::uint16_t type,
                                std::uint32_t default_ttl);
// Whether anything exists at `subname` (the device itself always does).
bool name_in_use(const DeviceRecord& d, std::string_view subname);

// Replaces (or with no records, removes) one RRset. "@" A/AAAA set the device's
// one address of that family. The result is checked by check_records().
std::optional<EditError> put_rrset(DeviceRecord& d, RRset set);
void remove_rrset(DeviceRecord& d, std::string_view subname, std::uint16_t type);

// All rules on the whole device, after an edit. `user_bytes_elsewhere`: the
// rdata bytes the user holds in other devices.
std::optional<EditError> check_records(const DeviceRecord& d, const RecordLimits& limits,
                                       std::size_t user_bytes_elsewhere);

// The edits of RFC 2136 (§2.4 prerequisites, §2.5 updates) on one device's
// names, in the registrar's terms: the DNS side classifies the wire records.
struct RecordOp {
  enum class Kind : std::uint8_t {
    rrset_exists,        // §2.4.1 value independent
    rrset_exists_value,  // §2.4.2 value dependent: one record of the set (grouped)
    rrset_absent,        // §2.4.3
    name_in_use,         // §2.4.4
    name_not_in_use,     // §2.4.5
    add,                 // §2.5.1
    delete_rrset,        // §2.5.2
    delete_name,         // §2.5.3
    delete_record,       // §2.5.4
  };
  Kind kind = Kind::add;
  std::string subname;  // stored form
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::string rdata;
};
// Checks every prerequisite, then applies every update in order (RFC 2136 §3.2,
// §3.4). Adding to a CNAME name, or a CNAME to a name in use, is ignored as
// §3.4.2.2 says; adding a second "@" A replaces the first (one address per family).
std::optional<EditError> apply_record_ops(DeviceRecord& d, std::span<const RecordOp> ops,
                                          std::uint32_t default_ttl);

}  // namespace pweb::registrar
