#include "bounded_stream.hpp"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstring>
#include <limits>

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

bool is_tchar(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The elements of a comma-separated field value, trimmed; empty ones kept.
std::vector<std::string_view> list_elements(std::string_view value) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto comma = value.find(',');
    out.push_back(trim_ows(value.substr(0, comma)));
    if (comma == std::string_view::npos) return out;
    value.remove_prefix(comma + 1);
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool wait_io(int fd, short events, Clock::time_point deadline) {
  return wait_io_or_wake(fd, events, -1, deadline) == IoWait::ready;
}

IoWait wait_io_or_wake(int fd, short events, int wake_fd, Clock::time_point deadline) {
  for (;;) {
    // poll() skips an entry whose fd is negative.
    std::array<pollfd, 2> p{{{fd, events, 0}, {wake_fd, POLLIN, 0}}};
    const int r = ::poll(p.data(), p.size(), millis_until(deadline));
    if (r > 0) return p[0].revents != 0 ? IoWait::ready : IoWait::woken;
    if (r == 0 || errno != EINTR) return IoWait::timeout;
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
    case LimitHit::bad_framing:
      return "bad_framing";
  }
  return "none";
}

bool HeadFraming::refuse(int status, std::string error) {
  if (!result_.refused()) {
    result_.status = status;
    result_.error = std::move(error);
  }
  return false;
}

bool HeadFraming::line(std::string_view line) {
  if (result_.refused()) return false;
  if (!request_line_seen_) {
    request_line_seen_ = true;
    method_ = std::string(line.substr(0, line.find(' ')));
    http10_ = line.size() >= 9 && line.substr(line.size() - 9) == " HTTP/1.0";
    return true;
  }
  // A proxy may join a folded line to the one before: a field hidden from us.
  if (!line.empty() && is_ows(line.front())) {
    return refuse(400, "obsolete line folding (a header line starting with whitespace)");
  }
  const auto colon = line.find(':');
  const std::string_view name = line.substr(0, colon);
  // "Content-Length : 5" is no field to cpp-httplib, but one to a lenient proxy.
  if (colon == std::string_view::npos || name.empty() ||
      !std::all_of(name.begin(), name.end(), is_tchar)) {
    return refuse(400, "malformed header field line (a name of token characters, then a colon)");
  }
  const std::string_view value = trim_ows(line.substr(colon + 1));
  if (iequals(name, "Content-Length")) {
    for (const std::string_view element : list_elements(value)) {
      if (element.empty() || !std::all_of(element.begin(), element.end(),
                                          [](char c) { return c >= '0' && c <= '9'; })) {
        return refuse(400, "invalid Content-Length (it must be decimal digits only)");
      }
      std::uint64_t n = 0;
      for (const char c : element) {
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
          return refuse(400, "invalid Content-Length (too large)");
        }
        n = n * 10 + digit;
      }
      if (content_length_ && *content_length_ != n) {
        return refuse(400, "differing Content-Length values");
      }
      content_length_ = n;
    }
  } else if (iequals(name, "Transfer-Encoding")) {
    transfer_encodings_.emplace_back(value);
  }
  return true;
}

