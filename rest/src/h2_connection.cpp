#include "h2_connection.hpp"

#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "pweb/lock_guarded.hpp"

namespace pweb::rest {
namespace {

using Clock = BoundedStream::Clock;

constexpr std::string_view kH2 = "h2";
constexpr std::string_view kHttp11 = "http/1.1";
// How often a wait looks at `stopping`.
constexpr std::chrono::milliseconds kStopPoll{100};
// Request bytes kept for the streams of one connection (fields and bodies not
// yet answered): without it, 100 streams of 64 KiB bodies each would hold
// 6.4 MB per connection. DNS queries are a few hundred bytes.
constexpr std::size_t kMaxKeptBytes = 256 * 1024;
// How long a refused client may go on sending before the close.
constexpr std::chrono::milliseconds kRefusalDrain{2000};

// Replies handed over by handlers, and the eventfd that wakes the connection
// for those from other threads. Shared with the handlers' pending replies, so
// it outlives a connection that ended first (their replies are then dropped).
class Mailbox {
 public:
  Mailbox() : wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Mailbox() {
    if (wake_fd_ >= 0) ::close(wake_fd_);
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  bool ok() const { return wake_fd_ >= 0; }
  int wake_fd() const { return wake_fd_; }

  void post(int32_t id, H2Finish finish) {
    // A reply made during the handler's call needs no wake-up.
    if (std::this_thread::get_id() == owner_) {
      own_.emplace_back(id, std::move(finish));
      return;
    }
    // Written under the lock, so the eventfd is set exactly while replies wait.
    auto replies = replies_.lock();
    replies->emplace_back(id, std::move(finish));
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof(one));
  }

  // Every reply posted so far; on the connection's thread. No system call
  // when no other thread has posted.
  std::vector<std::pair<int32_t, H2Finish>> take() {
    auto out = std::exchange(own_, {});
    auto replies = replies_.lock();
    if (replies->empty()) return out;
    std::uint64_t count = 0;
    [[maybe_unused]] const auto n = ::read(wake_fd_, &count, sizeof(count));
    for (auto& r : *replies) out.push_back(std::move(r));
    replies->clear();
    return out;
  }

 private:
  int wake_fd_;
  const std::thread::id owner_ = std::this_thread::get_id();
  std::vector<std::pair<int32_t, H2Finish>> own_;  // the owner's thread only
  LockGuarded<std::vector<std::pair<int32_t, H2Finish>>> replies_;
};

struct Stream {
  H2Request request;
  Clock::time_point started;
  std::size_t head_bytes = 0;
  std::size_t header_fields = 0;
  bool complete = false;    // END_STREAM received
  bool dispatched = false;  // given to the handler, to reply by `answer_by`
  Clock::time_point answer_by;
  bool answered = false;  // a response is submitted
  H2Response response;
  std::size_t sent = 0;  // of response.body
};

class Connection {
 public:
  Connection(int fd, SSL* ssl, const H2Limits& limits, const H2Handler& handler,
             LimitCounters& counters)
      : fd_(fd), ssl_(ssl), limits_(limits), handler_(handler), counters_(counters) {}
  ~Connection() {
    if (session_ != nullptr) nghttp2_session_del(session_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool run(const std::function<bool()>& stopping);

 private:
  bool start();
  bool flush();
  bool answer_ready();
  // Answers with `finish`'s response, or resets the stream when it has none.
  void answer_with(int32_t id, Stream& s, const H2Finish& finish);
  // Answers 504 what the handler has not replied to within answer_timeout.
  void give_up_late(Clock::time_point now);
  std::optional<Clock::time_point> answer_deadline() const;
  void refuse(int32_t id, Stream& s, LimitHit hit);
  void respond(int32_t id, Stream& s);
  // Forgets a stream's request bytes (answered or closed).
  void release(Stream& s);
  std::optional<Clock::time_point> deadline() const;
  enum class Read { data, none, closed };
  Read read(Clock::time_point until);

  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                       size_t namelen, const uint8_t* value, size_t valuelen, uint8_t, void* self);
  static int on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t len,
                           void* self);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self);
  static int on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* self);
  static ssize_t read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                           uint32_t* flags, nghttp2_data_source*, void* self);

  int fd_;
  SSL* ssl_;
  const H2Limits& limits_;
  const H2Handler& handler_;
  LimitCounters& counters_;
  nghttp2_session* session_ = nullptr;
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>();
  std::map<int32_t, Stream> streams_;
  Clock::time_point idle_since_ = Clock::now();
  bool closing_ = false;  // GOAWAY sent: end once everything is written
  std::size_t kept_ = 0;  // request bytes held by unanswered streams
  std::array<std::uint8_t, 16 * 1024> buf_{};
};

