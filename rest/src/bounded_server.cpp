#include "bounded_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>

#include "h2_connection.hpp"

namespace pweb::rest {
namespace {

using Clock = BoundedStream::Clock;

// How long and how much a refused client may go on sending before the close.
constexpr std::chrono::milliseconds kRefusalDrain{2000};
constexpr std::size_t kRefusalDrainBytes = 16 * 1024 * 1024;

// Non-blocking (every wait is a poll with a deadline) and no Nagle: an answer
// goes out as a head and a body write, which must not wait for a delayed ACK.
void prepare_socket(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags >= 0) ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// After an answer that ends the connection early: stop sending, then read and
// drop what the client is still sending, for a bounded time and amount. Closing
// with its data unread would reset the connection, and a reset makes the
// client's kernel drop our answer before the client reads it.
void drain_then_close_input(int fd, std::chrono::milliseconds at_most, std::size_t max_bytes) {
  ::shutdown(fd, SHUT_WR);
  const auto until = Clock::now() + at_most;
  std::array<char, 16 * 1024> sink{};
  std::size_t drained = 0;
  while (drained < max_bytes && Clock::now() < until && wait_io(fd, POLLIN, until)) {
    const ssize_t n = ::recv(fd, sink.data(), sink.size(), MSG_DONTWAIT);
    if (n == 0) break;  // the client closed: all read
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
      break;
    }
    drained += static_cast<std::size_t>(n);
  }
}

// 503 to a client over its connection limit.
void answer_busy(int fd, const std::string& address, std::size_t limit) {
  const std::string answer =
      closing_answer(503, "Service Unavailable",
                     "more than " + std::to_string(limit) + " connections at once from " + address,
                     "Retry-After: 1\r\n");
  (void)::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  drain_then_close_input(fd, std::chrono::milliseconds(50), 64 * 1024);
}

// listen() again on a listening socket only changes its backlog.
bool widen_backlog(int fd) { return ::listen(fd, kListenBacklog) == 0; }

void close_connection(int fd) {
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
}

}  // namespace

ClientSlots::Slot::~Slot() {
  if (owner_ != nullptr) owner_->release(address_);
}

std::optional<ClientSlots::Slot> ClientSlots::acquire(const std::string& address) {
  {
    auto held = held_.lock();
    auto& n = (*held)[address];
    if (per_client_ != 0 && n >= per_client_) return std::nullopt;
    ++n;
  }
  return Slot(*this, address);
}

void ClientSlots::release(const std::string& address) {
  auto held = held_.lock();
  const auto it = held->find(address);
  if (it == held->end()) return;
  if (--it->second == 0) held->erase(it);
}

std::size_t ClientSlots::held(const std::string& address) {
  auto held = held_.lock();
  const auto it = held->find(address);
  return it == held->end() ? 0 : it->second;
}

void LimitCounters::count(LimitHit hit) noexcept {
  switch (hit) {
    case LimitHit::head_too_large:
      head_too_large.inc();
      break;
    case LimitHit::body_too_large:
      body_too_large.inc();
      break;
    case LimitHit::too_slow:
      too_slow.inc();
      break;
    case LimitHit::bad_framing:
      bad_framing.inc();
      break;
    case LimitHit::none:
      break;
  }
}

void LimitCounters::write(metrics::TextWriter& w) const {
  w.family("pweb_http_refused_total", "counter",
           "HTTP requests and connections refused by a limit or for their framing, by reason");
  for (const auto& [hit, counter] :
       {std::pair{LimitHit::head_too_large, &head_too_large},
        std::pair{LimitHit::body_too_large, &body_too_large},
        std::pair{LimitHit::too_slow, &too_slow}, std::pair{LimitHit::bad_framing, &bad_framing}}) {
    w.sample("pweb_http_refused_total", {{"reason", to_string(hit)}}, counter->get());
  }
  w.sample("pweb_http_refused_total", {{"reason", "client_connections"}}, client_connections.get());
}

std::optional<ClientSlots::Slot> ConnectionRunner::admit(int fd, bool plain) {
  const std::string address = peer_address(fd);
  auto slot = slots_.acquire(address);
  if (!slot) {
    counters_.client_connections.inc();
    if (plain) answer_busy(fd, address, slots_.per_client());
  }
  return slot;
}

bool ConnectionRunner::serve(int fd, SSL* ssl, std::size_t max_requests,
                             const std::function<bool()>& stopping, const Handle& handle) {
  BoundedStream stream(fd, ssl, limits_);
  bool ok = false;
  for (std::size_t left = max_requests; left > 0 && stream.wait_for_request(stopping); --left) {
    stream.begin_request();
    bool closed = false;
    ok = handle(stream, left == 1, closed);
    if (stream.limit_hit() != LimitHit::none) {
      counters_.count(stream.limit_hit());
      // The refusal is sent; let the client read it (TLS: close_notify first).
      if (ssl != nullptr) SSL_shutdown(ssl);
      drain_then_close_input(fd, kRefusalDrain, kRefusalDrainBytes);
      return false;
    }
    if (!ok || closed) break;
    // cpp-httplib answered without reading the whole request (a bad request
    // line, a refused Expect, a handler that ignores the body): the bytes after
    // what it read may be the rest of that request, never a request of their own.
    if (!stream.request_complete()) break;
  }
  return ok;
}

bool BoundedServer::bind_listener(const std::string& host, int port) {
  return bind_to_port(host, port) && widen_backlog(svr_sock_);
}

bool BoundedTlsServer::bind_listener(const std::string& host, int port) {
  return bind_to_port(host, port) && widen_backlog(svr_sock_);
}

bool BoundedServer::process_and_close_socket(socket_t sock) {
  bool ok = false;
  if (auto slot = runner_.admit(sock, true)) {
    prepare_socket(sock);
    ok = runner_.serve(
        sock, nullptr, keep_alive_max_count_, [this] { return svr_sock_ == INVALID_SOCKET; },
        [this](httplib::Stream& strm, bool close, bool& closed) {
          return process_request(strm, close, closed, nullptr);
        });
  }
  close_connection(sock);
  return ok;
}

void BoundedTlsServer::serve_h2_with(H2Handler handler, const H2Limits& limits) {
  h2_handler_ = std::move(handler);
  h2_limits_ = limits;
  offer_h2(ssl_context());
}

bool BoundedTlsServer::process_and_close_socket(socket_t sock) {
  bool ok = false;
  if (auto slot = runner_.admit(sock, false)) {
    prepare_socket(sock);
    SSL* ssl = SSL_new(ssl_context());
    if (ssl != nullptr && SSL_set_fd(ssl, sock) == 1 &&
        tls_accept(sock, ssl, Clock::now() + runner_.limits().handshake_timeout)) {
      const auto stopping = [this] { return svr_sock_ == INVALID_SOCKET; };
      if (h2_handler_ && alpn_is_h2(ssl)) {
        ok = serve_h2(sock, ssl, h2_limits_, stopping, h2_handler_, runner_.counters());
      } else {
        ok =
            runner_.serve(sock, ssl, keep_alive_max_count_, stopping,
                          [this, ssl](httplib::Stream& strm, bool close, bool& closed) {
                            return process_request(strm, close, closed,
                                                   [ssl](httplib::Request& req) { req.ssl = ssl; });
                          });
      }
      if (ok) SSL_shutdown(ssl);  // close_notify, best effort (non-blocking)
    }
    SSL_free(ssl);
  }
  close_connection(sock);
  return ok;
}

}  // namespace pweb::rest
