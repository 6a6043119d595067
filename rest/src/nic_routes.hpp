#pragma once
#include "pweb/registrar/service.hpp"
#include "route_table.hpp"

namespace pweb::rest {
// GET /nic/update (DynDNS2)
void register_nic_routes(RouteTable& routes, registrar::RegistrationService& service);
// GET /checkip: the caller's address, as DynDNS's checkip service answers (every node)
void register_checkip_route(RouteTable& routes);
}  // namespace pweb::rest
