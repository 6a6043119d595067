#include "doh_routes.hpp"

#include "doh.hpp"

namespace pweb::rest {
namespace {

void send(httplib::Response& res, const DohResponse& r) {
  res.status = r.status;
  if (!r.cache_control.empty()) res.set_header("Cache-Control", r.cache_control);
  res.set_content(r.body, r.content_type.c_str());
}

}  // namespace

void register_doh_routes(RouteTable& routes, DnsQueryService& service) {
  routes.get(kDohPath, [&service](const httplib::Request& req, httplib::Response& res) {
    // From the raw target, as HTTP/2 reads it: cpp-httplib's parameters drop
    // what follows a second '=' (padding, which RFC 8484 excludes).
    const auto question = req.target.find('?');
    const std::string_view query = question == std::string::npos
                                       ? std::string_view()
                                       : std::string_view(req.target).substr(question + 1);
    send(res, doh_respond(service, doh_from_get(query_parameter(query, "dns"))));
  });
  routes.post(kDohPath, [&service](const httplib::Request& req, httplib::Response& res) {
    send(res, doh_respond(service, doh_from_post(req.get_header_value("Content-Type"), req.body)));
  });
}

}  // namespace pweb::rest
