#pragma once
// A device and its RRsets as the JSON API shows them; records in DNS
// presentation format (the DNS codec prints them: no second printer).
#include <nlohmann/json.hpp>

#include "pweb/registrar/device.hpp"

namespace pweb::rest {

nlohmann::json rrset_to_json(const RRset& set);
// Every RRset of the device, its own addresses included as "@" A/AAAA.
nlohmann::json rrsets_to_json(const registrar::DeviceRecord& d, std::uint32_t default_ttl);
nlohmann::json device_to_json(const registrar::DeviceRecord& d);

}  // namespace pweb::rest
