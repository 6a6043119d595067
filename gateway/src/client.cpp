#include "pweb/gateway/client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <asio/ssl.hpp>
#include <string_view>

namespace pweb::gateway {

using Tcp = asio::ip::tcp::socket;
using Tls = asio::ssl::stream<Tcp>;

namespace {
// What a suspect server is asked, to learn that it answers again.
constexpr std::string_view kProbeName = "pweb-probe";
}  // namespace

// One connection attempt and its buffers. Handlers hold it, so a link given
// up (reconnect, close) stays alive until its last operation has completed,
// and they ignore what a link that is no longer current reports.
struct GatewayClient::Link {
  explicit Link(asio::io_context& io) : socket(io) {}
  Tcp socket;              // until TLS takes it over
  std::optional<Tls> tls;  // over `socket`'s connection
  std::vector<std::uint8_t> in, writing;
  bool write_active = false;

  Tcp& tcp() { return tls ? tls->next_layer() : socket; }
  void close() {
    asio::error_code ignored;
    tcp().close(ignored);
  }
  template <class Handler>
  void read_some(asio::mutable_buffer b, Handler&& h) {
    if (tls) {
      tls->async_read_some(b, std::forward<Handler>(h));
    } else {
      socket.async_read_some(b, std::forward<Handler>(h));
    }
  }
  template <class Handler>
  void write(Handler&& h) {
    if (tls) {
      asio::async_write(*tls, asio::buffer(writing), std::forward<Handler>(h));
    } else {
      asio::async_write(socket, asio::buffer(writing), std::forward<Handler>(h));
    }
  }
};

std::shared_ptr<GatewayClient> GatewayClient::create(asio::io_context& io, std::string host,
                                                     std::uint16_t port, ClientConfig config) {
  return std::make_shared<GatewayClient>(io, std::move(host), port, config);
}

GatewayClient::GatewayClient(asio::io_context& io, std::string host, std::uint16_t port,
                             ClientConfig config)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      config_(std::move(config)),
      resolver_(io),
      backoff_timer_(io),
      deadline_timer_(io),
      backoff_(config_.min_backoff),
      offer_(std::clamp(config_.max_version, kVersion, kVersion3)),
      probe_timer_(io) {}

void GatewayClient::query(std::string name, Done done) {
  if (io_.get_executor().running_in_this_thread()) {
    enqueue(std::move(name), 0, std::move(done), nullptr);
    return;
  }
  asio::post(io_,
             [self = shared_from_this(), name = std::move(name), done = std::move(done)]() mutable {
               self->enqueue(std::move(name), 0, std::move(done), nullptr);
             });
}

void GatewayClient::query(std::string name, std::uint16_t qtype, Done3 done) {
  if (io_.get_executor().running_in_this_thread()) {
    enqueue(std::move(name), qtype, nullptr, std::move(done));
    return;
  }
  asio::post(io_, [self = shared_from_this(), name = std::move(name), qtype,
                   done = std::move(done)]() mutable {
    self->enqueue(std::move(name), qtype, nullptr, std::move(done));
  });
}

void GatewayClient::close() {
  asio::post(io_, [self = shared_from_this()] {
    self->closed_ = true;
    self->backoff_timer_.cancel();
    self->deadline_timer_.cancel();
    self->probe_timer_.cancel();
    self->resolver_.cancel();
    self->drop_link();
    self->fail_all();
  });
}

std::uint16_t GatewayClient::next_serial() {
  do {
    ++serial_;
  } while (outstanding_.count(serial_) != 0);
  return serial_;
}

std::optional<std::uint16_t> GatewayClient::enqueue(std::string name, std::uint16_t qtype,
                                                    Done done, Done3 done3) {
  // Backing off after a failed connection: say so now rather than at the timeout.
  if (closed_ || state_ == State::waiting || outstanding_.size() >= 65000) {
    if (done3) {
      done3(std::nullopt);
    } else {
      done(std::nullopt);
    }
    return std::nullopt;
  }
  const bool typed = static_cast<bool>(done3);
  const std::uint16_t serial = next_serial();
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
  outstanding_.emplace(serial, Outstanding{std::move(done), std::move(done3), qtype, deadline});
  deadlines_.emplace_back(deadline, serial);
  arm_deadlines();
  if (state_ == State::ready) {
    send(serial, name, qtype, typed);
    flush_soon();
    return serial;
  }
  waiting_.push_back(Waiting{serial, std::move(name), qtype, typed});
  if (state_ == State::idle) connect();
  return serial;
}

// Closes the current link, if any; its pending handlers see it is not current.
void GatewayClient::drop_link() {
  if (!link_) return;
  link_->close();
  link_.reset();
}

// Keeps the session for the next connection. Taken once the server's first
// records (its tickets come before the version echo) were read: a connection
// that later ends without close_notify makes OpenSSL mark it unusable.
void GatewayClient::keep_session() {
  if (!link_ || !link_->tls) return;
  // A copy: OpenSSL marks the connection's own session object unusable when
  // that connection ends uncleanly.
  SSL_SESSION* s = SSL_get_session(link_->tls->native_handle());
  if (s == nullptr || SSL_SESSION_is_resumable(s) != 1) return;
  if (SSL_SESSION* copy = SSL_SESSION_dup(s)) session_.reset(copy, SSL_SESSION_free);
}

void GatewayClient::connect() {
  drop_link();
  state_ = State::connecting;
  handshaken_ = false;
  auto link = std::make_shared<Link>(io_);
  link_ = link;
  asio::error_code ec;
  const auto addr = asio::ip::make_address(host_, ec);
  if (!ec) {
    link->socket.async_connect({addr, port_},
                               [self = shared_from_this(), link](const asio::error_code& err) {
                                 if (link != self->link_) return;
                                 self->on_connect(err);
                               });
    return;
  }
  // A host name (a compose service, say): looked up on every connect, so an
  // agent that moved is found again.
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [self = shared_from_this(), link](const asio::error_code& err,
                                        const asio::ip::tcp::resolver::results_type& found) {
        if (self->closed_ || link != self->link_) return;
        if (err) return self->on_connect(err);
        asio::async_connect(
            link->socket, found,
            [self, link](const asio::error_code& e, const asio::ip::tcp::endpoint&) {
              if (link != self->link_) return;
              self->on_connect(e);
            });
      });
}

