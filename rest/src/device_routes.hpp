#pragma once
#include "pweb/registrar/service.hpp"
#include "route_table.hpp"

namespace pweb::rest {
void register_device_routes(RouteTable& routes, registrar::RegistrationService& service);
}
