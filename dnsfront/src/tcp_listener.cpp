#include "tcp_listener.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <asio/ssl/stream.hpp>
#include <cstring>
#include <deque>
#include <type_traits>

#include "pweb/dns/tcp_framer.hpp"

namespace pweb::dns {
namespace {

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

constexpr std::size_t kReadChunk = 4096;
// Stop reading while this much is waiting to be written: a client that sends
// without reading cannot make us buffer without bound.
constexpr std::size_t kMaxPendingOutput = 256 * 1024;
constexpr std::size_t kMaxTcpResponse = 65535;
constexpr std::uint64_t kMaxSignedInFlight = 1024;  // per worker, UPDATEs waiting for the writer
constexpr int kMaxBufferedReads = 16;  // TLS reads of buffered records per wakeup (64 KiB)

// One client connection over `Stream`: a TCP socket, or TLS over one (DoT).
// Queries are the same either way (Transport::tcp); only the counters differ.
template <typename Stream>
class StreamConnection : public std::enable_shared_from_this<StreamConnection<Stream>> {
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

 public:
  // `args`: the socket, and for TLS the context.
  template <typename... Args>
  StreamConnection(Worker& worker, Args&&... args)
      : worker_(worker), socket_(std::forward<Args>(args)...), idle_(worker.io) {
    ++open_connections();
  }
  ~StreamConnection() { --open_connections(); }
  StreamConnection(const StreamConnection&) = delete;
  StreamConnection& operator=(const StreamConnection&) = delete;

  void start() {
    asio::error_code ignored;
    socket_.lowest_layer().set_option(asio::ip::tcp::no_delay(true), ignored);
    // The client's address: for the query log, and for tokens limited to subnets.
    if (worker_.config.query_log || worker_.signed_messages) {
      asio::error_code ec;
      const auto ep = socket_.lowest_layer().remote_endpoint(ec);
      if (!ec) {
        std::memcpy(&peer_, ep.data(), ep.size());
        peer_size_ = static_cast<socklen_t>(ep.size());
      }
    }
    if constexpr (kTls) {
      // The handshake's deadline: a client that stalls in it holds a
      // connection slot no longer than this.
      arm_timer(worker_.config.tls_handshake_timeout);
      socket_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](const asio::error_code& ec) {
                                if (ec || self->closed_) {
                                  self->worker_.stats.dot_handshake_failures.inc();
                                  self->close();
                                  return;
                                }
                                self->arm_timer(self->worker_.config.tcp_idle_timeout);
                                self->read();
                              });
    } else {
      arm_timer(worker_.config.tcp_idle_timeout);
      read();
    }
  }

 private:
  std::size_t& open_connections() noexcept {
    return kTls ? worker_.open_dot_connections : worker_.open_tcp_connections;
  }

  void arm_timer(std::chrono::milliseconds after) {
    idle_.expires_after(after);
    idle_.async_wait([self = this->shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->close();
    });
  }
  void arm_idle_timer() { arm_timer(worker_.config.tcp_idle_timeout); }

  void close() {
    closed_ = true;
    asio::error_code ignored;
    idle_.cancel();
    // Over TLS too: no close_notify, which would wait on a client that may
    // not read (RFC 7858 needs none; the client sees the TCP close).
    socket_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.lowest_layer().close(ignored);
  }

  void read() {
    reading_ = true;
    auto buf = framer_.prepare(kReadChunk);
    socket_.async_read_some(
        asio::buffer(buf.data(), buf.size()),
        [self = this->shared_from_this()](const asio::error_code& ec, std::size_t n) {
          self->on_read(ec, n);
        });
  }

  void on_read(const asio::error_code& ec, std::size_t n) {
    reading_ = false;
    if (ec) {
      close_after_writes_ = true;
      if (!writing_ && awaiting_ == 0) close();
      return;
    }
    framer_.commit(n);
    if constexpr (kTls) take_buffered_records();
    arm_idle_timer();
    const auto& snapshot = worker_.snapshots.get();
    const RemoteContext remote = worker_.remote_context();
    const auto started = Worker::Clock::now();
    const ClientInfo client = client_info(peer_size_ ? sockaddr_ptr() : nullptr, peer_size_);
    while (auto msg = framer_.next()) {
      const Processed p = process_query(*msg, worker_.tcp_scratch, Transport::tcp,
                                        worker_.authority, snapshot, remote, client);
      if (p.special && worker_.signed_messages) {
        hand_over(*msg, p, started);
        continue;
      }
      if (p.pending) {
        worker_.stats.cache_misses.inc();
        defer(*msg, p.pending_key, started);
        continue;
      }
      append(*msg, p, started);
    }
    flush();
    if (pending_.size() + in_flight_.size() < kMaxPendingOutput) read();
  }

