#pragma once
#include <httplib.h>

namespace pweb::rest {

// GET / (the status page), /status.js and /status.css, from the binary.
void register_status_page_routes(httplib::Server& srv);

}  // namespace pweb::rest
