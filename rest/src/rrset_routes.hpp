#pragma once
#include "pweb/registrar/service.hpp"
#include "route_table.hpp"

namespace pweb::rest {
// /api/v1/devices/{device}/rrsets[/{subname}/{type}] (DESIGN.md, deSEC-like).
void register_rrset_routes(RouteTable& routes, registrar::RegistrationService& service);
}  // namespace pweb::rest
