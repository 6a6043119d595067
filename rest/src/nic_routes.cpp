// DynDNS2 (/nic/update) and /checkip, as ddclient, inadyn and routers use them.
#include "nic_routes.hpp"

#include "http_util.hpp"
#include "pweb/registrar/names.hpp"

namespace pweb::rest {
namespace {

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

void plain(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "text/plain; charset=utf-8");
}

}  // namespace

void register_nic_routes(RouteTable& routes, registrar::RegistrationService& service) {
  routes.get("/nic/update", [&service](const httplib::Request& req, httplib::Response& res) {
    const auto creds = basic_auth(req);
    if (!creds) {
      ask_for_credentials(res);
      plain(res, 401, "badauth\n");
      return;
    }
    registrar::NicUpdateRequest r;
    r.hostname = param(req, "hostname");
    r.myip = param(req, "myip");
    r.myipv6 = param(req, "myipv6");
    r.offline = param(req, "offline");
    r.ipv6prefix = param(req, "ipv6prefix");
    r.client_address = req.remote_addr;
    const std::string user = registrar::to_lower(creds->user);
    // User names are single labels: a dotted one is a device name, the password its token.
    const bool device_token = user.find('.') != std::string::npos;
    registrar::TokenAuth token;
    if (device_token) {
      token = service.authenticate_token(user, creds->password, req.remote_addr);
    }
    const auto auth =
        device_token ? token.result : service.authenticate(user, creds->password, req.remote_addr);
    service.count_refused_update(auth);
    switch (auth) {
      case registrar::AuthResult::bad:
        plain(res, 200, "badauth\n");
        return;
      case registrar::AuthResult::throttled:
        plain(res, 429, "abuse\n");
        return;
      case registrar::AuthResult::ok:
        break;
    }
    const auto answer =
        device_token ? service.nic_update_token(token.info, r) : service.nic_update(user, r);
    plain(res, answer.bad_request ? 400 : 200, answer.body);
  });
}

void register_checkip_route(RouteTable& routes) {
  routes.get("/checkip", [](const httplib::Request& req, httplib::Response& res) {
    res.set_content("<html><head><title>Current IP Check</title></head><body>Current IP Address: " +
                        req.remote_addr + "</body></html>\n",
                    "text/html");
  });
}

}  // namespace pweb::rest