Connection& of(void* self) { return *static_cast<Connection*>(self); }

int Connection::on_begin_headers(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  auto& s = of(self).streams_[frame->hd.stream_id];
  s.started = Clock::now();
  return 0;
}

int Connection::on_header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                          void* self) {
  auto& c = of(self);
  const auto it = c.streams_.find(frame->hd.stream_id);
  if (it == c.streams_.end()) return 0;  // trailers of a stream we answered: ignored
  auto& s = it->second;
  // Counted as RFC 9113 6.5.2 counts them: name, value and 32 bytes each.
  s.head_bytes += namelen + valuelen + 32;
  if (s.head_bytes > c.limits_.request.max_head_bytes ||
      ++s.header_fields > c.limits_.max_header_fields) {
    c.refuse(frame->hd.stream_id, s, LimitHit::head_too_large);
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // the stream is reset
  }
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  std::string* field = n == ":method"        ? &s.request.method
                       : n == ":path"        ? &s.request.path
                       : n == "content-type" ? &s.request.content_type
                                             : nullptr;
  if (field != nullptr) {
    c.kept_ = c.kept_ - std::min(c.kept_, field->size()) + v.size();
    field->assign(v);
  }
  return 0;
}

int Connection::on_data_chunk(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data,
                              size_t len, void* self) {
  auto& c = of(self);
  const auto it = c.streams_.find(id);
  if (it == c.streams_.end() || it->second.answered) return 0;
  auto& s = it->second;
  if (s.request.body.size() + len > c.limits_.request.max_body_bytes ||
      c.kept_ + len > kMaxKeptBytes) {
    c.refuse(id, s, LimitHit::body_too_large);
    return 0;
  }
  c.kept_ += len;
  s.request.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int Connection::on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* self) {
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    auto& c = of(self);
    const auto it = c.streams_.find(frame->hd.stream_id);
    if (it != c.streams_.end()) it->second.complete = true;
  }
  return 0;
}

int Connection::on_stream_close(nghttp2_session*, int32_t id, uint32_t, void* self) {
  auto& c = of(self);
  if (const auto it = c.streams_.find(id); it != c.streams_.end()) c.release(it->second);
  c.streams_.erase(id);
  if (c.streams_.empty()) c.idle_since_ = Clock::now();
  return 0;
}

ssize_t Connection::read_body(nghttp2_session*, int32_t id, uint8_t* buf, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* self) {
  auto& c = of(self);
  const auto it = c.streams_.find(id);
  if (it == c.streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto& s = it->second;
  const std::size_t n = std::min(length, s.response.body.size() - s.sent);
  std::memcpy(buf, s.response.body.data() + s.sent, n);
  s.sent += n;
  if (s.sent == s.response.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

// Answered at once with the HTTP/1.1 refusal's status; then the connection
// ends, as an HTTP/1.1 one does after a refusal.
void Connection::refuse(int32_t id, Stream& s, LimitHit hit) {
  if (s.answered) return;
  counters_.count(hit);
  s.answered = true;
  closing_ = true;
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                        nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                        nullptr, 0);
  if (hit == LimitHit::head_too_large) return;  // the stream is reset: no answer on it
  s.response.status = hit == LimitHit::body_too_large ? 413 : 408;
  s.response.content_type = "application/json";
  s.response.body = hit == LimitHit::body_too_large
                        ? "{\"error\":\"request body larger than " +
                              std::to_string(limits_.request.max_body_bytes) + " bytes\"}"
                        : "{\"error\":\"request not received within " +
                              std::to_string(limits_.request.request_timeout.count()) + " ms\"}";
  respond(id, s);
}

void Connection::release(Stream& s) {
  const auto& r = s.request;
  kept_ -= std::min(kept_, r.method.size() + r.path.size() + r.content_type.size() + r.body.size());
  s.request = H2Request{};
}

void Connection::respond(int32_t id, Stream& s) {
  s.answered = true;
  release(s);
  const std::string status = std::to_string(s.response.status);
  const std::string length = std::to_string(s.response.body.size());
  std::vector<nghttp2_nv> nva;
  const auto add = [&nva](std::string_view name, const std::string& value) {
    nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                   reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                   value.size(), NGHTTP2_NV_FLAG_NONE});
  };
  add(":status", status);
  if (!s.response.content_type.empty()) add("content-type", s.response.content_type);
  add("content-length", length);
  if (!s.response.cache_control.empty()) add("cache-control", s.response.cache_control);
  if (!s.response.allow.empty()) add("allow", s.response.allow);
  nghttp2_data_provider body{};
  body.read_callback = read_body;
  // nghttp2 copies the fields here; the body is read from the stream later.
  nghttp2_submit_response(session_, id, nva.data(), nva.size(), &body);
}

