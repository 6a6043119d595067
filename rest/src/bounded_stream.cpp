#include "bounded_stream.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

namespace pweb::rest {
namespace {

using Clock = BoundedStream::Clock;

// Milliseconds until `deadline`, rounded up, for poll(); 0 once it has passed.
int millis_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

bool ip_and_port(const sockaddr_storage& addr, socklen_t len, std::string& ip, int& port) {
  if (addr.ss_family == AF_INET) {
    port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  } else {
    return false;
  }
  std::array<char, NI_MAXHOST> host{};
  if (::getnameinfo(reinterpret_cast<const sockaddr*>(&addr), len, host.data(),
                    static_cast<socklen_t>(host.size()), nullptr, 0, NI_NUMERICHOST) != 0) {
    return false;
  }
  ip = host.data();
  return true;
}

struct Refusal {
  int status;
  const char* reason;
};

Refusal refusal_for(LimitHit hit) {
  switch (hit) {
    case LimitHit::head_too_large:
      return {431, "Request Header Fields Too Large"};
    case LimitHit::body_too_large:
      return {413, "Payload Too Large"};
    case LimitHit::too_slow:
    case LimitHit::none:
      break;
  }
  return {408, "Request Timeout"};
}

}  // namespace

bool wait_io(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, millis_until(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string peer_address(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  std::string ip;
  int port = 0;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    ip_and_port(addr, len, ip, port);
  }
  return ip;
}

std::string closing_answer(int status, const char* reason, const std::string& message,
                           const char* extra_headers) {
  const std::string body = "{\"error\":\"" + message + "\"}";
  return "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n" + extra_headers +
         "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

const char* to_string(LimitHit hit) noexcept {
  switch (hit) {
    case LimitHit::none:
      return "none";
    case LimitHit::head_too_large:
      return "head_too_large";
    case LimitHit::body_too_large:
      return "body_too_large";
    case LimitHit::too_slow:
      return "too_slow";
  }
  return "none";
}

BoundedStream::BoundedStream(int fd, SSL* ssl, const RequestLimits& limits)
    : fd_(fd), ssl_(ssl), limits_(limits) {
  begin_request();
}

void BoundedStream::begin_request() {
  phase_ = Phase::head;
  head_bytes_ = body_bytes_ = line_bytes_ = 0;
  seen_line_ = false;
  read_deadline_ = Clock::now() + limits_.request_timeout;
  write_deadline_.reset();
  hit_ = LimitHit::none;
}

bool BoundedStream::wait_for_request(const std::function<bool()>& stopping) {
  if (hit_ != LimitHit::none) return false;
  const auto idle_end = Clock::now() + limits_.idle_timeout;
  constexpr auto kStep = std::chrono::milliseconds(100);
  for (;;) {
    if (begin_ < end_) return true;
    if (stopping()) return false;
    const auto now = Clock::now();
    if (now >= idle_end) return false;
    switch (fill(std::min(idle_end, now + kStep))) {
      case Io::ok:
        return true;
      case Io::timeout:
        continue;
      case Io::closed:
      case Io::failed:
        return false;
    }
  }
}

BoundedStream::Io BoundedStream::fill(Clock::time_point deadline) {
  begin_ = end_ = 0;
  for (;;) {
    if (ssl_ != nullptr) {
      const int r = SSL_read(ssl_, buf_.data(), static_cast<int>(buf_.size()));
      if (r > 0) {
        end_ = static_cast<std::size_t>(r);
        return Io::ok;
      }
      switch (SSL_get_error(ssl_, r)) {
        case SSL_ERROR_WANT_READ:
          if (!wait_io(fd_, POLLIN, deadline)) return Io::timeout;
          continue;
        case SSL_ERROR_WANT_WRITE:
          if (!wait_io(fd_, POLLOUT, deadline)) return Io::timeout;
          continue;
        case SSL_ERROR_ZERO_RETURN:
          return Io::closed;
        default:
          return Io::failed;
      }
    }
    const ssize_t r = ::recv(fd_, buf_.data(), buf_.size(), 0);
    if (r > 0) {
      end_ = static_cast<std::size_t>(r);
      return Io::ok;
    }
    if (r == 0) return Io::closed;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return Io::failed;
    if (!wait_io(fd_, POLLIN, deadline)) return Io::timeout;
  }
}

// Counts head bytes up to and including the blank line that ends the head;
// returns how many of `n` belong to the head (all, unless it ended inside).
std::size_t BoundedStream::account_head(const char* ptr, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    ++head_bytes_;
    const char c = ptr[i];
    if (c == '\n') {
      if (seen_line_ && line_bytes_ == 0) {
        phase_ = Phase::body;
        return i + 1;
      }
      seen_line_ = true;
      line_bytes_ = 0;
    } else if (c != '\r') {
      ++line_bytes_;
    }
  }
  return n;
}

ssize_t BoundedStream::read(char* ptr, size_t size) {
  if (hit_ != LimitHit::none) return -1;
  if (size == 0) return 0;
  if (begin_ == end_) {
    switch (fill(read_deadline_)) {
      case Io::ok:
        break;
      case Io::closed:
        return 0;
      case Io::timeout:
        refuse(LimitHit::too_slow);
        return -1;
      case Io::failed:
        return -1;
    }
  }
  std::size_t n = std::min(size, end_ - begin_);
  if (phase_ == Phase::head) {
    n = account_head(buf_.data() + begin_, n);
    if (head_bytes_ > limits_.max_head_bytes) {  // a head of exactly the limit passes
      refuse(LimitHit::head_too_large);
      return -1;
    }
  } else {
    // Up to the budget is delivered; a read past it is refused.
    if (body_bytes_ >= limits_.max_body_bytes) {
      refuse(LimitHit::body_too_large);
      return -1;
    }
    n = std::min(n, limits_.max_body_bytes - body_bytes_);
    body_bytes_ += n;
  }
  std::copy_n(buf_.data() + begin_, n, ptr);
  begin_ += n;
  return static_cast<ssize_t>(n);
}

void BoundedStream::refuse(LimitHit hit) {
  hit_ = hit;
  const Refusal r = refusal_for(hit);
  std::string what;
  switch (hit) {
    case LimitHit::head_too_large:
      what = "request line and header fields larger than " +
             std::to_string(limits_.max_head_bytes) + " bytes";
      break;
    case LimitHit::body_too_large:
      what = "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes";
      break;
    default:
      what =
          "request not received within " + std::to_string(limits_.request_timeout.count()) + " ms";
      break;
  }
  const std::string answer = closing_answer(r.status, r.reason, what);
  // Best effort, briefly: the peer may be the one that is not reading.
  send_all(answer.data(), answer.size(), Clock::now() + std::chrono::seconds(1));
}

bool BoundedStream::send_all(const char* ptr, std::size_t size, Clock::time_point deadline) {
  std::size_t done = 0;
  while (done < size) {
    if (ssl_ != nullptr) {
      // After WANT_WRITE, OpenSSL wants the same buffer again: it is.
      const int chunk = static_cast<int>(std::min<std::size_t>(size - done, INT_MAX));
      const int r = SSL_write(ssl_, ptr + done, chunk);
      if (r > 0) {
        done += static_cast<std::size_t>(r);
        continue;
      }
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_WRITE && wait_io(fd_, POLLOUT, deadline)) continue;
      if (err == SSL_ERROR_WANT_READ && wait_io(fd_, POLLIN, deadline)) continue;
      return false;
    }
    const ssize_t r = ::send(fd_, ptr + done, size - done, MSG_NOSIGNAL);
    if (r > 0) {
      done += static_cast<std::size_t>(r);
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_io(fd_, POLLOUT, deadline)) {
      continue;
    }
    return false;
  }
  return true;
}

ssize_t BoundedStream::write(const char* ptr, size_t size) {
  // After a refusal the connection's answer has been sent: cpp-httplib's own
  // answer to the failed read goes nowhere.
  if (hit_ != LimitHit::none) return static_cast<ssize_t>(size);
  if (!write_deadline_) write_deadline_ = Clock::now() + limits_.response_timeout;
  if (!send_all(ptr, size, *write_deadline_)) return -1;
  return static_cast<ssize_t>(size);
}

bool BoundedStream::is_readable() const {
  if (begin_ < end_ || (ssl_ != nullptr && SSL_pending(ssl_) > 0)) return true;
  return wait_io(fd_, POLLIN, read_deadline_);
}

bool BoundedStream::is_writable() const {
  return wait_io(fd_, POLLOUT, write_deadline_.value_or(Clock::now() + limits_.response_timeout));
}

void BoundedStream::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    ip_and_port(addr, len, ip, port);
  }
}

void BoundedStream::get_local_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    ip_and_port(addr, len, ip, port);
  }
}

bool tls_accept(int fd, SSL* ssl, Clock::time_point deadline) {
  for (;;) {
    const int r = SSL_accept(ssl);
    if (r == 1) return true;
    const int err = SSL_get_error(ssl, r);
    if (err == SSL_ERROR_WANT_READ && wait_io(fd, POLLIN, deadline)) continue;
    if (err == SSL_ERROR_WANT_WRITE && wait_io(fd, POLLOUT, deadline)) continue;
    return false;
  }
}

}  // namespace pweb::rest
