#pragma once
// The Home Agent side of the DNS-Gateway protocol (v1, v2 and, given a
// Resolve3, v3): accepts persistent
// connections, answers QUERY frames through an asynchronous resolver, in any
// order, each within a deadline (failure otherwise). A closed connection drops
// its outstanding queries.
#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

#include "pweb/gateway/frame.hpp"

namespace asio::ssl {
class context;
}

namespace pweb::gateway {

// Called on the server's thread; must call `done` exactly once, on any thread.
// The answer goes to a v1 client as a v1 REPLY (to_v1), to a v2 client whole.
using Resolve = std::function<void(const std::string& name, std::function<void(Answer)> done)>;
// A v3 client's QUERY3: the records of one type at a name, same contract.
using Resolve3 = std::function<void(const std::string& name, std::uint16_t qtype,
                                    std::function<void(Answer3)> done)>;

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 4450;
  std::chrono::milliseconds query_deadline{30000};
  // From accept to the end of the version handshake (and TLS's, before it).
  std::chrono::milliseconds handshake_timeout{10000};
  // After the handshake: a connection with no query in flight that sends
  // nothing for this long is closed (a client reconnects when it needs to).
  std::chrono::milliseconds idle_timeout{300000};
  std::size_t max_outstanding_per_connection = 1024;
  std::size_t max_connections = 1024;
  // Connections one client address may hold at once (0: no limit), so one
  // client cannot take the slots other agents and gateways need.
  std::size_t max_per_client = 32;
  // TLS 1.3 with this node's identity (null: plain only). A connection whose
  // first byte is a TLS record (0x16) gets TLS; one starting with a v1/v2
  // version (0x00) is served plain, for standalone and 2013 gateways.
  std::shared_ptr<asio::ssl::context> tls;
};

struct ServerStats {
  std::uint64_t queries = 0;  // QUERY and QUERY3 messages received
  std::uint64_t found = 0;    // replies with an address (v3: with RRsets)
  std::uint64_t failed = 0;   // the others (no such device, nodata, no answer in time)
  std::array<std::uint64_t, 3> queries_by_version{};  // [0]: v1, [1]: v2, [2]: v3 (QUERY3)
  std::uint64_t connections = 0;                      // accepted since start
  std::uint64_t tls_connections = 0;                  // ... of which completed a TLS handshake
  // Connections refused or cut: over the per-client limit, over the total,
  // no handshake in time (TCP, TLS or version), idle after the handshake,
  // a TLS handshake that failed.
  std::uint64_t refused_client_limit = 0, refused_total_limit = 0;
  std::uint64_t handshake_timeouts = 0, idle_closed = 0, tls_failed = 0;
};

class ServerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class GatewayServer {
 public:
  // Binds now; ServerError if it cannot. Without `resolve3` it speaks v1 and v2 only.
  GatewayServer(ServerConfig config, Resolve resolve, Resolve3 resolve3 = {});
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
