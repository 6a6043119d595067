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

namespace {

// Turns a remote outcome into what the answer says; false if it must wait.
bool settle_remote(LookupResult& r, const Query& q, const RemoteContext& remote,
                   CacheUse& cache) noexcept {
  const RemoteAnswer* a = remote.resolved;
  std::uint32_t ttl = a ? a->ttl : 0;
  if (!a && remote.cache) {
    a = remote.cache->find(r.key_view(), remote.now, ttl);
    cache = a ? CacheUse::hit : CacheUse::miss;
  }
  if (!a) {
    if (remote.cache) return false;
    r.outcome = Outcome::nxdomain;  // no resolver: the name is not ours to know
    return true;
  }
  r.ede = a->ede;
  switch (a->status) {
    case RemoteAnswer::Status::found: {
      const bool any = q.qtype == type::ANY;
      const auto& e = a->entry;
      const bool has = (q.qtype == type::A && e.has_v4()) ||
                       (q.qtype == type::AAAA && e.has_v6()) || (any && (e.has_v4() || e.has_v6()));
      r.outcome = has ? Outcome::answer : Outcome::nodata;
      r.device = &e;
      r.ttl = ttl;
      break;
    }
    case RemoteAnswer::Status::nxdomain:
      r.outcome = Outcome::nxdomain;
      break;
    case RemoteAnswer::Status::servfail:
      r.outcome = Outcome::servfail;
      break;
  }
  return true;
}

}  // namespace

Processed process_query(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                        Transport transport, const Authority& authority,
                        const registrar::Snapshot& snapshot, const RemoteContext& remote) noexcept {
  Processed p;
  Query q;
  const ParseStatus status = parse_query(query, q);
  p.qtype = q.has_question ? q.qtype : 0;
  p.special = status != ParseStatus::drop && (q.header.opcode() == 5 /* UPDATE */ || q.has_tsig);
  LookupResult result;
  if (status == ParseStatus::ok && !(q.edns.present && q.edns.version > 0)) {
    result = authority.lookup(q, snapshot);
    if (result.outcome == Outcome::remote && !settle_remote(result, q, remote, p.cache)) {
      p.pending = true;
      p.pending_key.assign(result.key_view());
      return p;
    }
  }
  p.response = write_response(q, status, result, authority, snapshot.serial(), out,
                              std::min(out.size(), response_limit(q, transport)));
  return p;
}

}  // namespace pweb::dns
