// The status page: plain HTML, CSS and JS that read the JSON API.
#include "status_page_routes.hpp"

#include <string>

#include "status_page_assets.hpp"

namespace pweb::rest {
namespace {

std::string_view content_type(std::string_view path) {
  if (path.ends_with(".html")) return "text/html; charset=utf-8";
  if (path.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (path.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

void serve(httplib::Server& srv, const std::string& route, const Asset& asset) {
  srv.Get(route, [&asset](const httplib::Request&, httplib::Response& res) {
    res.set_header("Cache-Control", "no-cache");
    // Only this node's own files and API: nothing inline, nothing from elsewhere.
    res.set_header("Content-Security-Policy",
                   "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(std::string(asset.body), std::string(content_type(asset.path)));
  });
}

}  // namespace

void register_status_page_routes(httplib::Server& srv) {
  for (const auto& asset : status_page_assets()) {
    serve(srv, asset.path == "/index.html" ? "/" : std::string(asset.path), asset);
  }
}

}  // namespace pweb::rest
