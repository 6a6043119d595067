// /api/v1/devices/{device}/tokens: scoped device tokens for their owner. The
// secret is in the answer to POST only; the store keeps it hashed and sealed.
#include "token_routes.hpp"

#include <chrono>

#include "device_auth.hpp"
#include "http_util.hpp"
#include "pweb/registrar/device.hpp"

namespace pweb::rest {
namespace {

using nlohmann::json;

json to_json(const registrar::TokenInfo& t) {
  json subnets = json::array();
  for (const auto& s : t.allowed_subnets) subnets.push_back(s.text());
  return {{"id", t.id},
          {"device", t.device},
          {"scope", registrar::scope_name(t.scope)},
          {"allowed_subnets", subnets},
          {"expires", t.expires == 0 ? json(nullptr) : json(t.expires)},
          {"created", t.created}};
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Parses a POST body; an error message if malformed. Left out, the scope is
// "update" (what DynDNS2 needs) and the token works from anywhere, forever.
// Unknown fields are refused, as for PUT on a device: a misspelt "expires"
// must not make a token that never expires.
std::string parse_post(const std::string& body, registrar::TokenRequest& r) {
  const json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) return "body is not valid JSON";
  if (!j.is_object()) return "body must be a JSON object";
  for (const auto& [key, value] : j.items()) {
    if (key == "scope") {
      const auto scope =
          value.is_string() ? registrar::parse_scope(value.get<std::string>()) : std::nullopt;
      if (!scope) return "scope must be \"update\", \"acme\" or \"records\"";
      r.scope = *scope;
    } else if (key == "allowed_subnets") {
      if (!value.is_array()) return "allowed_subnets must be an array of \"ADDRESS/PREFIX\"";
      if (value.size() > registrar::kMaxSubnetsPerToken) {
        return "at most " + std::to_string(registrar::kMaxSubnetsPerToken) + " allowed_subnets";
      }
      for (const auto& s : value) {
        if (!s.is_string()) return "allowed_subnets must be an array of \"ADDRESS/PREFIX\"";
        const auto parsed = registrar::parse_subnet(s.get<std::string>());
        if (!parsed.subnet) return parsed.error;
        r.allowed_subnets.push_back(*parsed.subnet);
      }
    } else if (key == "expires") {
      if (value.is_null()) continue;
      if (!value.is_number_integer()) return "expires must be a unix time in seconds, or null";
      const auto when = value.get<std::int64_t>();
      if (when <= unix_now()) return "expires " + std::to_string(when) + " is not in the future";
      r.expires = when;
    } else {
      return "unknown field '" + registrar::printable(key) +
             "' (expected scope, allowed_subnets, expires)";
    }
  }
  return {};
}

}  // namespace

void register_token_routes(RouteTable& routes, registrar::RegistrationService& service) {
  const char* all = R"(/api/v1/devices/([^/]+)/tokens)";
  routes.post(all, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto name = owned_name(service, req, res);
    if (!name) return;
    if (req.body.size() > kMaxBody) {
      return send_error(res, 413,
                        "request body larger than " + std::to_string(kMaxBody) + " bytes");
    }
    registrar::TokenRequest r;
    if (const auto err = parse_post(req.body, r); !err.empty()) return send_error(res, 400, err);
    const auto made = service.create_token(*name, r);
    switch (made.status) {
      case registrar::TokenStatus::created: {
        auto body = to_json(made.info);
        body["token"] = made.token;
        res.set_header("Cache-Control", "no-store");
        return send_json(res, 201, body);
      }
      case registrar::TokenStatus::no_device:
        return send_error(res, 404, "no device '" + *name + "'");
      case registrar::TokenStatus::limit:
        return send_error(res, 409,
                          "'" + *name + "' has " + std::to_string(registrar::kMaxTokensPerDevice) +
                              " tokens already, the most a device may have: revoke one first");
      case registrar::TokenStatus::unavailable:
        break;
    }
    send_error(res, 503, "the token store is unavailable; no token was made");
  });

  routes.get(all, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto name = owned_name(service, req, res);
    if (!name) return;
    json list = json::array();
    for (const auto& t : service.list_tokens(*name)) list.push_back(to_json(t));
    send_json(res, 200, {{"tokens", list}});
  });

  const char* one = R"(/api/v1/devices/([^/]+)/tokens/([^/]+))";
  routes.del(one, [&service](const httplib::Request& req, httplib::Response& res) {
    const auto name = owned_name(service, req, res);
    if (!name) return;
    const std::string id = req.matches[2].str();
    switch (service.revoke_token(*name, id)) {
      case registrar::RevokeStatus::revoked:
        res.status = 204;
        return;
      case registrar::RevokeStatus::not_found:
        return send_error(res, 404,
                          "no token '" + registrar::printable(id) + "' of '" + *name + "'");
      case registrar::RevokeStatus::unavailable:
        break;
    }
    send_error(res, 503, "the token store is unavailable; nothing was changed");
  });
}

}  // namespace pweb::rest
