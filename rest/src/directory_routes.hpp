#pragma once
#include <httplib.h>

#include "pweb/rest/directory_service.hpp"

namespace pweb::rest {
// /api/v1/resolve/{name}, /api/v1/agents/{label}, /api/v1/neighbors
void register_directory_routes(httplib::Server& srv, DirectoryService& service);
}  // namespace pweb::rest