  // Queries TLS has already received and decrypted (or holds as records) are
  // taken now, without another trip through Asio's TLS stream and the
  // scheduler, so that their answers leave together in one record and write.
  // A read from the native handle like the gateway's (pweb/gateway/tls.hpp):
  // no system call beyond what OpenSSL's buffers hold.
  void take_buffered_records() {
    for (int i = 0; i < kMaxBufferedReads; ++i) {
      auto buf = framer_.prepare(kReadChunk);
      ERR_clear_error();
      const int got = SSL_read(socket_.native_handle(), buf.data(), static_cast<int>(buf.size()));
      if (got <= 0) {
        ERR_clear_error();  // want-read, or an error the next asynchronous read reports
        return;
      }
      framer_.commit(static_cast<std::size_t>(got));
    }
  }

  void append(std::span<const std::uint8_t> msg, const Processed& p,
              Worker::Clock::time_point started) {
    worker_.finish(msg, p, Transport::tcp, started, peer_size_ ? sockaddr_ptr() : nullptr,
                   peer_size_, kTls);
    if (p.response.size == 0) return;
    const auto& scratch = worker_.tcp_scratch;
    pending_.push_back(static_cast<std::uint8_t>(p.response.size >> 8));
    pending_.push_back(static_cast<std::uint8_t>(p.response.size));
    pending_.insert(pending_.end(), scratch.begin(),
                    scratch.begin() + static_cast<std::ptrdiff_t>(p.response.size));
  }

  // An UPDATE or a signed query: answered by the handler, perhaps after later
  // queries on this connection.
  void hand_over(std::span<const std::uint8_t> msg, const Processed& p,
                 Worker::Clock::time_point started) {
    // Bounded like UDP: past the limit the connection is closed (the client retries).
    if (worker_.signed_in_flight.load(std::memory_order_relaxed) >= kMaxSignedInFlight) {
      WorkerStats::bump(kTls ? worker_.stats.dot_queries : worker_.stats.tcp_queries);
      WorkerStats::bump(worker_.stats.dropped);
      close_after_writes_ = true;
      return;
    }
    worker_.signed_in_flight.fetch_add(1, std::memory_order_relaxed);
    ++awaiting_;
    const std::uint16_t qtype = p.qtype;
    worker_.signed_messages->handle(
        std::vector<std::uint8_t>(msg.begin(), msg.end()), Transport::tcp,
        peer_size_ ? peer_ip(sockaddr_ptr(), peer_size_) : std::string(), kMaxTcpResponse,
        [self = this->shared_from_this(), gate = worker_.gate, qtype,
         started](std::vector<std::uint8_t> response) {
          gate->post([self, qtype, started, response = std::move(response)] {
            --self->awaiting_;
            self->worker_.signed_in_flight.fetch_sub(1, std::memory_order_relaxed);
            Processed done;
            done.qtype = qtype;
            done.response.size = response.size();
            done.response.rcode =
                response.size() >= 4 ? static_cast<Rcode>(response[3] & 0xF) : Rcode::noerror;
            self->worker_.stats.count(done, Transport::tcp, kTls);
            if (!self->closed_ && !response.empty()) {
              self->pending_.push_back(static_cast<std::uint8_t>(response.size() >> 8));
              self->pending_.push_back(static_cast<std::uint8_t>(response.size()));
              self->pending_.insert(self->pending_.end(), response.begin(), response.end());
              self->worker_.stats.latency.observe(Worker::Clock::now() - started);
              self->flush();
            }
            if (self->close_after_writes_ && !self->writing_ && self->awaiting_ == 0) {
              self->close();
            }
          });
        });
  }