bool Connection::start() {
  if (!mailbox_->ok()) return false;
  nghttp2_session_callbacks* cb = nullptr;
  if (nghttp2_session_callbacks_new(&cb) != 0) return false;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
  nghttp2_option* opt = nullptr;
  if (nghttp2_option_new(&opt) != 0) {
    nghttp2_session_callbacks_del(cb);
    return false;
  }
  // A client flooding PINGs or SETTINGS cannot queue acknowledgements without end.
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  const int rv = nghttp2_session_server_new2(&session_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) return false;
  const std::array<nghttp2_settings_entry, 2> settings = {{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(limits_.request.max_head_bytes)},
  }};
  return nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) ==
         0;
}

// Writes what nghttp2 has to send, within the response deadline.
bool Connection::flush() {
  // Everything queued must be taken within the answer deadline, however
  // slowly the client reads.
  const auto until = Clock::now() + limits_.request.response_timeout;
  for (;;) {
    const uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) return false;
    if (n == 0) return true;
    std::size_t done = 0;
    while (done < static_cast<std::size_t>(n)) {
      const int chunk = static_cast<int>(std::min<std::size_t>(n - done, INT_MAX));
      const int r = SSL_write(ssl_, data + done, chunk);
      if (r > 0) {
        done += static_cast<std::size_t>(r);
        continue;
      }
      const int err = SSL_get_error(ssl_, r);
      if (err == SSL_ERROR_WANT_WRITE && wait_io(fd_, POLLOUT, until)) continue;
      if (err == SSL_ERROR_WANT_READ && wait_io(fd_, POLLIN, until)) continue;
      counters_.count(LimitHit::too_slow);
      return false;
    }
  }
}

// When the connection must end: an incomplete request's deadline, or the
// idle limit when no request is open; nothing while answers are queued.
std::optional<Clock::time_point> Connection::deadline() const {
  std::optional<Clock::time_point> earliest;
  for (const auto& [id, s] : streams_) {
    if (s.complete || s.answered) continue;
    const auto end = s.started + limits_.request.request_timeout;
    earliest = std::min(earliest.value_or(end), end);
  }
  if (streams_.empty()) return idle_since_ + limits_.request.idle_timeout;
  return earliest;
}

Connection::Read Connection::read(Clock::time_point until) {
  for (;;) {
    const int r = SSL_read(ssl_, buf_.data(), static_cast<int>(buf_.size()));
    if (r > 0) {
      const auto used =
          nghttp2_session_mem_recv(session_, buf_.data(), static_cast<std::size_t>(r));
      return used < 0 ? Read::closed : Read::data;
    }
    const int err = SSL_get_error(ssl_, r);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      // A reply from another thread ends the wait too: it is sent at once.
      const short events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
      if (wait_io_or_wake(fd_, events, mailbox_->wake_fd(), until) != IoWait::ready) {
        return Read::none;
      }
      continue;
    }
    return Read::closed;
  }
}

