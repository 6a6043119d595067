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
//
// It also enforces the message framing of RFC 9112 6.3, which cpp-httplib does
// loosely (it never reads a GET's body, reads a chunk size with strtoul, and
// keeps the connection after a bad chunk): the head is checked before
// cpp-httplib sees its end, and the body is delivered only as far as its
// Content-Length or chunked framing goes. A request framed ambiguously or
// wrongly is refused (400, or 501 for a transfer coding other than chunked)
// the same way as a limit, so bytes after it are never read as a request.
#include <httplib.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pweb::rest {

struct RequestLimits {
  std::size_t max_head_bytes = 16 * 1024;               // request line + header fields + blank line
  std::size_t max_body_bytes = 72 * 1024;               // the body with its chunk framing
  std::chrono::milliseconds request_timeout{10'000};    // first byte to the end of the request
  std::chrono::milliseconds response_timeout{30'000};   // first byte written to the last
  std::chrono::milliseconds idle_timeout{5'000};        // waiting for the next request
  std::chrono::milliseconds handshake_timeout{10'000};  // TLS
};

enum class LimitHit { none, head_too_large, body_too_large, too_slow, bad_framing };
const char* to_string(LimitHit hit) noexcept;

// How a request's body is delimited (RFC 9112 6.3), or why it cannot be.
struct BodyFraming {
  enum class Kind { none, length, chunked };
  Kind kind = Kind::none;
  std::uint64_t length = 0;  // Kind::length
  int status = 0;            // not 0: refused with this status ...
  std::string error;         // ... saying this
  bool refused() const noexcept { return status != 0; }
};

// Reads the head's lines (without CRLF; the request line first) and decides
// the body's framing. Only what cpp-httplib reads the same way is accepted:
// one Content-Length value (repeated identical values are one value), or one
// `Transfer-Encoding: chunked` field and no Content-Length; a body only on a
// method whose body cpp-httplib reads (POST, PUT, PATCH, DELETE).
class HeadFraming {
 public:
  // False once the head is refused (see result()).
  bool line(std::string_view line);
  // After the blank line ending the head.
  BodyFraming finish();
  const BodyFraming& result() const noexcept { return result_; }

 private:
  bool refuse(int status, std::string error);

  bool request_line_seen_ = false;
  std::string method_;
  bool http10_ = false;
  std::optional<std::uint64_t> content_length_;
  std::vector<std::string> transfer_encodings_;  // one per field line, trimmed
  BodyFraming result_;
};

// Checks a chunked body (RFC 9112 7.1) as it passes: sizes of 1-16 hex digits,
// extensions after `;` of at most kMaxExtension bytes, CRLF after each size line
// and each chunk's data, no trailer fields (cpp-httplib takes none).
class ChunkedFraming {
 public:
  static constexpr std::size_t kMaxExtension = 256;
  // How many of `n` bytes belong to the body (fewer when it ends inside them);
  // 0 with failed() when a byte breaks the framing.
  std::size_t feed(const char* p, std::size_t n);
  bool done() const noexcept { return state_ == State::done; }
  bool failed() const noexcept { return error_ != nullptr; }
  const char* error() const noexcept { return error_; }

 private:
  enum class State {
    size,
    size_ws,
    extension,
    size_lf,
    data,
    data_cr,
    data_lf,
    last_cr,
    last_lf,
    done
  };
  bool step(char c);
  bool fail(const char* why);

  State state_ = State::size;
  std::size_t digits_ = 0;
  std::uint64_t size_ = 0;  // of the current chunk; what is left of it in State::data
  std::size_t extension_ = 0;
  const char* error_ = nullptr;
};

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
  // The current request's head has been read to its end and its body to the
  // end its framing gives: only then may the bytes after it be a request.
  bool request_complete() const noexcept;

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
  bool body_complete() const noexcept;
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
  std::string line_;        // the current head line, CR and LF not included
  bool cr_ = false;         // the last head byte was a CR: an LF must follow
  bool seen_line_ = false;  // the request line has ended
  HeadFraming head_;
  BodyFraming framing_;
  std::uint64_t body_left_ = 0;  // BodyFraming::Kind::length
  ChunkedFraming chunked_;
  Clock::time_point read_deadline_{};
  std::optional<Clock::time_point> write_deadline_;
  LimitHit hit_ = LimitHit::none;
};

// Completes the TLS handshake on non-blocking `fd` by `deadline`.
bool tls_accept(int fd, SSL* ssl, BoundedStream::Clock::time_point deadline);

// Waits for `events` on `fd` until `deadline`: true when ready (or in error,
// which the next call on the socket reports).
bool wait_io(int fd, short events, BoundedStream::Clock::time_point deadline);
// The same, also ended when `wake_fd` (not -1) becomes readable.
enum class IoWait { ready, woken, timeout };
IoWait wait_io_or_wake(int fd, short events, int wake_fd,
                       BoundedStream::Clock::time_point deadline);

// The peer's numeric address ("192.0.2.1", "2001:db8::1"), "" if unknown.
std::string peer_address(int fd);

// An answer that ends the connection: `HTTP/1.1 <status> <reason>`, the
// `extra_headers` (each ending in CRLF), `Connection: close` and the JSON
// body {"error": message}. `message` is ours: no quotes to escape.
std::string closing_answer(int status, const char* reason, const std::string& message,
                           const char* extra_headers = "");

}  // namespace pweb::rest
