#include "pweb/gateway/server.hpp"

#include <signal.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "pweb/gateway/tls.hpp"
#include "pweb/metrics.hpp"

namespace pweb::gateway {
namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kMaxPendingOutput = 256 * 1024;
constexpr std::uint8_t kTlsHandshakeRecord = 0x16;

using Tcp = asio::ip::tcp::socket;
using Tls = asio::ssl::stream<Tcp>;
using Clock = std::chrono::steady_clock;

struct Shared {
  ServerConfig config;
  Resolve resolve;
  Resolve3 resolve3;  // null: no v3
  std::atomic<std::uint64_t> queries{0};
  std::array<metrics::LocalCounter, 3> by_version;  // QUERY on v1, on v2 (or v3), QUERY3
  std::size_t connections = 0;                      // server thread only
  std::unordered_map<asio::ip::address, std::size_t> per_client;  // server thread only
  // Written on the server thread only.
  metrics::LocalCounter found, failed;
  metrics::LocalCounter connections_accepted, tls_connections;
  metrics::LocalCounter refused_client_limit, refused_total_limit;
  metrics::LocalCounter handshake_timeouts, idle_closed, tls_failed;
};

// One connection's claim on its client address's share; released when the
// last owner (sniffer, TLS handshake, connection) lets go.
class Slot {
 public:
  Slot(Shared& shared, asio::ip::address addr) : shared_(shared), addr_(std::move(addr)) {
    ++shared_.connections;
    ++shared_.per_client[addr_];
  }
  ~Slot() {
    --shared_.connections;
    const auto it = shared_.per_client.find(addr_);
    if (it != shared_.per_client.end() && --it->second == 0) shared_.per_client.erase(it);
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  Shared& shared_;
  asio::ip::address addr_;
};

Tcp& tcp_of(Tcp& s) { return s; }
Tcp& tcp_of(Tls& s) { return s.next_layer(); }

// The protocol over one stream, plain or TLS.
template <class Stream>
class Connection : public std::enable_shared_from_this<Connection<Stream>> {
 public:
  Connection(asio::io_context& io, Stream stream, Shared& shared, std::shared_ptr<Slot> slot,
             Clock::time_point handshake_deadline)
      : io_(io),
        stream_(std::move(stream)),
        shared_(shared),
        slot_(std::move(slot)),
        handshake_timer_(io, handshake_deadline),
        idle_timer_(io) {}

  void start() {
    handshake_timer_.async_wait([self = this->shared_from_this()](const asio::error_code& ec) {
      if (!ec && !self->handshaken_) {
        self->shared_.handshake_timeouts.inc();
        self->close();
      }
    });
    read();
  }

 private:
  void read() {
    if (closed_) return;
    if constexpr (std::is_same_v<Stream, Tls>) {
      // Records TLS has already received are taken at once: Asio's SSL
      // stream would complete each through another round of the scheduler.
      if (handshaken_ && sync_reads_ < 16 &&
          read_buffered(stream_.native_handle(), in_, kReadChunk) > 0) {
        ++sync_reads_;
        last_input_ = Clock::now();
        return consume();
      }
      sync_reads_ = 0;
    }
    const std::size_t old = in_.size();
    in_.resize(old + kReadChunk);
    stream_.async_read_some(
        asio::buffer(in_.data() + old, kReadChunk),
        [self = this->shared_from_this(), old](const asio::error_code& ec, std::size_t n) {
          self->in_.resize(old + (ec ? 0 : n));
          if (ec) return self->close();
          self->last_input_ = Clock::now();
          self->consume();
        });
  }

  // Idle: nothing in flight and nothing received for idle_timeout. Checked
  // when the timer fires rather than re-armed on every read.
  void arm_idle(Clock::duration after) {
    idle_timer_.expires_after(after);
    idle_timer_.async_wait([self = this->shared_from_this()](const asio::error_code& ec) {
      if (ec || self->closed_) return;
      const auto quiet = Clock::now() - self->last_input_;
      const auto limit = self->shared_.config.idle_timeout;
      if (quiet >= limit && self->outstanding_.empty()) {
        self->shared_.idle_closed.inc();
        return self->close();
      }
      self->arm_idle(quiet >= limit ? Clock::duration(limit) : limit - quiet);
    });
  }

