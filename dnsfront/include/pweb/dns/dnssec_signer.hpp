#pragma once
// Online DNSSEC signing of a finished (unsigned) response: every RRset in the
// answer, authority and additional sections gets an RRSIG, the apex answers
// DNSKEY, CDS and CDNSKEY (RFC 7344), and NXDOMAIN/NODATA become compact denial
// of existence (RFC 9824): NOERROR with one NSEC at the query name. Signatures
// are cached per thread. Pure: no sockets, no logging.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/dnssec_key.hpp"
#include "pweb/dns/message.hpp"

namespace pweb::dns {

namespace type {
inline constexpr std::uint16_t DS = 43;
inline constexpr std::uint16_t RRSIG = 46;
inline constexpr std::uint16_t NSEC = 47;
inline constexpr std::uint16_t DNSKEY = 48;
inline constexpr std::uint16_t CDS = 59;
inline constexpr std::uint16_t CDNSKEY = 60;
inline constexpr std::uint16_t NXNAME = 128;  // RFC 9824 pseudo-type
}  // namespace type

inline constexpr std::uint32_t kDnskeyTtl = 3600;
inline constexpr std::uint32_t kSignatureLifetime = 14 * 86400;

// The RRSIG validity window for `now` (unix seconds): inception an hour back,
// rounded down to the hour so that signatures made within one hour are alike
// (and cached); expiration kSignatureLifetime later.
struct Validity {
  std::uint32_t inception = 0;
  std::uint32_t expiration = 0;
};
Validity validity_at(std::uint32_t now) noexcept;

// RFC 4034 §6.2: rdata at `at` (`len` bytes) in `message` in canonical form:
// names uncompressed and lowercase for the types that §6.2 (and RFC 6840 §5.1)
// lists. Appends to `out`; false if malformed.
bool canonical_rdata(std::uint16_t type, std::span<const std::uint8_t> message, std::size_t at,
                     std::size_t len, std::vector<std::uint8_t>& out) noexcept;

// The NSEC type bitmap field (RFC 4034 §4.1.2) of `types` (any order, no duplicates needed).
void append_type_bitmap(std::span<const std::uint16_t> types, std::vector<std::uint8_t>& out);

struct SignInput {
  const Query* query = nullptr;
  const LookupResult* result = nullptr;
  const Authority* authority = nullptr;
  const DnssecKey* key = nullptr;
  bool sign = true;     // DO was set; false: only the apex key RRsets are answered, unsigned
  bool remote = false;  // the answer came from another agent: its types are not all known
  std::uint32_t now = 0;
};

struct SignedResponse {
  std::size_t size = 0;  // 0: could not be made
  bool truncated = false;
  std::uint16_t rcode = 0;
};

// `plain`: the unsigned response (written without a size limit). Writes the
// signed one into `out`, at most `max_size` bytes: answer and authority whole or
// TC set with neither; additional RRsets that do not fit are left out.
SignedResponse sign_response(const SignInput& in, std::span<const std::uint8_t> plain,
                             std::span<std::uint8_t> out, std::size_t max_size) noexcept;

}  // namespace pweb::dns
