#pragma once
// Private to dnsfront: one DNS worker thread's state.
#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "pweb/dns/message_handler.hpp"
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
  std::atomic<std::uint64_t> remote_lookups{0};   // names sent to the resolver
  std::atomic<std::uint64_t> remote_waits{0};     // queries that waited for one
  std::atomic<std::uint64_t> remote_overflow{0};  // dropped: too many waiting
  std::array<metrics::LocalCounter, kQtypeNames.size()> qtypes{};
  metrics::LocalCounter cache_hits;
  metrics::LocalCounter cache_misses;
  metrics::LocalHistogram latency;
  metrics::LocalCounter rrl_slipped;
  metrics::LocalCounter rrl_dropped;
  std::array<metrics::LocalCounter, kCookieResults> cookies{};  // by CookieResult
  std::atomic<std::uint64_t> dot_queries{0};
  std::atomic<std::uint64_t> dot_connections{0};
  metrics::LocalCounter dot_handshake_failures;

  static void bump(std::atomic<std::uint64_t>& c) noexcept {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // `tls`: a TCP query that came over TLS, counted as DoT only.
  void count(const Processed& p, Transport t, bool tls = false) noexcept {
    bump(t == Transport::udp ? udp_queries : tls ? dot_queries : tcp_queries);
    qtypes[qtype_index(p.qtype)].inc();
    if (p.cache == CacheUse::hit) cache_hits.inc();
    if (p.cache == CacheUse::miss) cache_misses.inc();
    if (p.cookie != CookieResult::none) cookies[static_cast<std::size_t>(p.cookie)].inc();
    if (p.response.size == 0) {
      bump(dropped);
      return;
    }
    if (p.response.truncated) bump(truncated);
    const auto rc = static_cast<std::size_t>(p.response.rcode);
    if (rc < rcodes.size()) bump(rcodes[rc]);
  }
};

// The peer's IP address as text (no port), for rules on client addresses.
std::string peer_ip(const sockaddr* peer, socklen_t size);
// The peer's address bytes and the time, for server cookies. The clock is
// read once per batch of datagrams, not per query.
std::uint32_t unix_time_now() noexcept;
ClientInfo client_info(const sockaddr* peer, socklen_t size,
                       std::uint32_t unix_time = unix_time_now()) noexcept;

class UdpListener;
class TcpListener;

struct Worker {
  // Out of line: the listener types are complete only in server.cpp.
  Worker(const Authority& auth, const registrar::SnapshotHolder& holder, const ServerConfig& cfg,
         RemoteResolver* remote, SignedMessageHandler* signed_messages);
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
  std::size_t open_dot_connections = 0;  // limited apart: handshakes do not starve TCP

  // Names of other agents: answers cached here, queries waiting for one.
  // Only this worker's thread touches them; the resolver's answer is posted back.
  using Resume = std::function<void(const RemoteAnswer&)>;
  RemoteResolver* resolver;
  RemoteCache remote_cache;
  std::unordered_map<std::string, std::vector<Resume>> waiting;
  std::size_t waiting_queries = 0;
  // Runs `resume` with the answer for `key` once the resolver has it (one
  // lookup per key however many wait). False, and nothing queued, when full.
  bool await_remote(const std::string& key, Resume resume);

  // UPDATEs and TSIG-signed queries go here (null: answered as unknown).
  SignedMessageHandler* signed_messages;
  std::atomic<std::uint64_t> signed_in_flight{0};
  // Answers of the handler come back from other threads (the writer), maybe
  // after this worker is gone: they post through this gate, closed on destruction.
  struct PostGate {
    std::mutex mutex;
    asio::io_context* io = nullptr;
    template <typename F>
    void post(F&& f) {
      std::lock_guard lock(mutex);
      if (io) asio::post(*io, std::forward<F>(f));
    }
  };
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();

  using Clock = std::chrono::steady_clock;
  RateLimiter rrl;
  // Rate limiting of a UDP answer of `size` bytes in `response` to `peer`: the
  // size to send (smaller when slipped), or 0 to send nothing.
  std::size_t limit_udp(const sockaddr_storage& peer, std::span<std::uint8_t> response,
                        std::size_t size, Clock::time_point now) noexcept;
  // Counts one query answered (or dropped) `started` ago, and logs it if asked to.
  void finish(std::span<const std::uint8_t> query, const Processed& p, Transport t,
              Clock::time_point started, const sockaddr* peer, socklen_t peer_size,
              bool tls = false) noexcept {
    stats.count(p, t, tls);
    const auto took = Clock::now() - started;
    if (p.response.size != 0) stats.latency.observe(took);
    if (config.query_log) log_query(query, p, t, took, peer, peer_size, tls);
  }
  void log_query(std::span<const std::uint8_t> query, const Processed& p, Transport t,
                 Clock::duration took, const sockaddr* peer, socklen_t peer_size,
                 bool tls = false) noexcept;
  [[nodiscard]] RemoteContext remote_context() const noexcept {
    return {resolver ? &remote_cache : nullptr, nullptr, RemoteCache::Clock::now()};
  }
  std::vector<std::unique_ptr<UdpListener>> udp;
  std::vector<std::shared_ptr<TcpListener>> tcp;  // TCP and DoT
  std::thread thread;
};

}  // namespace pweb::dns
