#include "pweb/node/own_records.hpp"

#include "pweb/node/names.hpp"

namespace pweb::node {

gateway::Answer3 to_answer3(const dns::RemoteAnswer& a) {
  gateway::Answer3 out;
  out.ttl = a.ttl;
  switch (a.status) {
    case dns::RemoteAnswer::Status::found:
      out.status = gateway::Answer3Status::found;
      if (a.rrset) {
        out.rrsets.push_back(*a.rrset);
        out.rrsets.back().subname.clear();
      } else {  // ANY at a device: its addresses
        if (a.entry.has_v4()) out.rrsets.push_back(address_rrset(dns::type::A, a.ttl, a.entry.v4));
        if (a.entry.has_v6()) {
          out.rrsets.push_back(address_rrset(dns::type::AAAA, a.ttl, a.entry.v6));
        }
      }
      if (out.rrsets.empty()) out.status = gateway::Answer3Status::nodata;
      break;
    case dns::RemoteAnswer::Status::nodata:
      out.status = gateway::Answer3Status::nodata;
      break;
    case dns::RemoteAnswer::Status::nxdomain:
      out.status = gateway::Answer3Status::absent;
      break;
    case dns::RemoteAnswer::Status::servfail:
      out.status = gateway::Answer3Status::failed;
      out.ttl = 0;
      break;
  }
  return out;
}

gateway::Resolve3 own_records(std::vector<std::string> zones, const dns::Authority& authority,
                              const registrar::SnapshotHolder& snapshots) {
  return [zones = std::move(zones), &authority, &snapshots](
             const std::string& name, std::uint16_t qtype,
             std::function<void(gateway::Answer3)> done) {
    const auto k = record_key(name, zones);
    if (!k.error.empty()) return done(gateway::Answer3{});  // absent
    done(to_answer3(dns::answer_local(authority, *snapshots.current(), k.key, qtype)));
  };
}

}  // namespace pweb::node
