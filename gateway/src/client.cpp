#include "pweb/gateway/client.hpp"

namespace pweb::gateway {

std::shared_ptr<GatewayClient> GatewayClient::create(asio::io_context& io, std::string host,
                                                     std::uint16_t port, ClientConfig config) {
  return std::make_shared<GatewayClient>(io, std::move(host), port, config);
}

GatewayClient::GatewayClient(asio::io_context& io, std::string host, std::uint16_t port,
                             ClientConfig config)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      config_(config),
      socket_(io),
      resolver_(io),
      backoff_timer_(io),
      backoff_(config.min_backoff) {}

void GatewayClient::query(std::string name, Done done) {
  if (io_.get_executor().running_in_this_thread()) {
    enqueue(std::move(name), std::move(done));
    return;
  }
  asio::post(io_,
             [self = shared_from_this(), name = std::move(name), done = std::move(done)]() mutable {
               self->enqueue(std::move(name), std::move(done));
             });
}

void GatewayClient::close() {
  asio::post(io_, [self = shared_from_this()] {
    self->closed_ = true;
    self->backoff_timer_.cancel();
    self->resolver_.cancel();
    asio::error_code ignored;
    self->socket_.close(ignored);
    self->fail_all();
  });
}

std::uint16_t GatewayClient::next_serial() {
  do {
    ++serial_;
  } while (outstanding_.count(serial_) != 0);
  return serial_;
}

void GatewayClient::enqueue(std::string name, Done done) {
  // Backing off after a failed connection: say so now rather than at the timeout.
  if (closed_ || state_ == State::waiting || outstanding_.size() >= 65000) {
    return done(std::nullopt);
  }
  const std::uint16_t serial = next_serial();
  auto timer = std::make_shared<asio::steady_timer>(io_, config_.timeout);
  timer->async_wait([weak = weak_from_this(), serial](const asio::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->timed_out(serial);
  });
  outstanding_.emplace(serial, Outstanding{std::move(done), timer});
  if (state_ == State::ready) {
    send(Query{serial, std::move(name)});
    flush();
    return;
  }
  waiting_.emplace_back(serial, std::move(name));
  if (state_ == State::idle) connect();
}

void GatewayClient::connect() {
  state_ = State::connecting;
  handshaken_ = false;
  in_.clear();
  socket_ = asio::ip::tcp::socket(io_);
  asio::error_code ec;
  const auto addr = asio::ip::make_address(host_, ec);
  if (!ec) {
    socket_.async_connect({addr, port_}, [self = shared_from_this()](const asio::error_code& err) {
      self->on_connect(err);
    });
    return;
  }
  // A host name (a compose service, say): looked up on every connect, so an
  // agent that moved is found again.
  resolver_.async_resolve(
      host_, std::to_string(port_),
      [self = shared_from_this()](const asio::error_code& err,
                                  const asio::ip::tcp::resolver::results_type& found) {
        if (self->closed_) return;
        if (err) return self->on_connect(err);
        asio::async_connect(self->socket_, found,
                            [self](const asio::error_code& e, const asio::ip::tcp::endpoint&) {
                              self->on_connect(e);
                            });
      });
}

void GatewayClient::on_connect(const asio::error_code& err) {
  if (closed_) return;
  if (err) {
    // Fail what waits now, and do not try again before the back-off.
    fail_all();
    state_ = State::waiting;
    backoff_timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, config_.max_backoff);
    backoff_timer_.async_wait([self = shared_from_this()](const asio::error_code& e) {
      if (e || self->closed_) return;
      self->state_ = State::idle;
      if (!self->waiting_.empty()) self->connect();
    });
    return;
  }
  on_connected();
}

void GatewayClient::on_connected() {
  asio::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  encode_version(out_, offer_);
  flush();
  read();
}

