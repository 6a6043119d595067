// A device's RRsets: parse the request, call the registrar, serialize.
#include "rrset_routes.hpp"

#include "device_auth.hpp"
#include "device_json.hpp"
#include "http_util.hpp"
#include "pweb/dns/rdata.hpp"
#include "pweb/registrar/records.hpp"

namespace pweb::rest {
namespace {

using nlohmann::json;
constexpr std::size_t kMaxRecordsInBody = 256;

struct Target {
  std::string device;
  std::string subname;  // stored form
  std::uint16_t type = 0;
};

// The device (owner checked), subname and type of the path; answers and nullopt if bad.
std::optional<Target> target_of(registrar::RegistrationService& service,
                                const httplib::Request& req, httplib::Response& res,
                                bool changing) {
  const auto sub = registrar::parse_subname(req.matches[2].str());
  if (!sub.subname) {
    send_error(res, 400, sub.error);
    return std::nullopt;
  }
  const auto type = dns::rrtype_from_text(req.matches[3].str());
  if (!type || !dns::is_record_type(*type)) {
    send_error(res, 400,
               "type '" + registrar::printable(req.matches[3].str()) +
                   "' is not one a device may hold (A, AAAA, TXT, CNAME, MX, SRV, CAA, TLSA, "
                   "HTTPS, SVCB)");
    return std::nullopt;
  }
  std::optional<RecordAccess> access;
  if (changing) access = RecordAccess{std::string(subname_to_api(*sub.subname)), *type};
  auto device = device_for_records(service, req, res, access);
  if (!device) return std::nullopt;
  return Target{std::move(*device), *sub.subname, *type};
}

// The RRset of a PUT body, or an error message.
std::string parse_body(const std::string& body, const Target& t, std::uint32_t default_ttl,
                       RRset& out) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return "body is not valid JSON";
  if (!j.is_object()) return "body must be a JSON object {\"ttl\": N, \"records\": [...]}";
  out.subname = t.subname;
  out.type = t.type;
  out.ttl = default_ttl;
  for (const auto& [key, value] : j.items()) {
    if (key == "ttl") {
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 0x7FFFFFFF) {
        return "ttl must be a number of seconds";
      }
      out.ttl = static_cast<std::uint32_t>(value.get<std::uint64_t>());
    } else if (key == "records") {
      if (!value.is_array()) return "records must be an array of strings";
      if (value.size() > kMaxRecordsInBody) {
        return "more than " + std::to_string(kMaxRecordsInBody) + " records";
      }
      for (std::size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string()) return "records must be an array of strings";
        const auto r = dns::rdata_from_text(t.type, value[i].get<std::string>());
        if (!r.ok()) return "records[" + std::to_string(i) + "]: " + r.error;
        out.rdata.emplace_back(r.wire.begin(), r.wire.end());
      }
    } else {
      return "unknown field '" + registrar::printable(key) + "' (expected ttl, records)";
    }
  }
  if (!j.contains("records")) return "records missing (an empty array deletes the RRset)";
  return {};
}

int status_of(const registrar::EditError& e) {
  switch (e.kind) {
    case registrar::EditError::Kind::invalid:
      return 400;
    case registrar::EditError::Kind::not_found:
      return 404;
    default:
      return 422;  // the rules: CNAME conflicts, TTL bounds, limits
  }
}

void answer_change(registrar::RegistrationService& service, const Target& t,
                   const registrar::ChangeResult& r, httplib::Response& res, bool deleting) {
  switch (r.status) {
    case registrar::ChangeStatus::store_error:
      return send_error(res, 503, "the device store is unavailable; nothing was changed");
    case registrar::ChangeStatus::not_found:
      return send_error(res, 404, "no device '" + t.device + "'");
    case registrar::ChangeStatus::refused:
      return send_error(res, r.error ? status_of(*r.error) : 422,
                        r.error ? r.error->message : "refused");
    default:
      break;
  }
  const auto now = registrar::find_rrset(r.device, t.subname, t.type, service.limits().default_ttl);
  if (deleting || !now) {
    res.status = 204;
    return;
  }
  send_json(res, 200, rrset_to_json(*now));
}

}  // namespace

void register_rrset_routes(RouteTable& routes, registrar::RegistrationService& service) {
  routes.get(R"(/api/v1/devices/([^/]+)/rrsets)",
             [&service](const httplib::Request& req, httplib::Response& res) {
               const auto name = device_for_records(service, req, res, std::nullopt);
               if (!name) return;
               const auto d = service.get(*name);
               if (!d) return send_error(res, 404, "no device '" + *name + "'");
               send_json(res, 200, rrsets_to_json(*d, service.limits().default_ttl));
             });

  const char* one = R"(/api/v1/devices/([^/]+)/rrsets/([^/]+)/([^/]+))";
  routes.get(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto t = target_of(service, req, res, false);
    if (!t) return;
    const auto d = service.get(t->device);
    if (!d) return send_error(res, 404, "no device '" + t->device + "'");
    const auto set = registrar::find_rrset(*d, t->subname, t->type, service.limits().default_ttl);
    if (!set) return send_error(res, 404, "no such RRset");
    send_json(res, 200, rrset_to_json(*set));
  });

  routes.put(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto t = target_of(service, req, res, true);
    if (!t) return;
    if (req.body.size() > kMaxBody) {
      return send_error(res, 413,
                        "request body larger than " + std::to_string(kMaxBody) + " bytes");
    }
    RRset set;
    if (auto err = parse_body(req.body, *t, service.limits().default_ttl, set); !err.empty()) {
      return send_error(res, 400, err);
    }
    registrar::DeviceChange c;
    c.name = t->device;
    c.edit = [set](registrar::DeviceRecord& d) { return registrar::put_rrset(d, set); };
    answer_change(service, *t, service.apply({c}).at(0), res, set.rdata.empty());
  });

  routes.del(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto t = target_of(service, req, res, true);
    if (!t) return;
    registrar::DeviceChange c;
    c.name = t->device;
    c.edit = [sub = t->subname, type = t->type](registrar::DeviceRecord& d) {
      registrar::remove_rrset(d, sub, type);
      return std::optional<registrar::EditError>();
    };
    answer_change(service, *t, service.apply({c}).at(0), res, true);
  });
}

}  // namespace pweb::rest
