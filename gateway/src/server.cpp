#include "pweb/gateway/server.hpp"

#include <signal.h>

#include <asio.hpp>
#include <atomic>
#include <thread>
#include <unordered_map>

#include "pweb/metrics.hpp"

namespace pweb::gateway {
namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kMaxPendingOutput = 256 * 1024;

struct Shared {
  ServerConfig config;
  Resolve resolve;
  std::atomic<std::uint64_t> queries{0};
  std::size_t connections = 0;  // server thread only
  // Replies sent, written on the server thread only.
  metrics::LocalCounter found, failed;
  metrics::LocalCounter connections_accepted;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::io_context& io, asio::ip::tcp::socket socket, Shared& shared)
      : io_(io), socket_(std::move(socket)), shared_(shared), handshake_timer_(io) {
    ++shared_.connections;
    shared_.connections_accepted.inc();
  }
  ~Connection() { --shared_.connections; }

  void start() {
    asio::error_code ignored;
    socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
    handshake_timer_.expires_after(shared_.config.handshake_timeout);
    handshake_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec && !self->handshaken_) self->close();
    });
    read();
  }

 private:
  void read() {
    if (closed_) return;
    const std::size_t old = in_.size();
    in_.resize(old + kReadChunk);
    socket_.async_read_some(
        asio::buffer(in_.data() + old, kReadChunk),
        [self = shared_from_this(), old](const asio::error_code& ec, std::size_t n) {
          self->in_.resize(old + (ec ? 0 : n));
          if (ec) return self->close();
          self->consume();
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
      if (*v != kVersion && *v != kVersion2) {  // tell it the newest we speak, then part
        encode_version(out_, kVersion2);
        flush();
        closing_ = true;
        return;
      }
      version_ = *v;
      encode_version(out_, version_);
    }
    for (;;) {
      const auto d = decode(std::span(in_).subspan(pos));
      if (d.status == DecodeStatus::need_more) break;
      if (d.status == DecodeStatus::malformed || !std::holds_alternative<Query>(d.frame)) {
        return close();  // garbage, or a REPLY sent to a server
      }
      pos += d.consumed;
      const auto& q = std::get<Query>(d.frame);
      if (outstanding_.size() >= shared_.config.max_outstanding_per_connection ||
          outstanding_.count(q.serial) != 0) {
        return close();  // serials of outstanding queries must be unique
      }
      start_query(q);
    }
    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(pos));
    flush();
    if (out_.size() + writing_.size() < kMaxPendingOutput) read();
  }

  void start_query(const Query& q) {
    shared_.queries.fetch_add(1, std::memory_order_relaxed);
    const std::uint16_t serial = q.serial;
    outstanding_.emplace(serial, nullptr);
    // The resolver may answer on another thread: hop back onto ours.
    shared_.resolve(q.name, [weak = weak_from_this(), serial, &io = io_](Answer r) {
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
    // Only a query not answered at once needs a deadline.
    const auto it = outstanding_.find(serial);
    if (it == outstanding_.end() || closed_) return;
    it->second = std::make_shared<asio::steady_timer>(io_, shared_.config.query_deadline);
    it->second->async_wait([weak = weak_from_this(), serial](const asio::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        Answer late;
        late.serial = serial;
        late.status = AnswerStatus::failed;
        self->finish(serial, late);
      }
    });
  }

  void finish(std::uint16_t serial, Answer a) {
    const auto it = outstanding_.find(serial);
    if (it == outstanding_.end() || closed_) return;  // answered already (deadline or resolver)
    if (it->second) it->second->cancel();
    outstanding_.erase(it);
    // At most what the frame carries; a resolver bug must not close the connection.
    if (a.ipv4.size() > kMaxAnswerAddresses) a.ipv4.resize(kMaxAnswerAddresses);
    if (a.ipv6.size() > kMaxAnswerAddresses) a.ipv6.resize(kMaxAnswerAddresses);
    if (a.status != AnswerStatus::found) {
      a.ipv4.clear();
      a.ipv6.clear();
    }
    (a.status == AnswerStatus::found ? shared_.found : shared_.failed).inc();
    if (version_ == kVersion2) {
      encode(out_, a);
    } else {
      encode(out_, to_v1(a));
    }
    flush();
  }

  void flush() {
    if (writing_active_ || out_.empty() || closed_) return;
    writing_.swap(out_);
    out_.clear();
    writing_active_ = true;
    asio::async_write(socket_, asio::buffer(writing_),
                      [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
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
    for (auto& [serial, timer] : outstanding_) {
      if (timer) timer->cancel();
    }
    outstanding_.clear();
    handshake_timer_.cancel();
    asio::error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  asio::io_context& io_;
  asio::ip::tcp::socket socket_;
  Shared& shared_;
  asio::steady_timer handshake_timer_;
  std::vector<std::uint8_t> in_, out_, writing_;
  std::unordered_map<std::uint16_t, std::shared_ptr<asio::steady_timer>> outstanding_;
  bool handshaken_ = false, writing_active_ = false, closing_ = false, closed_ = false;
  std::uint16_t version_ = kVersion;
};

}  // namespace

struct GatewayServer::Impl {
  Impl(ServerConfig c, Resolve r) : acceptor(io) {
    shared.config = std::move(c);
    shared.resolve = std::move(r);
  }
  void accept() {
    acceptor.async_accept([this](const asio::error_code& ec, asio::ip::tcp::socket s) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec && shared.connections < shared.config.max_connections) {
        std::make_shared<Connection>(io, std::move(s), shared)->start();
      }
      accept();
    });
  }

  asio::io_context io{1};
  Shared shared;
  asio::ip::tcp::acceptor acceptor;
  std::thread thread;
};

GatewayServer::GatewayServer(ServerConfig config, Resolve resolve)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(resolve))) {
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
  ServerStats s;
  s.queries = impl_->shared.queries.load(std::memory_order_relaxed);
  s.found = impl_->shared.found.get();
  s.failed = impl_->shared.failed.get();
  s.connections = impl_->shared.connections_accepted.get();
  return s;
}

std::uint64_t GatewayServer::queries() const noexcept {
  return impl_->shared.queries.load(std::memory_order_relaxed);
}

}  // namespace pweb::gateway