// Gives every complete request to the handler, then answers those it has
// replied to (at once or since), in the order the replies came.
bool Connection::answer_ready() {
  for (auto& [id, s] : streams_) {
    if (!s.complete || s.dispatched || s.answered) continue;
    s.dispatched = true;
    s.answer_by = Clock::now() + limits_.answer_timeout;
    handler_(s.request,
             [box = mailbox_, id = id](H2Finish finish) { box->post(id, std::move(finish)); });
  }
  for (auto& [id, finish] : mailbox_->take()) {
    // Gone (reset by the client) or answered (refused, or too late): dropped.
    const auto it = streams_.find(id);
    if (it == streams_.end() || it->second.answered) continue;
    answer_with(id, it->second, finish);
  }
  return flush();
}

void Connection::answer_with(int32_t id, Stream& s, const H2Finish& finish) {
  auto response = finish ? finish() : std::nullopt;
  if (!response) {
    s.answered = true;
    release(s);
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_HTTP_1_1_REQUIRED);
    return;
  }
  s.response = std::move(*response);
  respond(id, s);
}

std::optional<Clock::time_point> Connection::answer_deadline() const {
  std::optional<Clock::time_point> earliest;
  for (const auto& [id, s] : streams_) {
    if (!s.dispatched || s.answered) continue;
    earliest = std::min(earliest.value_or(s.answer_by), s.answer_by);
  }
  return earliest;
}

void Connection::give_up_late(Clock::time_point now) {
  for (auto& [id, s] : streams_) {
    if (!s.dispatched || s.answered || now < s.answer_by) continue;
    s.response.status = 504;
    s.response.content_type = "application/json";
    s.response.body = "{\"error\":\"no answer within " +
                      std::to_string(limits_.answer_timeout.count()) + " ms\"}";
    respond(id, s);
  }
}

bool Connection::run(const std::function<bool()>& stopping) {
  if (!start() || !flush()) return false;
  std::optional<Clock::time_point> drain_until;
  for (;;) {
    give_up_late(Clock::now());
    if (!answer_ready()) return false;
    const bool written = nghttp2_session_want_write(session_) == 0;
    if (written && nghttp2_session_want_read(session_) == 0) return true;
    const auto now = Clock::now();
    if (closing_ && written) {
      // After a refusal: read (and drop) what the client still sends, briefly,
      // so that closing does not reset the connection before it read the answer.
      if (!drain_until) drain_until = now + kRefusalDrain;
      if (now >= *drain_until) return true;
    }
    if (stopping()) {
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      flush();
      return true;
    }
    const auto end = deadline();
    if (end && now >= *end && !closing_) {
      // Idle: a polite GOAWAY. A request still arriving: too slow.
      const bool slow = !streams_.empty();
      if (slow) counters_.count(LimitHit::too_slow);
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
      flush();
      return !slow;
    }
    auto until = now + kStopPoll;
    if (end && !closing_) until = std::min(until, *end);
    if (const auto late = answer_deadline()) until = std::min(until, *late);
    if (drain_until) until = std::min(until, *drain_until);
    if (read(until) == Read::closed) {
      flush();  // a GOAWAY for a protocol error, best effort
      return false;
    }
  }
}

}  // namespace

bool alpn_is_h2(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl, &data, &len);
  return data != nullptr && std::string_view(reinterpret_cast<const char*>(data), len) == kH2;
}

void offer_h2(SSL_CTX* ctx) {
  SSL_CTX_set_alpn_select_cb(
      ctx,
      [](SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
         unsigned int inlen, void*) -> int {
        // The client's list: length-prefixed names. h2 if offered, else http/1.1.
        for (const auto want : {kH2, kHttp11}) {
          for (unsigned int i = 0; i < inlen;) {
            const unsigned int len = in[i];
            if (i + 1 + len > inlen) break;
            if (std::string_view(reinterpret_cast<const char*>(in + i + 1), len) == want) {
              *out = in + i + 1;
              *outlen = static_cast<unsigned char>(len);
              return SSL_TLSEXT_ERR_OK;
            }
            i += 1 + len;
          }
        }
        return SSL_TLSEXT_ERR_NOACK;
      },
      nullptr);
}

bool serve_h2(int fd, SSL* ssl, const H2Limits& limits, const std::function<bool()>& stopping,
              const H2Handler& handler, LimitCounters& counters) {
  Connection c(fd, ssl, limits, handler, counters);
  return c.run(stopping);
}

}  // namespace pweb::rest
