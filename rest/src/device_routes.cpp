// /api/v1/devices: the public crawler listing, and one device by name for its owner.
#include "device_routes.hpp"

#include <charconv>

#include "http_util.hpp"
#include "pweb/registrar/names.hpp"

namespace pweb::rest {
namespace {

using nlohmann::json;
constexpr std::size_t kDefaultLimit = 100;
constexpr std::size_t kMaxLimit = 1000;

json to_json(const registrar::DeviceRecord& d) {
  return {{"name", d.name},
          {"ipv4", d.ipv4 ? json(registrar::format_ipv4(*d.ipv4)) : json(nullptr)},
          {"ipv6", d.ipv6 ? json(registrar::format_ipv6(*d.ipv6)) : json(nullptr)},
          {"updated", d.updated},
          {"services", registrar::split_services(d.services)}};
}

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
      devices.push_back(to_json(e.device));
    }
  }
  json body = {{"devices", devices}, {"next_cursor", next}};
  if (with_removed) body["removed"] = removed;
  send_json_cached(req, res, body);
}

// Authenticates the caller as the owner of `name`; answers and returns nullopt if not.
std::optional<std::string> owned_name(registrar::RegistrationService& service,
                                      const httplib::Request& req, httplib::Response& res) {
  const auto parsed = registrar::parse_device_name(req.matches[1].str());
  if (!parsed.name) {
    send_error(res, 400, parsed.error);
    return std::nullopt;
  }
  const auto creds = basic_auth(req);
  if (!creds) {
    ask_for_credentials(res);
    send_error(res, 401, "authentication required (HTTP Basic)");
    return std::nullopt;
  }
  const std::string user = registrar::to_lower(creds->user);
  switch (service.authenticate(user, creds->password, req.remote_addr)) {
    case registrar::AuthResult::bad:
      ask_for_credentials(res);
      send_error(res, 401, "wrong user name or password");
      return std::nullopt;
    case registrar::AuthResult::throttled:
      send_error(res, 429,
                 "too many failed logins from this address, its network or for this user; "
                 "try later");
      return std::nullopt;
    case registrar::AuthResult::ok:
      break;
  }
  if (parsed.name->user != user || parsed.name->agent != service.label()) {
    send_error(
        res, 403,
        "'" + parsed.name->full() + "' is not yours: you own *." + user + "." + service.label());
    return std::nullopt;
  }
  return parsed.name->full();
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
    } else {
      return "unknown field '" + key + "' (expected ipv4, ipv6, services)";
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
    send_json(res, 200, to_json(*d));
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
    send_json(res, r.status == registrar::ChangeStatus::created ? 201 : 200, to_json(r.device));
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