  void consume() {
    std::size_t pos = 0;
    if (!handshaken_) {
      const auto v = decode_version(in_);
      if (!v) return read();
      pos = 2;
      handshaken_ = true;
      handshake_timer_.cancel();
      const std::uint16_t newest = shared_.resolve3 ? kVersion3 : kVersion2;
      if (*v < kVersion || *v > newest) {  // tell it the newest we speak, then part
        encode_version(out_, newest);
        flush();
        closing_ = true;
        return;
      }
      version_ = *v;
      encode_version(out_, version_);
      if (shared_.config.idle_timeout.count() > 0) arm_idle(shared_.config.idle_timeout);
    }
    for (;;) {
      const auto d = decode(std::span(in_).subspan(pos));
      if (d.status == DecodeStatus::need_more) break;
      const auto* q = std::get_if<Query>(&d.frame);
      const auto* q3 = std::get_if<Query3>(&d.frame);
      if (d.status == DecodeStatus::malformed || (!q && !q3) || (q3 && version_ != kVersion3)) {
        return close();  // garbage, a reply sent to a server, or QUERY3 before v3
      }
      pos += d.consumed;
      const std::uint16_t serial = q ? q->serial : q3->serial;
      if (outstanding_.size() >= shared_.config.max_outstanding_per_connection ||
          outstanding_.count(serial) != 0) {
        return close();  // serials of outstanding queries must be unique
      }
      in_consume_ = true;
      if (q) {
        start_query(*q);
      } else {
        start_query3(*q3);
      }
      in_consume_ = false;
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(pos));
    flush();
    if (out_.size() + writing_.size() < kMaxPendingOutput) read();
  }

  void start_query(const Query& q) {
    shared_.queries.fetch_add(1, std::memory_order_relaxed);
    shared_.by_version[version_ == kVersion ? 0 : 1].inc();
    const std::uint16_t serial = q.serial;
    outstanding_.emplace(serial, Pending{});
    // The resolver may answer on another thread: hop back onto ours.
    shared_.resolve(q.name, [weak = this->weak_from_this(), serial, &io = io_](Answer r) {
      if (io.get_executor().running_in_this_thread()) {  // answered at once
        if (auto self = weak.lock()) {
          r.serial = serial;
          self->finish(serial, r);
        }
        return;
      }
      asio::post(io, [weak, serial, r]() mutable {
        if (auto self = weak.lock()) {
          r.serial = serial;
          self->finish(serial, r);
        }
      });
    });
    arm_deadline(serial);
  }

  void start_query3(const Query3& q) {
    shared_.queries.fetch_add(1, std::memory_order_relaxed);
    shared_.by_version[2].inc();
    const std::uint16_t serial = q.serial;
    outstanding_.emplace(serial, Pending{nullptr, true});
    shared_.resolve3(q.name, q.qtype,
                     [weak = this->weak_from_this(), serial, &io = io_](Answer3 r) {
                       if (io.get_executor().running_in_this_thread()) {  // answered at once
                         if (auto self = weak.lock()) self->finish3(serial, std::move(r));
                         return;
                       }
                       asio::post(io, [weak, serial, r = std::move(r)]() mutable {
                         if (auto self = weak.lock()) self->finish3(serial, std::move(r));
                       });
                     });
    arm_deadline(serial);
  }

  // Only a query not answered at once needs a deadline.
  void arm_deadline(std::uint16_t serial) {
    const auto it = outstanding_.find(serial);
    if (it == outstanding_.end() || closed_) return;
    auto& timer = it->second.timer;
    timer = std::make_shared<asio::steady_timer>(io_, shared_.config.query_deadline);
    timer->async_wait([weak = this->weak_from_this(), serial](const asio::error_code& ec) {
      if (ec) return;
      auto self = weak.lock();
      if (!self) return;
      const auto found = self->outstanding_.find(serial);
      if (found != self->outstanding_.end() && found->second.v3) {
        Answer3 late;
        late.status = Answer3Status::failed;
        return self->finish3(serial, std::move(late));
      }
      Answer late;
      late.serial = serial;
      late.status = AnswerStatus::failed;
      self->finish(serial, late);
    });
  }

  // Takes the query off the outstanding ones; false if it was not (answered
  // already, by the deadline or the resolver, or asked as the other version).
  bool settle(std::uint16_t serial, bool v3) {
    const auto it = outstanding_.find(serial);
    if (it == outstanding_.end() || closed_ || it->second.v3 != v3) return false;
    if (it->second.timer) it->second.timer->cancel();
    outstanding_.erase(it);
    return true;
  }

  void finish3(std::uint16_t serial, Answer3 a) {
    if (!settle(serial, true)) return;
    a.serial = serial;
    if (a.status != Answer3Status::found) a.rrsets.clear();
    if (a.rrsets.size() > kMaxAnswerRRsets) a.rrsets.resize(kMaxAnswerRRsets);
    for (auto& set : a.rrsets) set.subname.clear();
    // Too large for the frame (or a resolver bug): "failed", not a closed connection.
    if (!encode(out_, a)) {
      Answer3 failed;
      failed.serial = serial;
      failed.status = Answer3Status::failed;
      encode(out_, failed);
      a.status = Answer3Status::failed;
    }
    (a.status == Answer3Status::found ? shared_.found : shared_.failed).inc();
    if (in_consume_) return;
    flush_soon();
  }