BodyFraming HeadFraming::finish() {
  if (result_.refused()) return result_;
  if (!transfer_encodings_.empty()) {
    if (content_length_) {
      refuse(400, "both Content-Length and Transfer-Encoding: the body length is ambiguous");
      return result_;
    }
    if (http10_) {
      refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
      return result_;
    }
    std::vector<std::string_view> codings;
    for (const auto& value : transfer_encodings_) {
      for (const auto element : list_elements(value)) {
        if (!element.empty()) codings.push_back(element);
      }
    }
    const auto chunked = std::count_if(codings.begin(), codings.end(),
                                       [](std::string_view c) { return iequals(c, "chunked"); });
    if (codings.empty() || !iequals(codings.back(), "chunked")) {
      refuse(400, "Transfer-Encoding must end with chunked: the body length is unknown");
    } else if (chunked > 1) {
      refuse(400, "Transfer-Encoding applies chunked more than once");
    } else if (codings.size() > 1) {
      refuse(501, "only the chunked transfer coding is implemented");
    } else if (transfer_encodings_.size() != 1 || !iequals(transfer_encodings_[0], "chunked")) {
      refuse(400, "Transfer-Encoding must be one field with the value chunked");
    } else {
      result_.kind = BodyFraming::Kind::chunked;
    }
  } else if (content_length_ && *content_length_ > 0) {
    result_.kind = BodyFraming::Kind::length;
    result_.length = *content_length_;
  }
  // cpp-httplib reads a body only for these methods: any other would leave its
  // body to be read as the next request.
  static constexpr std::array<std::string_view, 5> kWithBody = {"POST", "PUT", "PATCH", "DELETE",
                                                                "PRI"};
  if (!result_.refused() && result_.kind != BodyFraming::Kind::none &&
      std::find(kWithBody.begin(), kWithBody.end(), method_) == kWithBody.end()) {
    const bool token = !method_.empty() && std::all_of(method_.begin(), method_.end(), is_tchar);
    refuse(400, "a " + (token ? method_ : std::string("request of this method")) +
                    " request must not have a body");
  }
  return result_;
}

bool ChunkedFraming::fail(const char* why) {
  error_ = why;
  return false;
}

bool ChunkedFraming::step(char c) {
  switch (state_) {
    case State::size:
      if (const int v = hex_value(c); v >= 0) {
        if (++digits_ > 16) return fail("chunk size of more than 16 hex digits");
        size_ = size_ * 16 + static_cast<std::uint64_t>(v);
        return true;
      }
      if (digits_ == 0) return fail("chunk size is not a hex number");
      if (c == '\r') {
        state_ = State::size_lf;
      } else if (c == '\n') {
        return fail("chunk size line not ended by CRLF");
      } else if (c == ';') {
        state_ = State::extension;
      } else if (is_ows(c)) {
        state_ = State::size_ws;
      } else {
        return fail("chunk size is not a hex number");
      }
      return true;
    case State::size_ws:  // whitespace is allowed only before an extension's ';'
      if (c == ';') {
        state_ = State::extension;
      } else if (!is_ows(c)) {
        return fail("chunk size followed by something other than an extension");
      }
      return true;
    case State::extension:
      if (c == '\r') {
        state_ = State::size_lf;
        return true;
      }
      if (++extension_ > kMaxExtension) return fail("chunk extension longer than 256 bytes");
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
        return fail("control character in a chunk extension");
      }
      if (c == 0x7f) return fail("control character in a chunk extension");
      return true;
    case State::size_lf:
      if (c != '\n') return fail("chunk size line not ended by CRLF");
      state_ = size_ == 0 ? State::last_cr : State::data;
      return true;
    case State::data:  // handled in bulk by feed()
      return true;
    case State::data_cr:
      if (c != '\r') return fail("chunk data not followed by CRLF");
      state_ = State::data_lf;
      return true;
    case State::data_lf:
      if (c != '\n') return fail("chunk data not followed by CRLF");
      state_ = State::size;
      digits_ = 0;
      size_ = 0;
      extension_ = 0;
      return true;
    case State::last_cr:
      if (c != '\r') return fail("trailer fields after the last chunk are not accepted");
      state_ = State::last_lf;
      return true;
    case State::last_lf:
      if (c != '\n') return fail("last chunk not ended by CRLF");
      state_ = State::done;
      return true;
    case State::done:
      break;
  }
  return true;
}

std::size_t ChunkedFraming::feed(const char* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n && !done() && !failed()) {
    if (state_ == State::data) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(size_, n - i));
      size_ -= take;
      i += take;
      if (size_ == 0) state_ = State::data_cr;
      continue;
    }
    if (!step(p[i])) return 0;
    ++i;
  }
  return failed() ? 0 : i;
}

BoundedStream::BoundedStream(int fd, SSL* ssl, const RequestLimits& limits)
    : fd_(fd), ssl_(ssl), limits_(limits) {
  begin_request();
}

