#include "device_json.hpp"

#include "pweb/dns/rdata.hpp"
#include "pweb/registrar/records.hpp"
#include "pweb/registrar/service.hpp"

namespace pweb::rest {

using nlohmann::json;

json rrset_to_json(const RRset& set) {
  json records = json::array();
  for (const auto& r : set.rdata) {
    records.push_back(
        dns::rdata_to_text(set.type, {reinterpret_cast<const std::uint8_t*>(r.data()), r.size()}));
  }
  return {{"subname", std::string(subname_to_api(set.subname))},
          {"type", dns::rrtype_to_text(set.type)},
          {"ttl", set.ttl},
          {"records", records}};
}

json rrsets_to_json(const registrar::DeviceRecord& d, std::uint32_t default_ttl) {
  json out = json::array();
  for (const auto t : {registrar::rrtype::A, registrar::rrtype::AAAA}) {
    if (auto a = registrar::find_rrset(d, "", t, default_ttl)) out.push_back(rrset_to_json(*a));
  }
  for (const auto& s : d.rrsets) out.push_back(rrset_to_json(s));
  return out;
}

json device_to_json(const registrar::DeviceRecord& d) {
  json j = {{"name", d.name},
            {"ipv4", d.ipv4 ? json(registrar::format_ipv4(*d.ipv4)) : json(nullptr)},
            {"ipv6", d.ipv6 ? json(registrar::format_ipv6(*d.ipv6)) : json(nullptr)},
            {"updated", d.updated},
            {"services", registrar::split_services(d.services)},
            {"ttl", d.ttl},
            {"ipv6_iid", d.ipv6_iid ? json(registrar::format_ipv6(*d.ipv6_iid)) : json(nullptr)}};
  if (!d.rrsets.empty()) {
    json sets = json::array();
    for (const auto& s : d.rrsets) sets.push_back(rrset_to_json(s));
    j["rrsets"] = sets;
  }
  return j;
}

}  // namespace pweb::rest
