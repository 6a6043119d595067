// Any bytes through the whole query path: parser, lookup and responder, over
// both transports. Invariants: no crash, no response larger than allowed, and
// every response parses back as a DNS message of the same id.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "pweb/dns/query_processor.hpp"

namespace {

using namespace pweb;

const dns::Authority& authority() {
  static const dns::Authority auth = [] {
    dns::AuthorityConfig cfg;
    cfg.zones = {"dht.", "pweb.example."};
    cfg.label = "home";
    for (std::uint8_t i = 1; i <= 40; ++i)
      cfg.name_servers.push_back({registrar::Ipv4{127, 0, 0, i}, {}});
    cfg.name_servers.push_back({{}, registrar::parse_ipv6("::1")});
    // Cookies and NSID on: their options are parsed and written too.
    cfg.nsid = "fuzz-node";
    cfg.cookie_secret = dns::CookieSecret{};
    return dns::Authority(cfg);
  }();
  return auth;
}

const registrar::Snapshot& snapshot() {
  static const auto snap = [] {
    std::vector<registrar::DeviceRecord> recs(3);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    recs[0].ipv6 = registrar::parse_ipv6("2001:db8::10");
    recs[1].name = "phone.alice.uw";
    recs[1].ipv4 = registrar::parse_ipv4("192.0.2.11");
    recs[2].name = "desk.bob.ut";
    recs[2].ipv6 = registrar::parse_ipv6("2001:db8::20");
    return registrar::Snapshot::build(recs, 1);
  }();
  return *snap;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::vector<std::uint8_t> out(65535);
  const std::span<const std::uint8_t> in(data, size);
  dns::ClientInfo client;
  client.address = {192, 0, 2, 1};
  client.address_size = 4;
  client.unix_time = 1700000000;
  for (auto t : {dns::Transport::udp, dns::Transport::tcp}) {
    const auto p = dns::process_query(in, out, t, authority(), snapshot(), {}, client);
    const std::size_t n = p.response.size;
    if (n == 0) continue;
    if (t == dns::Transport::udp && n > dns::kServerUdpPayload) std::abort();
    if (n < dns::kHeaderSize || size < 2 || out[0] != data[0] || out[1] != data[1]) std::abort();
    if ((out[2] & 0x80) == 0) std::abort();  // QR must be set
  }
  return 0;
}