  // Another agent's name: answered when the resolver has it, perhaps after
  // later queries on this connection (RFC 7766 allows any order).
  void defer(std::span<const std::uint8_t> msg, const std::string& key,
             Worker::Clock::time_point started) {
    std::vector<std::uint8_t> copy(msg.begin(), msg.end());
    const bool queued =
        worker_.await_remote(key, [self = this->shared_from_this(), copy = std::move(copy),
                                   started](const RemoteAnswer& answer) {
          --self->awaiting_;
          if (self->closed_) return;
          RemoteContext remote = self->worker_.remote_context();
          remote.resolved = &answer;
          self->append(copy,
                       process_query(copy, self->worker_.tcp_scratch, Transport::tcp,
                                     self->worker_.authority, self->worker_.snapshots.get(), remote,
                                     client_info(self->peer_size_ ? self->sockaddr_ptr() : nullptr,
                                                 self->peer_size_)),
                       started);
          self->flush();
          if (self->close_after_writes_ && !self->writing_ && self->awaiting_ == 0) self->close();
        });
    if (queued) {
      ++awaiting_;
    } else {
      WorkerStats::bump(kTls ? worker_.stats.dot_queries : worker_.stats.tcp_queries);
      WorkerStats::bump(worker_.stats.dropped);
    }
  }

  void flush() {
    if (writing_ || pending_.empty()) return;
    in_flight_.swap(pending_);
    pending_.clear();
    writing_ = true;
    asio::async_write(socket_, asio::buffer(in_flight_),
                      [self = this->shared_from_this()](const asio::error_code& ec, std::size_t) {
                        self->on_written(ec);
                      });
  }

  void on_written(const asio::error_code& ec) {
    writing_ = false;
    in_flight_.clear();
    if (ec) {
      close();
      return;
    }
    if (close_after_writes_ && pending_.empty() && awaiting_ == 0) {
      close();
      return;
    }
    flush();
    if (!reading_ && !close_after_writes_ &&
        pending_.size() + in_flight_.size() < kMaxPendingOutput) {
      read();
    }
  }

  Worker& worker_;
  Stream socket_;
  asio::steady_timer idle_;  // the idle timeout; for TLS first the handshake's deadline
  TcpFramer framer_;
  std::vector<std::uint8_t> pending_;
  std::vector<std::uint8_t> in_flight_;
  bool reading_ = false;
  bool writing_ = false;
  bool close_after_writes_ = false;
  bool closed_ = false;
  std::size_t awaiting_ = 0;  // queries waiting for another agent's answer
  // The client's address, kept only for the query log.
  sockaddr_storage peer_{};
  socklen_t peer_size_ = 0;
  [[nodiscard]] const sockaddr* sockaddr_ptr() const noexcept {
    return reinterpret_cast<const sockaddr*>(&peer_);
  }
};

}  // namespace

TcpListener::TcpListener(Worker& worker, const asio::ip::tcp::endpoint& endpoint,
                         std::shared_ptr<asio::ssl::context> tls)
    : worker_(worker), acceptor_(worker.io), tls_(std::move(tls)) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.set_option(ReusePort(true));
  if (endpoint.address().is_v6()) acceptor_.set_option(asio::ip::v6_only(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(asio::socket_base::max_listen_connections);
}

void TcpListener::start() { accept(); }

void TcpListener::close() {
  asio::error_code ignored;
  acceptor_.close(ignored);
}

void TcpListener::accept() {
  acceptor_.async_accept(
      [self = shared_from_this()](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (!ec) self->serve(std::move(socket));
        self->accept();
      });
}

void TcpListener::serve(asio::ip::tcp::socket socket) {
  const std::size_t limit = worker_.config.max_tcp_connections_per_thread;
  // Over the limit the socket closes as it goes out of scope.
  if (tls_) {
    WorkerStats::bump(worker_.stats.dot_connections);
    if (worker_.open_dot_connections >= limit) return;
    std::make_shared<StreamConnection<TlsStream>>(worker_, std::move(socket), *tls_)->start();
  } else {
    WorkerStats::bump(worker_.stats.tcp_connections);
    if (worker_.open_tcp_connections >= limit) return;
    std::make_shared<StreamConnection<asio::ip::tcp::socket>>(worker_, std::move(socket))->start();
  }
}

}  // namespace pweb::dns
