#pragma once
// A cpp-httplib Stream over one accepted connection (plain or TLS) that bounds
// every request it carries: the head (request line and header fields) in bytes,
// the body in bytes, the time from its first byte to its last, and the time to
// write its answer. cpp-httplib 0.11 bounds none of these itself: it reads
// header lines until a blank one, each read with its own timeout, so one client
// could grow a worker's memory without end or hold it by sending a byte a second.
//
// A request that breaks a limit is answered here, at once, with a JSON error and
// `Connection: close` (431, 413 or 408); cpp-httplib's own answer to the failed
// read is then discarded, and the caller closes the connection.
#include <httplib.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

namespace pweb::rest {

struct RequestLimits {
  std::size_t max_head_bytes = 16 * 1024;               // request line + header fields + blank line
  std::size_t max_body_bytes = 72 * 1024;               // the body with its chunk framing
  std::chrono::milliseconds request_timeout{10'000};    // first byte to the end of the request
  std::chrono::milliseconds response_timeout{30'000};   // first byte written to the last
  std::chrono::milliseconds idle_timeout{5'000};        // waiting for the next request
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS
};

enum class LimitHit { none, head_too_large, body_too_large, too_slow };
const char* to_string(LimitHit hit) noexcept;

class BoundedStream final : public httplib::Stream {
 public:
  using Clock = std::chrono::steady_clock;

  // `fd` must be non-blocking; `ssl` (null for plain TCP) must have finished
  // its handshake on `fd`. Neither is owned.
  BoundedStream(int fd, SSL* ssl, const RequestLimits& limits);

  // Waits for the first byte of the next request, polling `stopping` every
  // 100 ms. False on idle timeout, end of stream, error, or stop.
  bool wait_for_request(const std::function<bool()>& stopping);
  // Starts the next request's byte budgets and deadlines.
  void begin_request();
  // Which limit the current request broke, if any (then it has been answered).
  LimitHit limit_hit() const noexcept { return hit_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_; }

 private:
  enum class Phase { head, body };
  enum class Io { ok, closed, timeout, failed };

  Io fill(Clock::time_point deadline);
  bool send_all(const char* ptr, std::size_t size, Clock::time_point deadline);
  std::size_t account_head(const char* ptr, std::size_t n);
  void refuse(LimitHit hit);

  int fd_;
  SSL* ssl_;
  RequestLimits limits_;
  std::array<char, 16 * 1024> buf_{};  // one TLS record
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  Phase phase_ = Phase::head;
  std::size_t head_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  std::size_t line_bytes_ = 0;  // of the current head line, CR and LF not counted
  bool seen_line_ = false;      // the request line has ended
  Clock::time_point read_deadline_{};
  std::optional<Clock::time_point> write_deadline_;
  LimitHit hit_ = LimitHit::none;
};

// Completes the TLS handshake on non-blocking `fd` by `deadline`.
bool tls_accept(int fd, SSL* ssl, BoundedStream::Clock::time_point deadline);

// Waits for `events` on `fd` until `deadline`: true when ready (or in error,
// which the next call on the socket reports).
bool wait_io(int fd, short events, BoundedStream::Clock::time_point deadline);

// The peer's numeric address ("192.0.2.1", "2001:db8::1"), "" if unknown.
std::string peer_address(int fd);

// An answer that ends the connection: `HTTP/1.1 <status> <reason>`, the
// `extra_headers` (each ending in CRLF), `Connection: close` and the JSON
// body {"error": message}. `message` is ours: no quotes to escape.
std::string closing_answer(int status, const char* reason, const std::string& message,
                           const char* extra_headers = "");

}  // namespace pweb::rest