void BoundedStream::begin_request() {
  phase_ = Phase::head;
  head_bytes_ = body_bytes_ = 0;
  line_.clear();
  cr_ = false;
  seen_line_ = false;
  head_ = HeadFraming{};
  framing_ = BodyFraming{};
  body_left_ = 0;
  chunked_ = ChunkedFraming{};
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

// Counts head bytes up to and including the blank line that ends the head,
// and checks its lines' framing; returns how many of `n` belong to the head
// (all, unless it ended inside). A framing fault sets framing_.status.
std::size_t BoundedStream::account_head(const char* ptr, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    ++head_bytes_;
    const char c = ptr[i];
    // Lines end in CRLF only: cpp-httplib skips a line ending in a bare LF,
    // which a lenient proxy would read as a field.
    if (cr_ != (c == '\n')) {
      framing_ = {};
      framing_.status = 400;
      framing_.error = "bare CR or LF in the request head (lines end in CRLF)";
      return i + 1;
    }
    if (c == '\r') {
      cr_ = true;
    } else if (c == '\n') {
      cr_ = false;
      if (seen_line_ && line_.empty()) {
        framing_ = head_.finish();
        body_left_ = framing_.length;
        phase_ = Phase::body;
        return i + 1;
      }
      seen_line_ = true;
      if (!head_.line(line_)) {
        framing_ = head_.result();
        return i + 1;
      }
      line_.clear();
    } else {
      line_ += c;
    }
  }
  return n;
}

bool BoundedStream::body_complete() const noexcept {
  switch (framing_.kind) {
    case BodyFraming::Kind::none:
      return true;
    case BodyFraming::Kind::length:
      return body_left_ == 0;
    case BodyFraming::Kind::chunked:
      return chunked_.done();
  }
  return true;
}

bool BoundedStream::request_complete() const noexcept {
  return hit_ == LimitHit::none && phase_ == Phase::body && !framing_.refused() && body_complete();
}

ssize_t BoundedStream::read(char* ptr, size_t size) {
  if (hit_ != LimitHit::none) return -1;
  if (size == 0) return 0;
  // The body has ended where its framing says: what follows is not this
  // request's (a request without Content-Length or chunked has no body).
  if (phase_ == Phase::body && body_complete()) return 0;
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
    if (framing_.refused()) {
      refuse(LimitHit::bad_framing);
      return -1;
    }
  } else {
    // Up to the budget is delivered; a read past it is refused.
    if (body_bytes_ >= limits_.max_body_bytes) {
      refuse(LimitHit::body_too_large);
      return -1;
    }
    n = std::min(n, limits_.max_body_bytes - body_bytes_);
    if (framing_.kind == BodyFraming::Kind::length) {
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, body_left_));
      body_left_ -= n;
    } else {
      n = chunked_.feed(buf_.data() + begin_, n);
      if (chunked_.failed()) {
        framing_.status = 400;
        framing_.error = chunked_.error();
        refuse(LimitHit::bad_framing);
        return -1;
      }
    }
    body_bytes_ += n;
  }
  std::copy_n(buf_.data() + begin_, n, ptr);
  begin_ += n;
  return static_cast<ssize_t>(n);
}

void BoundedStream::refuse(LimitHit hit) {
  hit_ = hit;
  int status = 408;
  const char* reason = "Request Timeout";
  std::string what;
  switch (hit) {
    case LimitHit::head_too_large:
      status = 431;
      reason = "Request Header Fields Too Large";
      what = "request line and header fields larger than " +
             std::to_string(limits_.max_head_bytes) + " bytes";
      break;
    case LimitHit::body_too_large:
      status = 413;
      reason = "Payload Too Large";
      what = "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes";
      break;
    case LimitHit::bad_framing:
      status = framing_.status;
      reason = status == 501 ? "Not Implemented" : "Bad Request";
      what = framing_.error;
      break;
    case LimitHit::too_slow:
    case LimitHit::none:
      what =
          "request not received within " + std::to_string(limits_.request_timeout.count()) + " ms";
      break;
  }
  const std::string answer = closing_answer(status, reason, what);
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
