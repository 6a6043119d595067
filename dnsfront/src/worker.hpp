#pragma once
// Private to dnsfront: one DNS worker thread's state.
#include <asio.hpp>
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "pweb/dns/query_processor.hpp"
#include "pweb/dns/server.hpp"

namespace pweb::dns {

// Written by one worker only; read (relaxed) by the stats collector.
struct alignas(64) WorkerStats {
  std::atomic<std::uint64_t> udp_queries{0};
  std::atomic<std::uint64_t> tcp_queries{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> truncated{0};
  std::array<std::atomic<std::uint64_t>, 17> rcodes{};
  std::atomic<std::uint64_t> tcp_connections{0};

  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void count(const Processed& p, Transport t) noexcept {
    bump(t == Transport::udp ? udp_queries : tcp_queries);
    if (p.response.size == 0) {
      bump(dropped);
      return;
    }
    if (p.response.truncated) bump(truncated);
    const auto rc = static_cast<std::size_t>(p.response.rcode);
    if (rc < rcodes.size()) bump(rcodes[rc]);
  }
};

class UdpListener;
class TcpListener;

struct Worker {
  // Out of line: the listener types are complete only in server.cpp.
  Worker(const Authority& auth, const registrar::SnapshotHolder& holder, const ServerConfig& cfg);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Declared first so that it is destroyed last, after every socket using it.
  asio::io_context io{1};
  const Authority& authority;
  registrar::SnapshotReader snapshots;
  const ServerConfig& config;
  WorkerStats stats;
  std::vector<std::uint8_t> tcp_scratch = std::vector<std::uint8_t>(65535);
  std::size_t open_tcp_connections = 0;
  std::vector<std::unique_ptr<UdpListener>> udp;
  std::vector<std::shared_ptr<TcpListener>> tcp;
  std::thread thread;
};

}  // namespace pweb::dns
