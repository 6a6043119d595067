#pragma once
#include "pweb/registrar/service.hpp"
#include "route_table.hpp"

namespace pweb::rest {
// /api/v1/devices/{device}/tokens: create, list (no secrets), revoke; owner only.
void register_token_routes(RouteTable& routes, registrar::RegistrationService& service);
}  // namespace pweb::rest
