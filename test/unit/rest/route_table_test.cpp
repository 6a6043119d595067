#include "route_table.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace pweb::rest {
namespace {

void nothing(const httplib::Request&, httplib::Response&) {}

TEST(RouteTable, AllowedListsEveryMethodOfTheMatchingPatterns) {
  httplib::Server srv;
  RouteTable routes(srv);
  routes.get("/api/v1/devices", nothing);
  const char* one = R"(/api/v1/devices/([^/]+))";
  routes.get(one, nothing);
  routes.put(one, nothing);
  routes.del(one, nothing);
  routes.get("/checkip", nothing);
  const char* tokens = R"(/api/v1/devices/([^/]+)/tokens)";
  routes.post(tokens, nothing);
  routes.get(tokens, nothing);

  EXPECT_EQ(routes.allowed("/api/v1/devices"), "GET, HEAD");
  EXPECT_EQ(routes.allowed("/api/v1/devices/a.b.c/tokens"), "GET, HEAD, POST");
  EXPECT_EQ(routes.allowed("/api/v1/devices/a.b.c"), "GET, HEAD, PUT, DELETE");
  EXPECT_EQ(routes.allowed("/checkip"), "GET, HEAD");
  // Whole-path matches only, as cpp-httplib routes.
  EXPECT_EQ(routes.allowed("/api/v1/devices/a/b"), "");
  EXPECT_EQ(routes.allowed("/checkip/x"), "");
  EXPECT_EQ(routes.allowed("/api/v1/device"), "");
  EXPECT_EQ(routes.allowed(""), "");
}

TEST(RouteTable, RegistersOnTheServer) {
  httplib::Server srv;
  RouteTable routes(srv);
  int called = 0;
  routes.put("/x", [&](const httplib::Request&, httplib::Response&) { ++called; });
  const int port = srv.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread t([&] { srv.listen_after_bind(); });
  httplib::Client cli("127.0.0.1", port);
  const auto put = cli.Put("/x", "", "text/plain");
  const auto get = cli.Get("/x");
  srv.stop();
  t.join();
  ASSERT_TRUE(put && get);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(called, 1);
  EXPECT_EQ(get->status, 404);  // 405 is the error handler's job (http_server.cpp)
}

}  // namespace
}  // namespace pweb::rest
