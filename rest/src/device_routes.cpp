// /api/v1/devices: the public crawler listing, and one device by name for its owner.
#include "device_routes.hpp"

#include <charconv>

#include "device_auth.hpp"
#include "device_json.hpp"
#include "http_util.hpp"
#include "pweb/registrar/names.hpp"

namespace pweb::rest {
namespace {

using nlohmann::json;
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

std::optional<std::int64_t> integer(const std::string& s) {
  std::int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

void list_devices(registrar::RegistrationService& service, const httplib::Request& req,
                  httplib::Response& res) {
  std::size_t limit = kDefaultLimit;
  if (req.has_param("limit")) {
    const auto v = integer(req.get_param_value("limit"));
    if (!v || *v < 1 || *v > static_cast<std::int64_t>(kMaxLimit)) {
      send_error(res, 400, "limit must be an integer from 1 to " + std::to_string(kMaxLimit));
      return;
    }
    limit = static_cast<std::size_t>(*v);
  }
  std::int64_t since = 0;
  if (req.has_param("since")) {
    const auto v = integer(req.get_param_value("since"));
    if (!v || *v < 0) {
      send_error(res, 400, "since must be a unix time in seconds");
      return;
    }
    since = *v;
  }
  // The cursor is the last name of the previous page: names are unique and ordered.
  const std::string cursor = req.has_param("cursor") ? req.get_param_value("cursor") : "";
  // With `since`, a crawler is catching up on changes: removals are changes too.
  const bool with_removed = req.has_param("since");
  auto entries = service.list(cursor, since, limit + 1, with_removed);
  json next = nullptr;
  if (entries.size() > limit) {
    entries.pop_back();
    next = entries.back().device.name;
  }
  json devices = json::array();
  json removed = json::array();
  for (const auto& e : entries) {
    if (e.removed) {
      removed.push_back({{"name", e.device.name}, {"removed", e.device.updated}});
    } else {
      devices.push_back(device_to_json(e.device));
    }
  }
  json body = {{"devices", devices}, {"next_cursor", next}};
  if (with_removed) body["removed"] = removed;
  send_json_cached(req, res, body);
}

// Parses a PUT body into a change; an error message if malformed.
std::string parse_put(const std::string& body, registrar::DeviceChange& c) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return "body is not valid JSON";
  if (!j.is_object()) return "body must be a JSON object";
  for (const auto& [key, value] : j.items()) {
    if (key == "ipv4" || key == "ipv6") {
      if (value.is_null()) {
        if (key == "ipv4") c.ipv4 = registrar::FieldChange<registrar::Ipv4>::clear();
        if (key == "ipv6") c.ipv6 = registrar::FieldChange<registrar::Ipv6>::clear();
        continue;
      }
      if (!value.is_string()) return key + " must be a string or null";
      const auto text = value.get<std::string>();
      // The one address rule, as for /nic/update and device import.
      const auto a = registrar::parse_device_address(text);
      const bool v4 = key == "ipv4";
      if (a.malformed || (v4 ? a.v6.has_value() : a.v4.has_value())) {
        return key + " '" + registrar::printable(text) + "' is not an " + (v4 ? "IPv4" : "IPv6") +
               " address" + (!v4 && a.v4 ? " (an IPv4-mapped one: give it as ipv4)" : "");
      }
      if (!a.error.empty()) return key + ": " + a.error;
      if (v4) {
        c.ipv4 = registrar::FieldChange<registrar::Ipv4>::set(*a.v4);
      } else {
        c.ipv6 = registrar::FieldChange<registrar::Ipv6>::set(*a.v6);
      }
    } else if (key == "services") {
      if (!value.is_array()) return "services must be an array of \"name:port\" strings";
      std::vector<std::string> list;
      for (const auto& s : value) {
        if (!s.is_string()) return "services must be an array of \"name:port\" strings";
        list.push_back(s.get<std::string>());
      }
      const auto v = registrar::validate_services(list);
      if (!v.joined) return v.error;
      c.services = *v.joined;
    } else if (key == "ttl") {
      if (!value.is_number_unsigned() || value.get<std::uint64_t>() > 0x7FFFFFFF) {
        return "ttl must be a number of seconds (0: the node's default)";
      }
      c.ttl = static_cast<std::uint32_t>(value.get<std::uint64_t>());
    } else if (key == "ipv6_iid") {
      if (value.is_null()) {
        c.ipv6_iid = registrar::FieldChange<registrar::Ipv6>::clear();
        continue;
      }
      const auto iid =
          value.is_string() ? registrar::parse_ipv6(value.get<std::string>()) : std::nullopt;
      if (!iid) return "ipv6_iid must be an IPv6 interface id such as \"::1:2\", or null";
      c.ipv6_iid = registrar::FieldChange<registrar::Ipv6>::set(*iid);
    } else {
      return "unknown field '" + key + "' (expected ipv4, ipv6, services, ttl, ipv6_iid)";
    }
  }
  return {};
}

}  // namespace

void register_device_routes(RouteTable& routes, registrar::RegistrationService& service) {
  routes.get("/api/v1/devices", [&service](const httplib::Request& req, httplib::Response& res) {
    list_devices(service, req, res);
  });

  const char* one = R"(/api/v1/devices/([^/]+))";
  routes.get(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto name = owned_name(service, req, res);
    if (!name) return;
    const auto d = service.get(*name);
    if (!d) return send_error(res, 404, "no device '" + *name + "'");
    send_json(res, 200, device_to_json(*d));
  });

  routes.put(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto name = owned_name(service, req, res);
    if (!name) return;
    // The length limit alone does not cover chunked bodies.
    if (req.body.size() > kMaxBody) {
      return send_error(res, 413,
                        "request body larger than " + std::to_string(kMaxBody) + " bytes");
    }
    registrar::DeviceChange c;
    c.name = *name;
    if (const auto err = parse_put(req.body, c); !err.empty()) return send_error(res, 400, err);
    const auto r = service.apply({c}).at(0);
    if (r.status == registrar::ChangeStatus::store_error) {
      return send_error(res, 503, "the device store is unavailable; nothing was changed");
    }
    if (r.status == registrar::ChangeStatus::refused) {
      return send_error(res, 422, r.error ? r.error->message : "refused");
    }
    send_json(res, r.status == registrar::ChangeStatus::created ? 201 : 200,
              device_to_json(r.device));
  });

  routes.del(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto name = owned_name(service, req, res);
    if (!name) return;
    registrar::DeviceChange c;
    c.name = *name;
    c.remove = true;
    const auto r = service.apply({c}).at(0);
    switch (r.status) {
      case registrar::ChangeStatus::removed:
        res.status = 204;
        return;
      case registrar::ChangeStatus::not_found:
        return send_error(res, 404, "no device '" + *name + "'");
      default:
        return send_error(res, 503, "the device store is unavailable; nothing was changed");
    }
  });
}

}  // namespace pweb::rest
