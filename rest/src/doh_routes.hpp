#pragma once
// DNS over HTTPS (RFC 8484) at /dns-query on HTTP/1.1: GET ?dns= and POST.
#include "pweb/rest/dns_query_service.hpp"
#include "route_table.hpp"

namespace pweb::rest {

void register_doh_routes(RouteTable& routes, DnsQueryService& service);

}  // namespace pweb::rest
