// The status page: plain HTML, CSS and JS that read the JSON API.
#include "status_page_routes.hpp"

#include <stdexcept>
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

// The handler serving one of the embedded files (a missing one is a build error
// of the page, caught at start-up).
httplib::Server::Handler file(std::string_view name) {
  for (const auto& asset : status_page_assets()) {
    if (asset.path != name) continue;
    return [&asset](const httplib::Request&, httplib::Response& res) {
      res.set_header("Cache-Control", "no-cache");
      // Only this node's own files and API: nothing inline, nothing from elsewhere.
      res.set_header(
          "Content-Security-Policy",
          "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_content(std::string(asset.body), std::string(content_type(asset.path)));
    };
  }
  throw std::logic_error("status page file " + std::string(name) + " is not embedded");
}

}  // namespace

void register_status_page_routes(RouteTable& routes) {
  routes.get("/", file("/index.html"));
  routes.get("/status.js", file("/status.js"));
  routes.get("/status.css", file("/status.css"));
}

}  // namespace pweb::rest
