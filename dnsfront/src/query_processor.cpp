#include "pweb/dns/query_processor.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <ctime>
#include <vector>

#include "pweb/dns/dnssec_signer.hpp"

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

// The cache key of a remote question ("name/type", see remote_cache_key),
// written on the stack: the DNS path does not allocate for a cache hit.
std::string_view cache_key(const LookupResult& r, std::uint16_t qtype,
                           std::array<char, kMaxNameSize + 8>& buf) noexcept {
  const auto name = r.key_view();
  std::copy(name.begin(), name.end(), buf.begin());
  std::size_t n = name.size();
  buf[n++] = '/';
  const auto [end, err] = std::to_chars(buf.data() + n, buf.data() + buf.size(), qtype);
  (void)err;  // five digits always fit
  return {buf.data(), static_cast<std::size_t>(end - buf.data())};
}

// Turns a remote outcome into what the answer says; false if it must wait.
bool settle_remote(LookupResult& r, const Query& q, const RemoteContext& remote,
                   CacheUse& cache) noexcept {
  const RemoteAnswer* a = remote.resolved;
  std::uint32_t ttl = a ? a->ttl : 0;
  if (!a && remote.cache) {
    std::array<char, kMaxNameSize + 8> buf{};
    a = remote.cache->find(cache_key(r, q.qtype, buf), remote.now, ttl);
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
      r.device = &e;
      r.ttl = ttl;
      // The answered RRset (the type asked for, or a CNAME), else the addresses.
      r.rrset = a->rrset.get();
      r.outcome = (has || r.rrset) ? Outcome::answer : Outcome::nodata;
      break;
    }
    case RemoteAnswer::Status::nodata:
      r.device = &a->entry;
      r.ttl = ttl;
      r.outcome = Outcome::nodata;
      break;
    case RemoteAnswer::Status::nxdomain:
      r.outcome = Outcome::nxdomain;
      break;
    case RemoteAnswer::Status::servfail:
      r.outcome = Outcome::servfail;
      break;
  }
  return true;
}

// With --dnssec: DO queries get signed answers, and the apex's DNSKEY, CDS and
// CDNSKEY exist for every query.
bool goes_to_signer(const Authority& authority, const Query& q, ParseStatus status,
                    const LookupResult& r) noexcept {
  if (!authority.dnssec() || status != ParseStatus::ok) return false;
  if (q.edns.present && q.edns.version > 0) return false;
  if (r.outcome != Outcome::answer && r.outcome != Outcome::nodata &&
      r.outcome != Outcome::nxdomain) {
    return false;
  }
  if (q.edns.present && q.edns.do_bit()) return true;
  return r.node == Node::apex && r.outcome == Outcome::nodata &&
         (q.qtype == type::DNSKEY || q.qtype == type::CDS || q.qtype == type::CDNSKEY);
}

// Writes the unsigned answer without a size limit, then the signed one into `out`;
// false if that failed (the caller answers unsigned, which validators reject).
bool write_signed(const Query& q, ParseStatus status, const LookupResult& r,
                  const Authority& authority, std::uint32_t serial, bool remote,
                  const ResponseOptions& options, std::span<std::uint8_t> out, std::size_t limit,
                  Response& resp) noexcept {
  static thread_local std::vector<std::uint8_t> plain(kMaxTcpMessage);
  const Response unsigned_resp =
      write_response(q, status, r, authority, serial, plain, plain.size(), options);
  if (unsigned_resp.size == 0) return false;
  SignInput in;
  in.query = &q;
  in.result = &r;
  in.authority = &authority;
  in.key = authority.dnssec();
  in.sign = q.edns.present && q.edns.do_bit();
  in.remote = remote;
  in.now = static_cast<std::uint32_t>(std::time(nullptr));
  const SignedResponse s =
      sign_response(in, std::span(plain.data(), unsigned_resp.size), out, limit);
  if (s.size == 0) return false;
  resp.size = s.size;
  resp.truncated = s.truncated;
  resp.rcode = static_cast<Rcode>(s.rcode);
  return true;
}

}  // namespace

Processed process_query(std::span<const std::uint8_t> query, std::span<std::uint8_t> out,
                        Transport transport, const Authority& authority,
                        const registrar::Snapshot& snapshot, const RemoteContext& remote,
                        const ClientInfo& client) noexcept {
  Processed p;
  Query q;
  const ParseStatus status = parse_query(query, q);
  if (q.bad_cookie) p.cookie = CookieResult::malformed;
  p.qtype = q.has_question ? q.qtype : 0;
  p.special = status != ParseStatus::drop && (q.header.opcode() == 5 /* UPDATE */ || q.has_tsig);
  LookupResult result;
  bool remote_answer = false;
  if (status == ParseStatus::ok && !(q.edns.present && q.edns.version > 0)) {
    result = authority.lookup(q, snapshot);
    remote_answer = result.outcome == Outcome::remote;
    if (result.outcome == Outcome::remote && !settle_remote(result, q, remote, p.cache)) {
      p.pending = true;
      std::array<char, kMaxNameSize + 8> buf{};
      p.pending_key.assign(cache_key(result, q.qtype, buf));
      return p;
    }
  }
  ResponseOptions options;
  CookieReply cookie;
  const auto& secret = authority.config().cookie_secret;
  if (q.edns.cookie.present && secret && client.address_size != 0) {
    cookie = answer_cookie(q.edns.cookie, *secret, client.address_bytes(), client.unix_time);
    p.cookie = cookie.result;
    options.cookie = cookie.option;
  }
  options.nsid = authority.config().nsid;
  const std::size_t limit = std::min(out.size(), response_limit(q, transport));
  if (goes_to_signer(authority, q, status, result) &&
      write_signed(q, status, result, authority, snapshot.serial(), remote_answer, options, out,
                   limit, p.response)) {
    return p;
  }
  p.response = write_response(q, status, result, authority, snapshot.serial(), out, limit, options);
  return p;
}

}  // namespace pweb::dns
