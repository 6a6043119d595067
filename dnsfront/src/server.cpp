#include "pweb/dns/server.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstring>

#include "dot_tls.hpp"
#include "tcp_listener.hpp"
#include "udp_listener.hpp"
#include "worker.hpp"

namespace pweb::dns {

namespace {

// SO_REUSEPORT spreads a spoofed flood (random source ports) over every worker:
// each enforces its share of the node's rate.
RrlConfig worker_share(const ServerConfig& cfg) {
  RrlConfig r = cfg.rrl;
  const unsigned n = std::max(1u, cfg.threads);
  if (r.responses_per_second != 0) r.responses_per_second = (r.responses_per_second + n - 1) / n;
  return r;
}

}  // namespace

Worker::Worker(const Authority& auth, const registrar::SnapshotHolder& holder,
               const ServerConfig& cfg, RemoteResolver* remote,
               SignedMessageHandler* signed_handler)
    : authority(auth),
      snapshots(holder),
      config(cfg),
      resolver(remote),
      remote_cache(cfg.remote_cache_entries),
      signed_messages(signed_handler),
      rrl(worker_share(cfg)) {
  gate->io = &io;
}

std::size_t Worker::limit_udp(const sockaddr_storage& peer, std::span<std::uint8_t> response,
                              std::size_t size, Clock::time_point now) noexcept {
  if (!rrl.enabled()) return size;
  std::span<const std::uint8_t> address;
  if (peer.ss_family == AF_INET) {
    address = {reinterpret_cast<const std::uint8_t*>(
                   &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr),
               4};
  } else if (peer.ss_family == AF_INET6) {
    address = {reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr.s6_addr, 16};
  } else {
    return size;
  }
  const auto answer = response.first(size);
  switch (rrl.check(address, rrl_kind(answer), question_hash(answer), now)) {
    case RrlAction::send:
      return size;
    case RrlAction::slip:
      stats.rrl_slipped.inc();
      return truncate_to_question(answer);
    case RrlAction::drop:
      break;
  }
  stats.rrl_dropped.inc();
  return 0;
}
Worker::~Worker() {
  std::lock_guard lock(gate->mutex);
  gate->io = nullptr;
}

namespace {

std::string peer_text(const sockaddr* peer, socklen_t size) {
  if (peer == nullptr) return "-";
  if (peer->sa_family == AF_INET && size >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(peer);
    const asio::ip::udp::endpoint ep(asio::ip::address_v4(ntohl(a->sin_addr.s_addr)),
                                     ntohs(a->sin_port));
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  if (peer->sa_family == AF_INET6 && size >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(peer);
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), a->sin6_addr.s6_addr, b.size());
    return "[" + asio::ip::address_v6(b).to_string() + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "-";
}

}  // namespace

std::uint32_t unix_time_now() noexcept {
  return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

ClientInfo client_info(const sockaddr* peer, socklen_t size, std::uint32_t unix_time) noexcept {
  ClientInfo c;
  c.unix_time = unix_time;
  if (peer == nullptr) return c;
  if (peer->sa_family == AF_INET && size >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    std::memcpy(c.address.data(), &reinterpret_cast<const sockaddr_in*>(peer)->sin_addr, 4);
    c.address_size = 4;
  } else if (peer->sa_family == AF_INET6 && size >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    std::memcpy(c.address.data(), reinterpret_cast<const sockaddr_in6*>(peer)->sin6_addr.s6_addr,
                16);
    c.address_size = 16;
  }
  return c;
}

std::string peer_ip(const sockaddr* peer, socklen_t size) {
  std::string text = peer_text(peer, size);
  if (text.starts_with('[')) return text.substr(1, text.find(']') - 1);
  return text.substr(0, text.rfind(':'));
}

void Worker::log_query(std::span<const std::uint8_t> query, const Processed& p, Transport t,
                       Clock::duration took, const sockaddr* peer, socklen_t peer_size,
                       bool tls) noexcept {
  try {
    QueryLogEntry e;
    e.tcp = t == Transport::tcp;
    e.tls = tls;
    e.client = peer_text(peer, peer_size);
    Query q;
    (void)parse_query(query, q);
    if (q.has_question) e.qname = name_to_text(q.qname);
    e.qtype = p.qtype;
    e.rcode = p.response.size == 0 ? -1 : static_cast<int>(p.response.rcode);
    e.size = p.response.size;
    e.latency = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
    config.query_log(e);
  } catch (...) {
    // A log line is not worth a query: drop it.
  }
}

bool Worker::await_remote(const std::string& key, Resume resume) {
  if (!resolver || waiting_queries >= config.max_waiting_queries) {
    WorkerStats::bump(stats.remote_overflow);
    return false;
  }
  // `key` is the cache key, "name/type": the resolver is asked the question.
  std::string name;
  std::uint16_t qtype = 0;
  if (!split_remote_cache_key(key, name, qtype)) return false;
  WorkerStats::bump(stats.remote_waits);
  ++waiting_queries;
  auto [it, fresh] = waiting.try_emplace(key);
  it->second.push_back(std::move(resume));
  if (!fresh) return true;
  WorkerStats::bump(stats.remote_lookups);
  // The answer arrives on the resolver's thread; everything else happens here.
  // The server outlives the resolver's callbacks (see DnsServer's constructor).
  resolver->resolve(std::move(name), qtype, [this, key](const RemoteAnswer& answer) {
    asio::post(io, [this, key, answer] {
      remote_cache.insert(key, answer, RemoteCache::Clock::now());
      const auto found = waiting.find(key);
      if (found == waiting.end()) return;
      auto resumes = std::move(found->second);
      waiting.erase(found);
      waiting_queries -= resumes.size();
      for (auto& r : resumes) r(answer);
    });
  });
  return true;
}

namespace {

asio::ip::address listen_address(const ListenAddress& l) {
  asio::error_code ec;
  const auto addr = asio::ip::make_address(l.host, ec);
  if (ec) throw BindError("DNS listen address '" + l.host + "' is not an IP address");
  return addr;
}

std::string where(const asio::ip::address& addr, const ListenAddress& l) {
  return (addr.is_v6() ? "[" + l.host + "]" : l.host) + ":" + std::to_string(l.port);
}

}  // namespace

struct DnsServer::Impl {
  ServerConfig config;
  std::vector<std::unique_ptr<Worker>> workers;
  bool started = false;
};

DnsServer::DnsServer(ServerConfig config, const Authority& authority,
                     const registrar::SnapshotHolder& snapshots, RemoteResolver* remote,
                     SignedMessageHandler* signed_messages)
    : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  const auto& cfg = impl_->config;
  if (cfg.listen.empty()) throw BindError("no DNS listen address");
  const unsigned threads = cfg.threads == 0 ? 1 : cfg.threads;
  // SO_REUSEPORT would let a DoT and a plain TCP listener share a port, the
  // kernel splitting connections between them: refuse instead.
  for (const auto& d : cfg.dot_listen) {
    const auto dot = listen_address(d);
    for (const auto& l : cfg.listen) {
      const auto plain = listen_address(l);
      if (d.port == l.port && (dot == plain || dot.is_unspecified() || plain.is_unspecified())) {
        throw BindError("DNS over TLS on " + where(dot, d) +
                        " would share the port of the DNS listener " + where(plain, l));
      }
    }
  }
  std::shared_ptr<asio::ssl::context> tls;
  if (!cfg.dot_listen.empty()) tls = make_dot_tls(cfg.tls_cert, cfg.tls_key);
  for (unsigned t = 0; t < threads; ++t) {
    auto w = std::make_unique<Worker>(authority, snapshots, cfg, remote, signed_messages);
    for (const auto& l : cfg.listen) {
      const auto addr = listen_address(l);
      try {
        w->udp.push_back(std::make_unique<UdpListener>(*w, asio::ip::udp::endpoint(addr, l.port)));
        w->tcp.push_back(std::make_shared<TcpListener>(*w, asio::ip::tcp::endpoint(addr, l.port)));
      } catch (const std::system_error& e) {
        throw BindError("cannot listen for DNS on " + where(addr, l) + ": " + e.code().message());
      }
    }
    for (const auto& l : cfg.dot_listen) {
      const auto addr = listen_address(l);
      try {
        w->tcp.push_back(
            std::make_shared<TcpListener>(*w, asio::ip::tcp::endpoint(addr, l.port), tls));
      } catch (const std::system_error& e) {
        throw BindError("cannot listen for DNS over TLS on " + where(addr, l) + ": " +
                        e.code().message());
      }
    }
    impl_->workers.push_back(std::move(w));
  }
}

DnsServer::~DnsServer() { stop(); }

void DnsServer::start() {
  if (impl_->started) return;
  impl_->started = true;
  // Workers never handle signals; the main thread waits for them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  for (auto& w : impl_->workers) {
    for (auto& u : w->udp) u->start();
    for (auto& t : w->tcp) t->start();
    w->thread = std::thread([worker = w.get()] { worker->io.run(); });
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void DnsServer::stop() {
  if (!impl_) return;
  for (auto& w : impl_->workers) {
    asio::post(w->io, [worker = w.get()] {
      for (auto& u : worker->udp) u->close();
      for (auto& t : worker->tcp) t->close();
      worker->io.stop();
    });
  }
  for (auto& w : impl_->workers) {
    if (w->thread.joinable()) w->thread.join();
  }
}

ServerStats DnsServer::stats() const {
  ServerStats s;
  for (const auto& w : impl_->workers) {
    const auto& ws = w->stats;
    s.udp_queries += ws.udp_queries.load(std::memory_order_relaxed);
    s.tcp_queries += ws.tcp_queries.load(std::memory_order_relaxed);
    s.dropped += ws.dropped.load(std::memory_order_relaxed);
    s.truncated += ws.truncated.load(std::memory_order_relaxed);
    s.tcp_connections += ws.tcp_connections.load(std::memory_order_relaxed);
    s.remote_lookups += ws.remote_lookups.load(std::memory_order_relaxed);
    s.remote_waits += ws.remote_waits.load(std::memory_order_relaxed);
    s.remote_overflow += ws.remote_overflow.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < s.rcodes.size(); ++i) {
      s.rcodes[i] += ws.rcodes[i].load(std::memory_order_relaxed);
    }
    for (std::size_t i = 0; i < s.qtypes.size(); ++i) s.qtypes[i] += ws.qtypes[i].get();
    s.cache_hits += ws.cache_hits.get();
    s.cache_misses += ws.cache_misses.get();
    s.latency += ws.latency.data();
    s.rrl_slipped += ws.rrl_slipped.get();
    s.rrl_dropped += ws.rrl_dropped.get();
    for (std::size_t i = 0; i < s.cookies.size(); ++i) s.cookies[i] += ws.cookies[i].get();
    s.dot_queries += ws.dot_queries.load(std::memory_order_relaxed);
    s.dot_connections += ws.dot_connections.load(std::memory_order_relaxed);
    s.dot_handshake_failures += ws.dot_handshake_failures.get();
  }
  return s;
}

}  // namespace pweb::dns