  void finish(std::uint16_t serial, Answer a) {
    if (!settle(serial, false)) return;
    // At most what the frame carries; a resolver bug must not close the connection.
    if (a.ipv4.size() > kMaxAnswerAddresses) a.ipv4.resize(kMaxAnswerAddresses);
    if (a.ipv6.size() > kMaxAnswerAddresses) a.ipv6.resize(kMaxAnswerAddresses);
    if (a.status != AnswerStatus::found) {
      a.ipv4.clear();
      a.ipv6.clear();
    }
    (a.status == AnswerStatus::found ? shared_.found : shared_.failed).inc();
    if (version_ >= kVersion2) {
      encode(out_, a);
    } else {
      encode(out_, to_v1(a));
    }
    if (in_consume_) return;  // consume() flushes once for all it answered at once
    flush_soon();
  }

  // Answers that arrive from the resolver while the io_context runs other
  // handlers go out together: one write (one TLS record) instead of one each.
  void flush_soon() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(io_, [self = this->shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }

  void flush() {
    if (writing_active_ || out_.empty() || closed_) return;
    writing_.swap(out_);
    out_.clear();
    writing_active_ = true;
    asio::async_write(stream_, asio::buffer(writing_),
                      [self = this->shared_from_this()](const asio::error_code& ec, std::size_t) {
                        self->writing_active_ = false;
                        self->writing_.clear();
                        if (ec) return self->close();
                        if (self->closing_ && self->out_.empty()) return self->close();
                        self->flush();
                      });
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    for (auto& [serial, pending] : outstanding_) {
      if (pending.timer) pending.timer->cancel();
    }
    outstanding_.clear();
    handshake_timer_.cancel();
    idle_timer_.cancel();
    asio::error_code ignored;
    tcp_of(stream_).shutdown(Tcp::shutdown_both, ignored);
    tcp_of(stream_).close(ignored);
  }

  asio::io_context& io_;
  Stream stream_;
  Shared& shared_;
  std::shared_ptr<Slot> slot_;
  asio::steady_timer handshake_timer_, idle_timer_;
  Clock::time_point last_input_ = Clock::now();
  std::vector<std::uint8_t> in_, out_, writing_;
  struct Pending {
    std::shared_ptr<asio::steady_timer> timer;  // null while answered at once
    bool v3 = false;                            // QUERY3: answered with ANSWER3
  };
  std::unordered_map<std::uint16_t, Pending> outstanding_;
  bool handshaken_ = false, writing_active_ = false, closing_ = false, closed_ = false;
  bool flush_posted_ = false, in_consume_ = false;
  int sync_reads_ = 0;  // records taken without an asynchronous read, in a row
  std::uint16_t version_ = kVersion;
};

// A new connection before we know what it speaks: its first byte says TLS
// (a handshake record) or plain (a version's high byte). Peeked, not read.
class Opening : public std::enable_shared_from_this<Opening> {
 public:
  Opening(asio::io_context& io, Tcp socket, Shared& shared, std::shared_ptr<Slot> slot)
      : io_(io),
        socket_(std::move(socket)),
        shared_(shared),
        slot_(std::move(slot)),
        deadline_(Clock::now() + shared.config.handshake_timeout),
        timer_(io, deadline_) {}

  void start() {
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (ec || self->done_) return;
      self->shared_.handshake_timeouts.inc();
      asio::error_code ignore;
      self->tcp().close(ignore);  // the pending peek or handshake fails next
    });
    socket_.async_receive(asio::buffer(first_), Tcp::message_peek,
                          [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                            if (ec || n == 0) return self->give_up();
                            self->sniffed();
                          });
  }

 private:
  Tcp& tcp() { return tls_ ? tls_->next_layer() : socket_; }

  void sniffed() {
    if (first_[0] != kTlsHandshakeRecord || !shared_.config.tls) {
      done_ = true;
      timer_.cancel();
      // Whatever it is, the version handshake judges it (garbage is closed).
      std::make_shared<Connection<Tcp>>(io_, std::move(socket_), shared_, std::move(slot_),
                                        deadline_)
          ->start();
      return;
    }
    tls_ = std::make_unique<Tls>(std::move(socket_), *shared_.config.tls);
    tls_->async_handshake(
        asio::ssl::stream_base::server, [self = shared_from_this()](const asio::error_code& ec) {
          if (ec) {
            if (!self->timer_expired()) self->shared_.tls_failed.inc();
            return self->give_up();
          }
          self->done_ = true;
          self->timer_.cancel();
          self->shared_.tls_connections.inc();
          std::make_shared<Connection<Tls>>(self->io_, std::move(*self->tls_), self->shared_,
                                            std::move(self->slot_), self->deadline_)
              ->start();
        });
  }

