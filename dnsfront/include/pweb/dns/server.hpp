#pragma once
// The DNS servers: UDP and TCP listeners on Asio, one io_context per worker
// thread, each worker with its own SO_REUSEPORT sockets and its own snapshot
// reader, so workers share nothing on the query path.
#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "pweb/dns/authority.hpp"
#include "pweb/dns/remote.hpp"
#include "pweb/registrar/snapshot.hpp"

namespace pweb::dns {

struct ListenAddress {
  std::string host;  // numeric IPv4 or IPv6
  std::uint16_t port = 0;
};

struct ServerConfig {
  std::vector<ListenAddress> listen;
  unsigned threads = 1;
  std::chrono::milliseconds tcp_idle_timeout{10000};
  std::size_t max_tcp_connections_per_thread = 1024;
  std::size_t remote_cache_entries = 1 << 16;  // per worker
  std::size_t max_waiting_queries = 1 << 16;   // per worker, for remote answers
};

struct ServerStats {
  std::uint64_t udp_queries = 0;
  std::uint64_t tcp_queries = 0;
  std::uint64_t dropped = 0;  // no answer sent: unparseable or itself a response
  std::uint64_t truncated = 0;
  std::array<std::uint64_t, 17> rcodes{};  // by rcode value (BADVERS = 16)
  std::uint64_t tcp_connections = 0;
  std::uint64_t remote_lookups = 0;
  std::uint64_t remote_waits = 0;
  std::uint64_t remote_overflow = 0;
};

class BindError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class DnsServer {
 public:
  // Binds every listener now so that a busy port fails start-up (BindError).
  // `remote` (optional) resolves other agents' names; it must outlive stop().
  DnsServer(ServerConfig config, const Authority& authority,
            const registrar::SnapshotHolder& snapshots, RemoteResolver* remote = nullptr);
  ~DnsServer();
  DnsServer(const DnsServer&) = delete;
  DnsServer& operator=(const DnsServer&) = delete;

  void start();
  void stop();
  [[nodiscard]] ServerStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pweb::dns
