// Any text as the rdata of every supported type, and any bytes as wire rdata.
// Invariants: no crash; whatever parses prints in a form that parses back to the
// same wire (text -> wire -> text -> wire), never as the generic "\#" form; and the
// wire is already canonical for rdata_from_wire; errors are printable ASCII.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "pweb/dns/rdata.hpp"

namespace {

using namespace pweb;

constexpr std::uint16_t kTypes[] = {
    dns::type::A,   dns::type::AAAA, dns::type::TXT,  dns::type::CNAME, dns::type::MX,
    dns::type::SRV, dns::type::CAA,  dns::type::TLSA, dns::type::HTTPS, dns::type::SVCB};

// Wire that the codec accepted must print natively and parse back to itself.
void check_stable(std::uint16_t t, const std::vector<std::uint8_t>& wire) {
  const auto text = dns::rdata_to_text(t, wire);
  if (text.rfind("\\#", 0) == 0) std::abort();
  const auto again = dns::rdata_from_text(t, text);
  if (!again.ok() || again.wire != wire) std::abort();
  const auto canon = dns::rdata_from_wire(t, wire, 0, wire.size());
  if (!canon.ok() || canon.wire != wire) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::span<const std::uint8_t> bytes(data, size);
  for (auto t : kTypes) {
    const auto parsed = dns::rdata_from_text(t, text);
    if (parsed.ok() == !parsed.error.empty()) std::abort();
    // Errors may be shown to users (JSON): printable ASCII only.
    for (char c : parsed.error) {
      if (c < 0x20 || c > 0x7E) std::abort();
    }
    if (parsed.ok()) check_stable(t, parsed.wire);
    // The same bytes as a received message whose rdata starts after the first byte
    // (so CNAME/MX pointers have something before them to point to).
    if (size > 0) {
      const auto wire = dns::rdata_from_wire(t, bytes, 1, size - 1);
      if (wire.ok()) check_stable(t, wire.wire);
    }
  }
  return 0;
}
