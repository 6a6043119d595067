#pragma once
#include "route_table.hpp"

namespace pweb::rest {

// GET / (the status page), /status.js and /status.css, from the binary.
void register_status_page_routes(RouteTable& routes);

}  // namespace pweb::rest
