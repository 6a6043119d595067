#include "pweb/dns/freshness.hpp"

#include <algorithm>

#include "pweb/dns/message.hpp"
#include "pweb/dns/wire.hpp"

namespace pweb::dns {
namespace {

// RFC 2181 8: a TTL with the top bit set is read as 0.
std::uint32_t ttl_value(std::uint32_t raw) noexcept { return raw > 0x7fffffffu ? 0 : raw; }

}  // namespace

std::optional<std::uint32_t> response_freshness(std::span<const std::uint8_t> message) noexcept {
  WireReader r(message);
  const Header h = read_header(r);
  if (!r.ok() || !h.qr()) return std::nullopt;
  Name name;
  for (std::uint16_t i = 0; i < h.qdcount; ++i) {
    if (!read_name(r, name)) return std::nullopt;
    r.skip(4);
  }
  std::optional<std::uint32_t> answer_min;
  std::optional<std::uint32_t> soa_min;
  const unsigned records = unsigned{h.ancount} + h.nscount;
  for (unsigned i = 0; i < records; ++i) {
    if (!read_name(r, name)) return std::nullopt;
    const std::uint16_t rtype = r.u16();
    r.skip(2);  // class
    const std::uint32_t ttl = ttl_value(r.u32());
    const std::uint16_t rdlength = r.u16();
    if (!r.ok() || r.remaining() < rdlength) return std::nullopt;
    const std::size_t end = r.pos() + rdlength;
    if (i < h.ancount) {
      answer_min = std::min(answer_min.value_or(ttl), ttl);
    } else if (rtype == type::SOA) {
      // MNAME and RNAME (maybe compressed), then five 32-bit fields, MINIMUM last.
      if (!read_name(r, name) || !read_name(r, name)) return std::nullopt;
      r.skip(16);
      const std::uint32_t minimum = ttl_value(r.u32());
      if (!r.ok() || r.pos() > end) return std::nullopt;
      soa_min = std::min({soa_min.value_or(ttl), ttl, minimum});
    }
    r.seek(end);
    if (!r.ok()) return std::nullopt;
  }
  if (answer_min) return answer_min;
  return soa_min.value_or(0);
}

}  // namespace pweb::dns