void GatewayClient::backoff() {
  // Fail what waits now, and do not try again before the back-off.
  drop_link();
  fail_all();
  state_ = State::waiting;
  backoff_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, config_.max_backoff);
  backoff_timer_.async_wait([self = shared_from_this()](const asio::error_code& e) {
    if (e || self->closed_) return;
    self->state_ = State::idle;
    if (!self->waiting_.empty()) self->connect();
  });
}

void GatewayClient::on_connect(const asio::error_code& err) {
  if (closed_) return;
  if (err) return backoff();
  asio::error_code ignored;
  link_->socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (!config_.tls) return on_connected();
  auto& tls = link_->tls.emplace(std::move(link_->socket), *config_.tls);
  if (session_) SSL_set_session(tls.native_handle(), session_.get());
  tls.async_handshake(asio::ssl::stream_base::client,
                      [self = shared_from_this(), link = link_](const asio::error_code& e) {
                        if (link != self->link_ || self->closed_) return;
                        self->on_tls(e);
                      });
}

void GatewayClient::on_tls(const asio::error_code& err) {
  if (err) {
    session_.reset();  // a refused ticket must not fail every later attempt
    return backoff();
  }
  SSL* ssl = link_->tls->native_handle();
  ++tls_handshakes_;
  if (SSL_session_reused(ssl) == 1) ++tls_resumed_;
  const auto seen = peer_spki(ssl);
  if (!key_matches(config_.peer_key, seen)) {
    // Whoever listens there does not hold the agent's key: nothing is asked.
    untrusted_key_ = seen.empty() ? std::string("(no certificate)") : key_id_of(seen);
    session_.reset();
    return backoff();
  }
  untrusted_key_.clear();
  on_connected();
}