void GatewayClient::read() {
  const std::size_t old = in_.size();
  in_.resize(old + 4096);
  socket_.async_read_some(
      asio::buffer(in_.data() + old, 4096),
      [self = shared_from_this(), old](const asio::error_code& ec, std::size_t n) {
        self->in_.resize(old + (ec ? 0 : n));
        if (ec) {
          asio::error_code ignored;
          self->socket_.close(ignored);
          self->state_ = State::idle;
          self->fail_all();
          return;
        }
        std::size_t pos = 0;
        if (!self->handshaken_) {
          const auto v = decode_version(self->in_);
          if (!v) return self->read();
          if (*v == kVersion && self->offer_ == kVersion2) {
            // A v1-only server: it closes now; reconnect at once offering v1,
            // with the queries that wait still waiting.
            self->offer_ = kVersion;
            asio::error_code ignored;
            self->socket_.close(ignored);
            return self->connect();
          }
          if (*v != self->offer_) {
            asio::error_code ignored;
            self->socket_.close(ignored);  // the read fails next
            return self->read();
          }
          pos = 2;
          self->handshaken_ = true;
          self->state_ = State::ready;
          self->backoff_ = self->config_.min_backoff;
          while (!self->waiting_.empty()) {
            auto [serial, name] = std::move(self->waiting_.front());
            self->waiting_.pop_front();
            if (self->outstanding_.count(serial)) self->send(Query{serial, name});
          }
          self->flush();
        }
        for (;;) {
          const auto d = decode(std::span(self->in_).subspan(pos));
          if (d.status == DecodeStatus::need_more) break;
          // Only the reply frame of the version agreed on.
          const bool expected = self->offer_ == kVersion2 ? std::holds_alternative<Answer>(d.frame)
                                                          : std::holds_alternative<Reply>(d.frame);
          if (d.status == DecodeStatus::malformed || !expected) {
            asio::error_code ignored;
            self->socket_.close(ignored);  // a lying server: start over
            break;
          }
          pos += d.consumed;
          Answer a = self->offer_ == kVersion2 ? std::get<Answer>(d.frame)
                                               : from_v1(std::get<Reply>(d.frame));
          self->suspect_until_ = {};
          self->backoff_ = self->config_.min_backoff;
          self->finish(a.serial, std::move(a));
        }
        self->in_.erase(self->in_.begin(), self->in_.begin() + static_cast<std::ptrdiff_t>(pos));
        self->read();
      });
}

void GatewayClient::send(const Query& q) {
  if (!encode(out_, q)) finish(q.serial, std::nullopt);
}

void GatewayClient::flush() {
  if (writing_ || out_.empty() || !socket_.is_open()) return;
  writing_buf_.swap(out_);
  out_.clear();
  writing_ = true;
  asio::async_write(socket_, asio::buffer(writing_buf_),
                    [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                      self->writing_ = false;
                      self->writing_buf_.clear();
                      if (ec) {
                        asio::error_code ignored;
                        self->socket_.close(ignored);  // the pending read reports it
                        return;
                      }
                      self->flush();
                    });
}

// Connected but silent (a hung process, a host gone from the network): not
// healthy until a reply comes, or for a back-off, after which one query probes it.
void GatewayClient::timed_out(std::uint16_t serial) {
  if (outstanding_.count(serial) == 0) return;
  suspect_until_ = std::chrono::steady_clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, config_.max_backoff);
  finish(serial, std::nullopt);
}

bool GatewayClient::healthy() const noexcept {
  return state_ != State::waiting && std::chrono::steady_clock::now() >= suspect_until_;
}

void GatewayClient::finish(std::uint16_t serial, std::optional<Answer> r) {
  const auto it = outstanding_.find(serial);
  if (it == outstanding_.end()) return;  // timed out already, or an unknown serial
  auto o = std::move(it->second);
  outstanding_.erase(it);
  o.timer->cancel();
  o.done(std::move(r));
}

void GatewayClient::fail_all() {
  waiting_.clear();
  auto all = std::move(outstanding_);
  outstanding_.clear();
  for (auto& [serial, o] : all) {
    o.timer->cancel();
    o.done(std::nullopt);
  }
}

}  // namespace pweb::gateway
