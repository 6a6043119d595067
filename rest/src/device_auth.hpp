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

// What a request may touch of a device's records: (API subname, type) to
// change, or nullopt to read.
struct RecordAccess {
  std::string subname;  // "@" or labels
  std::uint16_t type = 0;
};
// Like owned_name, or a token of that very device (HTTP Basic with the device
// name as user and the token as password) whose scope allows `change` (any
// token may read).
std::optional<std::string> device_for_records(registrar::RegistrationService& service,
                                              const httplib::Request& req, httplib::Response& res,
                                              const std::optional<RecordAccess>& change);

}  // namespace pweb::rest