  bool timer_expired() const { return Clock::now() >= deadline_; }

  void give_up() {
    done_ = true;
    timer_.cancel();
    asio::error_code ignored;
    tcp().close(ignored);
  }

  asio::io_context& io_;
  Tcp socket_;
  std::unique_ptr<Tls> tls_;
  Shared& shared_;
  std::shared_ptr<Slot> slot_;
  Clock::time_point deadline_;
  asio::steady_timer timer_;
  std::array<std::uint8_t, 1> first_{};
  bool done_ = false;
};

}  // namespace

struct GatewayServer::Impl {
  Impl(ServerConfig c, Resolve r, Resolve3 r3) : io(1), acceptor(io) {
    shared.config = std::move(c);
    shared.resolve = std::move(r);
    shared.resolve3 = std::move(r3);
  }
  void accept() {
    acceptor.async_accept([this](const asio::error_code& ec, Tcp s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) admit(std::move(s));
      accept();
    });
  }

  void admit(Tcp s) {
    asio::error_code err;
    const auto peer = s.remote_endpoint(err);
    if (err) return;
    const auto& c = shared.config;
    if (shared.connections >= c.max_connections) {
      shared.refused_total_limit.inc();
      return;  // closed by the socket's destructor
    }
    if (c.max_per_client > 0) {
      const auto it = shared.per_client.find(peer.address());
      if (it != shared.per_client.end() && it->second >= c.max_per_client) {
        shared.refused_client_limit.inc();
        return;
      }
    }
    shared.connections_accepted.inc();
    auto slot = std::make_shared<Slot>(shared, peer.address());
    std::make_shared<Opening>(io, std::move(s), shared, std::move(slot))->start();
  }

  // Before io: connections left in the io_context at stop release their
  // slots into `shared` when io is destroyed.
  Shared shared;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor;
  std::thread thread;
};

GatewayServer::GatewayServer(ServerConfig config, Resolve resolve, Resolve3 resolve3)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(resolve), std::move(resolve3))) {
  const auto& c = impl_->shared.config;
  asio::error_code ec;
  const auto addr = asio::ip::make_address(c.host, ec);
  if (ec) throw ServerError("gateway listen address '" + c.host + "' is not an IP address");
  try {
    const asio::ip::tcp::endpoint ep(addr, c.port);
    impl_->acceptor.open(ep.protocol());
    impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
    impl_->acceptor.bind(ep);
    impl_->acceptor.listen();
  } catch (const std::system_error& e) {
    throw ServerError("cannot listen for the gateway protocol on " + c.host + ":" +
                      std::to_string(c.port) + ": " + e.code().message());
  }
}

GatewayServer::~GatewayServer() { stop(); }

void GatewayServer::start() {
  impl_->accept();
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  impl_->thread = std::thread([this] { impl_->io.run(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void GatewayServer::stop() {
  if (!impl_ || !impl_->thread.joinable()) return;
  asio::post(impl_->io, [this] {
    asio::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->io.stop();
  });
  impl_->thread.join();
}

std::uint16_t GatewayServer::port() const noexcept {
  return impl_->acceptor.local_endpoint().port();
}

ServerStats GatewayServer::stats() const noexcept {
  const auto& sh = impl_->shared;
  ServerStats s;
  s.queries = sh.queries.load(std::memory_order_relaxed);
  s.found = sh.found.get();
  s.failed = sh.failed.get();
  for (std::size_t i = 0; i < s.queries_by_version.size(); ++i) {
    s.queries_by_version[i] = sh.by_version[i].get();
  }
  s.connections = sh.connections_accepted.get();
  s.tls_connections = sh.tls_connections.get();
  s.refused_client_limit = sh.refused_client_limit.get();
  s.refused_total_limit = sh.refused_total_limit.get();
  s.handshake_timeouts = sh.handshake_timeouts.get();
  s.idle_closed = sh.idle_closed.get();
  s.tls_failed = sh.tls_failed.get();
  return s;
}

std::uint64_t GatewayServer::queries() const noexcept {
  return impl_->shared.queries.load(std::memory_order_relaxed);
}

}  // namespace pweb::gateway
