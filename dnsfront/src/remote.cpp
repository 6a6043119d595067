#include "pweb/dns/remote.hpp"

#include <charconv>

#include "pweb/dns/authority.hpp"

namespace pweb::dns {

std::string remote_cache_key(std::string_view key, std::uint16_t qtype) {
  if (key.size() > kMaxNameSize) return {};
  std::string out;
  out.reserve(key.size() + 6);
  out.append(key);
  out.push_back('/');
  out.append(std::to_string(qtype));
  return out;
}

bool split_remote_cache_key(std::string_view cache_key, std::string& key, std::uint16_t& qtype) {
  const auto slash = cache_key.rfind('/');
  if (slash == std::string_view::npos) return false;
  const auto digits = cache_key.substr(slash + 1);
  const auto [end, err] = std::from_chars(digits.data(), digits.data() + digits.size(), qtype);
  if (err != std::errc() || end != digits.data() + digits.size() || digits.empty()) return false;
  key.assign(cache_key.substr(0, slash));
  return true;
}

RemoteAnswer answer_local(const Authority& authority, const registrar::Snapshot& snapshot,
                          std::string_view key, std::uint16_t qtype) {
  RemoteAnswer a;
  a.status = RemoteAnswer::Status::nxdomain;
  a.ttl = authority.ttl();
  Query q;
  q.has_question = true;
  q.qtype = qtype;
  q.qclass = cls::IN;
  std::string text(key);
  text.push_back('.');
  text.append(authority.config().zones.front());
  if (key.empty() || !name_from_text(text, q.qname)) return a;
  const LookupResult r = authority.lookup(q, snapshot);
  // Copied without the snapshot's zone pointer: the answer may outlive the snapshot.
  if (r.device) {
    std::optional<registrar::Ipv4> v4;
    std::optional<registrar::Ipv6> v6;
    if (r.device->has_v4()) v4 = r.device->v4;
    if (r.device->has_v6()) v6 = r.device->v6;
    a.entry = registrar::NameEntry::device(v4, v6);
  }
  switch (r.outcome) {
    case Outcome::answer:
      if (r.node != Node::device) return a;  // the apex, a name server: not a device's name
      a.status = RemoteAnswer::Status::found;
      a.ttl = r.ttl;
      if (r.rrset) {
        auto set = std::make_shared<RRset>(*r.rrset);
        set->subname.clear();  // owned by the queried name, also for a wildcard
        a.rrset = std::move(set);
      } else if (qtype == type::A && a.entry.has_v4()) {
        a.rrset = std::make_shared<RRset>(address_rrset(type::A, r.ttl, a.entry.v4));
      } else if (qtype == type::AAAA && a.entry.has_v6()) {
        a.rrset = std::make_shared<RRset>(address_rrset(type::AAAA, r.ttl, a.entry.v6));
      }
      return a;
    case Outcome::nodata:
      a.status = RemoteAnswer::Status::nodata;
      if (r.node == Node::device) a.ttl = r.ttl;
      return a;
    case Outcome::nxdomain:
    case Outcome::remote:  // another agent's: not ours to tell
    case Outcome::refused:
      return a;
    case Outcome::formerr:
    case Outcome::servfail:
      a.status = RemoteAnswer::Status::servfail;
      a.ttl = 0;
      return a;
  }
  return a;
}

}  // namespace pweb::dns
