#include "device_auth.hpp"

#include "http_util.hpp"
#include "pweb/registrar/names.hpp"

namespace pweb::rest {

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

}  // namespace pweb::rest
