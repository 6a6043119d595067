#pragma once
#include "pweb/rest/directory_service.hpp"
#include "route_table.hpp"

namespace pweb::rest {
// /api/v1/resolve/{name}, /api/v1/agents/{label}, /api/v1/neighbors
void register_directory_routes(RouteTable& routes, DirectoryService& service);
}  // namespace pweb::rest
