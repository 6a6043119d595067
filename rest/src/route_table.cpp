#include "route_table.hpp"

#include <algorithm>
#include <array>

namespace pweb::rest {

RouteTable::Route& RouteTable::route(const std::string& pattern) {
  for (auto& r : routes_) {
    if (r.pattern == pattern) return r;
  }
  return routes_.emplace_back(Route{pattern, std::regex(pattern), {}});
}

void RouteTable::get(const std::string& pattern, httplib::Server::Handler handler) {
  route(pattern).methods.emplace_back("GET");
  srv_.Get(pattern, std::move(handler));  // cpp-httplib answers HEAD from it too
}

void RouteTable::put(const std::string& pattern, httplib::Server::Handler handler) {
  route(pattern).methods.emplace_back("PUT");
  srv_.Put(pattern, std::move(handler));
}

void RouteTable::post(const std::string& pattern, httplib::Server::Handler handler) {
  route(pattern).methods.emplace_back("POST");
  srv_.Post(pattern, std::move(handler));
}

void RouteTable::del(const std::string& pattern, httplib::Server::Handler handler) {
  route(pattern).methods.emplace_back("DELETE");
  srv_.Delete(pattern, std::move(handler));
}

std::string RouteTable::allowed(const std::string& path) const {
  std::vector<std::string> methods;
  for (const auto& r : routes_) {
    if (!std::regex_match(path, r.regex)) continue;
    methods.insert(methods.end(), r.methods.begin(), r.methods.end());
    if (std::find(r.methods.begin(), r.methods.end(), "GET") != r.methods.end()) {
      methods.emplace_back("HEAD");
    }
  }
  // In a fixed order, once each.
  static constexpr std::array<const char*, 5> kOrder = {"GET", "HEAD", "POST", "PUT", "DELETE"};
  std::string out;
  for (const char* m : kOrder) {
    if (std::find(methods.begin(), methods.end(), m) == methods.end()) continue;
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace pweb::rest
