#pragma once
// Routes registered on a cpp-httplib server through one table that remembers
// each pattern's methods: a known path asked with a method it does not have is
// 405 with `Allow` (RFC 9110 15.5.6), not cpp-httplib's 404.
#include <httplib.h>

#include <regex>
#include <string>
#include <vector>

namespace pweb::rest {

class RouteTable {
 public:
  explicit RouteTable(httplib::Server& srv) : srv_(srv) {}

  void get(const std::string& pattern, httplib::Server::Handler handler);
  void put(const std::string& pattern, httplib::Server::Handler handler);
  void post(const std::string& pattern, httplib::Server::Handler handler);
  void del(const std::string& pattern, httplib::Server::Handler handler);

  // "GET, HEAD, PUT": the methods `path` has, or "" when no route matches it.
  std::string allowed(const std::string& path) const;

 private:
  struct Route {
    std::string pattern;
    std::regex regex;
    std::vector<std::string> methods;
  };
  Route& route(const std::string& pattern);

  httplib::Server& srv_;
  std::vector<Route> routes_;
};

}  // namespace pweb::rest
