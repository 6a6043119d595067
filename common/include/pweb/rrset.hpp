#pragma once
// The record type everywhere: the store, the snapshot the DNS path reads, the
// responder, the gateway protocol (v3) and the JSON API hold RRsets in this one
// form, converted only at codecs (presentation format, DNS wire, msgpack/JSON).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pweb {

// One RRset below (or at) a device. Rdata is kept in canonical DNS wire form
// (names uncompressed), one string per record: the responder copies it as is.
struct RRset {
  // Relative to the device, lowercase: "" for the device name itself ("@" in
  // the API), else labels below it: "www", "_acme-challenge", "_http._tcp", "*".
  std::string subname;
  std::uint16_t type = 0;
  std::uint32_t ttl = 0;
  std::vector<std::string> rdata;

  [[nodiscard]] std::size_t wire_bytes() const noexcept {
    std::size_t n = 0;
    for (const auto& r : rdata) n += r.size();
    return n;
  }
  friend bool operator==(const RRset&, const RRset&) = default;
};

// A one-record RRset of an address (A: 4 bytes, AAAA: 16) at the name itself.
template <typename Bytes>
RRset address_rrset(std::uint16_t type, std::uint32_t ttl, const Bytes& addr) {
  RRset set;
  set.type = type;
  set.ttl = ttl;
  set.rdata.emplace_back(addr.begin(), addr.end());
  return set;
}

// "@" in the API and in zone files; "" inside.
inline std::string_view subname_to_api(std::string_view subname) noexcept {
  return subname.empty() ? std::string_view("@") : subname;
}

}  // namespace pweb
