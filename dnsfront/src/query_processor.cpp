#include "pweb/dns/query_processor.hpp"

#include <algorithm>

namespace pweb::dns {

namespace {
constexpr std::size_t kMinUdpPayload = 512;  // RFC 1035; smaller EDNS sizes count as 512
constexpr std::size_t kMaxTcpMessage = 65535;
}  // namespace

std::size_t response_limit(const Query& q, Transport transport) noexcept {
  if (transport == Transport::tcp) return kMaxTcpMessage;
  if (!q.edns.present) return kMinUdpPayload;
  return std::clamp<std::size_t>(q.edns.udp_size, kMinUdpPayload, kServerUdpPayload);
}

Processed process_query(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                        Transport transport, const Authority& authority,
                        const registrar::Snapshot& snapshot) noexcept {
  Processed p;
  Query q;
  const ParseStatus status = parse_query(query, q);
  p.qtype = q.has_question ? q.qtype : 0;
  LookupResult result;
  if (status == ParseStatus::ok && !(q.edns.present && q.edns.version > 0)) {
    result = authority.lookup(q, snapshot);
  }
  p.response = write_response(q, status, result, authority, snapshot.serial(), out,
                              std::min(out.size(), response_limit(q, transport)));
  return p;
}

}  // namespace pweb::dns