void GatewayClient::on_connected() {
  encode_version(out_, offer_);
  flush();
  read();
}

void GatewayClient::read() {
  auto link = link_;
  if (!link) return;
  // Records already received and buffered by TLS are taken at once: Asio's
  // SSL stream would complete each through another round of its scheduler.
  if (link->tls && handshaken_ && sync_reads_ < 16 &&
      read_buffered(link->tls->native_handle(), link->in, 4096) > 0) {
    ++sync_reads_;
    return on_read(0);
  }
  sync_reads_ = 0;
  const std::size_t old = link->in.size();
  link->in.resize(old + 4096);
  link->read_some(
      asio::buffer(link->in.data() + old, 4096),
      [self = shared_from_this(), link, old](const asio::error_code& ec, std::size_t n) {
        link->in.resize(old + (ec ? 0 : n));
        if (link != self->link_) return;  // given up meanwhile
        if (ec) {
          self->drop_link();
          self->state_ = State::idle;
          self->fail_all();
          return;
        }
        self->on_read(0);
      });
}

void GatewayClient::on_read(std::size_t pos) {
  auto link = link_;
  auto& in = link->in;
  if (!handshaken_) {
    const auto v = decode_version(in);
    if (!v) return read();
    if ((*v == kVersion || *v == kVersion2) && *v < offer_) {
      // An older server: it closes now; reconnect at once offering its
      // version, with the queries that wait still waiting.
      offer_ = *v;
      return connect();
    }
    if (*v != offer_) {
      link->close();  // the read fails next
      return read();
    }
    pos = 2;
    handshaken_ = true;
    state_ = State::ready;
    keep_session();
    backoff_ = config_.min_backoff;
    while (!waiting_.empty()) {
      const Waiting w = std::move(waiting_.front());
      waiting_.pop_front();
      if (outstanding_.count(w.serial)) send(w.serial, w.name, w.qtype, w.typed);
    }
    flush();
  }
  for (;;) {
    const auto d = decode(std::span(in).subspan(pos));
    if (d.status == DecodeStatus::need_more) break;
    // Only the reply frames of the version agreed on.
    const bool expected = offer_ == kVersion3 ? std::holds_alternative<Answer>(d.frame) ||
                                                    std::holds_alternative<Answer3>(d.frame)
                          : offer_ == kVersion2 ? std::holds_alternative<Answer>(d.frame)
                                                : std::holds_alternative<Reply>(d.frame);
    if (d.status == DecodeStatus::malformed || !expected) {
      link->close();  // a lying server: start over
      break;
    }
    pos += d.consumed;
    const std::uint16_t serial = std::visit([](const auto& f) { return f.serial; }, d.frame);
    suspect_ = false;
    backoff_ = config_.min_backoff;
    finish(serial, &d.frame);
    if (link != link_) return;  // a callback closed or replaced the link
  }
  in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(pos));
  read();
}

void GatewayClient::send(std::uint16_t serial, const std::string& name, std::uint16_t qtype,
                         bool typed) {
  const bool sent = typed && offer_ == kVersion3 ? encode(out_, Query3{serial, qtype, name})
                                                 : encode(out_, Query{serial, name});
  if (!sent) finish(serial, nullptr);
}

// Queries made by the handlers the io_context runs now go out in one write
// (one TLS record, one system call) instead of one each.
void GatewayClient::flush_soon() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(io_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->flush();
  });
}

void GatewayClient::flush() {
  auto link = link_;
  if (!link || link->write_active || out_.empty() || !link->tcp().is_open()) return;
  link->writing.swap(out_);
  out_.clear();
  link->write_active = true;
  link->write([self = shared_from_this(), link](const asio::error_code& ec, std::size_t) {
    link->write_active = false;
    link->writing.clear();
    if (link != self->link_) return;
    if (ec) {
      link->close();  // the pending read reports it
      return;
    }
    self->flush();
  });
}

