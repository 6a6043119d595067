#pragma once
// Who may touch a device through the JSON API: its owner (HTTP Basic with the
// user's password).
#include <httplib.h>

#include <optional>
#include <string>

#include "pweb/registrar/service.hpp"

namespace pweb::rest {

// The device name of the request (path match 1), lowercase, when the caller is
// its owner; otherwise the error is answered and nullopt returned.
std::optional<std::string> owned_name(registrar::RegistrationService& service,
                                      const httplib::Request& req, httplib::Response& res);

}  // namespace pweb::rest
