#include "device_auth.hpp"

#include "http_util.hpp"
#include "pweb/registrar/names.hpp"
#include "pweb/registrar/tokens.hpp"

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

std::optional<std::string> device_for_records(registrar::RegistrationService& service,
                                              const httplib::Request& req, httplib::Response& res,
                                              const std::optional<RecordAccess>& change) {
  const auto creds = basic_auth(req);
  if (!creds || creds->user.find('.') == std::string::npos) return owned_name(service, req, res);
  const auto parsed = registrar::parse_device_name(req.matches[1].str());
  if (!parsed.name) {
    send_error(res, 400, parsed.error);
    return std::nullopt;
  }
  const std::string device = parsed.name->full();
  if (registrar::to_lower(creds->user) != device) {
    send_error(res, 403, "a device token works for its own device only");
    return std::nullopt;
  }
  const auto auth = service.authenticate_token(device, creds->password, req.remote_addr);
  switch (auth.result) {
    case registrar::AuthResult::bad:
      ask_for_credentials(res);
      send_error(res, 401, auth.refusal.empty() ? "wrong device token" : auth.refusal);
      return std::nullopt;
    case registrar::AuthResult::throttled:
      send_error(res, 429,
                 "too many failed logins from this address or for this device; try later");
      return std::nullopt;
    case registrar::AuthResult::ok:
      break;
  }
  if (change && !registrar::scope_allows(auth.info.scope, change->subname, change->type)) {
    send_error(res, 403,
               std::string("this token's scope (") + registrar::scope_name(auth.info.scope) +
                   ") does not allow changing that RRset");
    return std::nullopt;
  }
  return device;
}

}  // namespace pweb::rest