// Connected but silent (a hung process, a host gone from the network): not
// healthy until a reply comes. Queries sent before it was suspect, timing out
// after the first, do not lengthen the back-off; the probe does.
void GatewayClient::timed_out(std::uint16_t serial) {
  if (outstanding_.count(serial) == 0) return;
  const bool again = !suspect_ || probe_ == serial;
  suspect_ = true;
  finish(serial, nullptr);
  if (again) probe_later();
}

void GatewayClient::probe_later() {
  probe_timer_.expires_after(backoff_);
  backoff_ = std::min(backoff_ * 2, config_.max_backoff);
  probe_timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (auto self = weak.lock(); self && !ec) self->probe();
  });
}

// A name no server holds (not device.user.agent): any answer says the server
// is back, and asking it has no effect there.
void GatewayClient::probe() {
  if (closed_ || !suspect_ || probe_) return;
  probe_ = enqueue(
      std::string(kProbeName), 0, [](std::optional<Answer>) {}, nullptr);
  if (!probe_) probe_later();  // no connection now: again after the next back-off
}

void GatewayClient::arm_deadlines() {
  if (deadline_armed_ || deadlines_.empty()) return;
  deadline_armed_ = true;
  deadline_timer_.expires_at(deadlines_.front().first);
  deadline_timer_.async_wait([weak = weak_from_this()](const asio::error_code& ec) {
    if (auto self = weak.lock()) {
      self->deadline_armed_ = false;
      if (!ec) self->on_deadlines();
    }
  });
}

// Entries of queries answered meanwhile (or of a serial since reused, with
// another deadline) are skipped.
void GatewayClient::on_deadlines() {
  const auto now = std::chrono::steady_clock::now();
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    const auto [deadline, serial] = deadlines_.front();
    deadlines_.pop_front();
    const auto it = outstanding_.find(serial);
    if (it != outstanding_.end() && it->second.deadline == deadline) timed_out(serial);
  }
  prune_deadlines();
  arm_deadlines();
}

// Drops answered entries at the front: replies come mostly in order, so the
// queue stays about as long as what is outstanding.
void GatewayClient::prune_deadlines() {
  while (!deadlines_.empty()) {
    const auto it = outstanding_.find(deadlines_.front().second);
    if (it != outstanding_.end() && it->second.deadline == deadlines_.front().first) break;
    deadlines_.pop_front();
  }
}

bool GatewayClient::healthy() const noexcept { return state_ != State::waiting && !suspect_; }

void GatewayClient::finish(std::uint16_t serial, const Frame* reply) {
  const auto it = outstanding_.find(serial);
  if (it == outstanding_.end()) return;  // timed out already, or an unknown serial
  if (probe_ == serial) probe_.reset();
  auto o = std::move(it->second);
  outstanding_.erase(it);
  prune_deadlines();
  const auto* a3 = reply ? std::get_if<Answer3>(reply) : nullptr;
  std::optional<Answer> a;
  if (const auto* a2 = reply ? std::get_if<Answer>(reply) : nullptr) a = *a2;
  if (const auto* r1 = reply ? std::get_if<Reply>(reply) : nullptr) a = from_v1(*r1);
  if (!o.done3) return o.done(a);  // an ANSWER3 to a QUERY: no answer
  if (a3) return o.done3(*a3);
  if (a) return o.done3(from_v2(*a, o.qtype));
  o.done3(std::nullopt);
}

void GatewayClient::fail_all() {
  // The probe failed with the connection: another after the next back-off.
  if (probe_) {
    probe_.reset();
    if (!closed_) probe_later();
  }
  waiting_.clear();
  auto all = std::move(outstanding_);
  outstanding_.clear();
  deadlines_.clear();
  for (auto& [serial, o] : all) {
    if (o.done3) {
      o.done3(std::nullopt);
    } else {
      o.done(std::nullopt);
    }
  }
}

}  // namespace pweb::gateway
