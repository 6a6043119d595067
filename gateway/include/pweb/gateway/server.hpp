#pragma once
// The Home Agent side of the DNS-Gateway protocol (v1 and v2): accepts persistent
// connections, answers QUERY frames through an asynchronous resolver, in any
// order, each within a deadline (failure otherwise). A closed connection drops
// its outstanding queries.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "pweb/gateway/frame.hpp"

namespace pweb::gateway {

// Called on the server's thread; must call `done` exactly once, on any thread.
// The answer goes to a v1 client as a v1 REPLY (to_v1), to a v2 client whole.
using Resolve = std::function<void(const std::string& name, std::function<void(Answer)> done)>;

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 4450;
  std::chrono::milliseconds query_deadline{30000};
  std::chrono::milliseconds handshake_timeout{10000};
  std::size_t max_outstanding_per_connection = 1024;
  std::size_t max_connections = 1024;
};

struct ServerStats {
  std::uint64_t queries = 0;      // QUERY messages received
  std::uint64_t found = 0;        // replies with an address
  std::uint64_t failed = 0;       // failure replies (no such device, or no answer in time)
  std::uint64_t connections = 0;  // accepted since start
};

class ServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GatewayServer {
 public:
  GatewayServer(ServerConfig config, Resolve resolve);  // binds now; ServerError if it cannot
  ~GatewayServer();
  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  void start();  // serves on its own thread
  void stop();
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] std::uint64_t queries() const noexcept;
  [[nodiscard]] ServerStats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pweb::gateway
