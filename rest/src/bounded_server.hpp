#pragma once
// cpp-httplib servers (plain and TLS) whose connections are served through a
// BoundedStream, with at most N connections per client address. They replace
// cpp-httplib's own connection loop (process_and_close_socket) and keep its
// parser and routing (process_request).
#include <httplib.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "bounded_stream.hpp"
#include "h2_types.hpp"
#include "pweb/lock_guarded.hpp"
#include "pweb/metrics.hpp"

namespace pweb::rest {

// Connections held per client address; 0 = no limit.
class ClientSlots {
 public:
  explicit ClientSlots(std::size_t per_client) : per_client_(per_client) {}

  class Slot {
   public:
    Slot(ClientSlots& owner, std::string address) : owner_(&owner), address_(std::move(address)) {}
    Slot(Slot&& other) noexcept
        : owner_(std::exchange(other.owner_, nullptr)), address_(std::move(other.address_)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    ClientSlots* owner_;
    std::string address_;
  };

  // A slot for `address`, or nothing when it holds its limit already.
  std::optional<Slot> acquire(const std::string& address);
  std::size_t held(const std::string& address);
  std::size_t per_client() const noexcept { return per_client_; }

 private:
  void release(const std::string& address);

  std::size_t per_client_;
  LockGuarded<std::unordered_map<std::string, std::size_t>> held_;
};

// Requests and connections refused by a limit, for /metrics.
struct LimitCounters {
  metrics::SharedCounter head_too_large;
  metrics::SharedCounter body_too_large;
  metrics::SharedCounter too_slow;
  metrics::SharedCounter bad_framing;
  metrics::SharedCounter client_connections;

  void count(LimitHit hit) noexcept;
  void write(metrics::TextWriter& w) const;
};

struct ConnectionPolicy {
  RequestLimits limits;
  std::size_t max_connections_per_client = 64;
};

// The connection loop both servers share: admit by client address, then
// serve requests through a BoundedStream until the connection ends.
class ConnectionRunner {
 public:
  using Handle = std::function<bool(httplib::Stream&, bool close_connection, bool& closed)>;

  explicit ConnectionRunner(const ConnectionPolicy& policy)
      : limits_(policy.limits), slots_(policy.max_connections_per_client) {}

  // A slot for the peer of `fd`; without one, a plain connection is answered
  // 503 (a TLS one just closed) and nothing is returned.
  std::optional<ClientSlots::Slot> admit(int fd, bool plain);
  // Serves up to `max_requests` requests; `stopping` says the server is stopping.
  bool serve(int fd, SSL* ssl, std::size_t max_requests, const std::function<bool()>& stopping,
             const Handle& handle);
  const RequestLimits& limits() const noexcept { return limits_; }
  const LimitCounters& counters() const noexcept { return counters_; }
  LimitCounters& counters() noexcept { return counters_; }

 private:
  RequestLimits limits_;
  ClientSlots slots_;
  LimitCounters counters_;
};

// Listen backlog. Debian's cpp-httplib is a compiled library that listens with
// a backlog of 5: a burst of connections (updaters on the hour, a crawler, a
// slowloris being refused) overflows it, the kernel drops the handshake's last
// ACK, and the node sees the connection only at the SYN-ACK retransmit, 1-7 s
// later. The kernel caps it at net.core.somaxconn.
constexpr int kListenBacklog = 1024;

// What HttpServer needs of either bounded server beyond httplib::Server.
class BoundedListener {
 public:
  virtual ~BoundedListener() = default;
  // bind_to_port, then listen with kListenBacklog.
  virtual bool bind_listener(const std::string& host, int port) = 0;
  virtual const LimitCounters& limit_counters() const noexcept = 0;
  // Serves HTTP/2 with `handler` to TLS clients that choose it by ALPN; a plain
  // listener ignores it (no cleartext HTTP/2).
  virtual void serve_h2_with(H2Handler handler, const H2Limits& limits) = 0;
};

class BoundedServer final : public httplib::Server, public BoundedListener {
 public:
  explicit BoundedServer(const ConnectionPolicy& policy) : runner_(policy) {}
  bool bind_listener(const std::string& host, int port) override;
  const LimitCounters& limit_counters() const noexcept override { return runner_.counters(); }
  void serve_h2_with(H2Handler, const H2Limits&) override {}

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionRunner runner_;
};

class BoundedTlsServer final : public httplib::SSLServer, public BoundedListener {
 public:
  BoundedTlsServer(const std::string& cert, const std::string& key, const ConnectionPolicy& policy)
      : httplib::SSLServer(cert.c_str(), key.c_str()), runner_(policy) {}
  bool bind_listener(const std::string& host, int port) override;
  const LimitCounters& limit_counters() const noexcept override { return runner_.counters(); }
  void serve_h2_with(H2Handler handler, const H2Limits& limits) override;

 private:
  bool process_and_close_socket(socket_t sock) override;

  ConnectionRunner runner_;
  H2Handler h2_handler_;  // empty: HTTP/1.1 only
  H2Limits h2_limits_;
};

}  // namespace pweb::rest
