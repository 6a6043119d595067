#include "pweb/gateway/client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "pweb/gateway/server.hpp"

namespace pweb::gateway {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() : guard_(asio::make_work_guard(io_)) {
    ServerConfig cfg;
    cfg.port = 0;
    server_ = std::make_unique<GatewayServer>(cfg, [this](const std::string& name, auto done) {
      (name == "pweb-probe" ? probes_ : others_)++;
      if (mute_) return;                    // a hung server
      if (name == "slow.alice.uw") return;  // the server's own 30 s deadline is far away
      if (name.rfind("d", 0) == 0) {
        const auto n = static_cast<std::uint8_t>(std::stoi(name.substr(1)) % 256);
        return done(Answer{0, AnswerStatus::found, 30, {{10, 0, 0, n}}, {{0x20, 0x01, 0, n}}});
      }
      done(Answer{0, AnswerStatus::absent, 30, {}, {}});
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ClientTest() override {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  std::optional<Answer> ask(const std::shared_ptr<GatewayClient>& c, const std::string& name) {
    std::promise<std::optional<Answer>> p;
    c->query(name, [&](std::optional<Answer> r) { p.set_value(r); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << name;
    return f.get();
  }

  // healthy() read on the io thread, as the resolver reads it.
  bool healthy(const std::shared_ptr<GatewayClient>& c) {
    std::promise<bool> p;
    asio::post(io_, [&] { p.set_value(c->healthy()); });
    return p.get_future().get();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::atomic<bool> mute_{false};
  std::atomic<int> probes_{0}, others_{0};
  std::unique_ptr<GatewayServer> server_;
  std::thread thread_;
};

TEST_F(ClientTest, ManyPipelinedQueriesOneConnection) {
  auto c = GatewayClient::create(io_, "127.0.0.1", server_->port());
  constexpr int kQueries = 500;
  std::vector<std::promise<std::optional<Answer>>> ps(kQueries);
  for (int i = 0; i < kQueries; ++i) {
    c->query("d" + std::to_string(i), [&ps, i](std::optional<Answer> r) { ps[i].set_value(r); });
  }
  for (int i = 0; i < kQueries; ++i) {
    auto f = ps[i].get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << i;
    const auto r = f.get();
    ASSERT_TRUE(r && r->status == AnswerStatus::found) << i;
    ASSERT_EQ(r->ipv4.size(), 1u);
    EXPECT_EQ(r->ipv4[0][3], i % 256) << i;
    ASSERT_EQ(r->ipv6.size(), 1u);  // v2: both addresses and the TTL
    EXPECT_EQ(r->ipv6[0][3], i % 256) << i;
    EXPECT_EQ(r->ttl, 30u);
  }
  EXPECT_EQ(ask(c, "nosuch.alice.uw")->status, AnswerStatus::absent);
  EXPECT_EQ(c->version(), kVersion2);
  c->close();
}

// Agents given by host name (compose services): resolved when connecting; a name
// that does not resolve fails the query at once, like a refused connection.
TEST_F(ClientTest, HostNamesAreResolved) {
  auto c = GatewayClient::create(io_, "localhost", server_->port());
  const auto r = ask(c, "d7");
  ASSERT_TRUE(r && r->status == AnswerStatus::found);
  EXPECT_EQ(r->ipv4.at(0)[3], 7);
  c->close();
  auto bad = GatewayClient::create(io_, "no-such-host.invalid", server_->port());
  EXPECT_FALSE(ask(bad, "d7"));
  bad->close();
}

TEST_F(ClientTest, SilentServerTimesOutDeadServerFailsFast) {
  ClientConfig cfg;
  cfg.timeout = std::chrono::milliseconds(200);
  auto c = GatewayClient::create(io_, "127.0.0.1", server_->port(), cfg);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ask(c, "slow.alice.uw"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_TRUE(ask(c, "d1"));  // the connection is still good after a timeout
  c->close();

  const auto port = server_->port();
  server_->stop();
  server_.reset();
  auto dead = GatewayClient::create(io_, "127.0.0.1", port, cfg);
  EXPECT_FALSE(ask(dead, "d1"));
  dead->close();
}

// A query that timed out makes the client unhealthy, and no caller's query
// is needed to learn that the server is back: the client probes it itself
// after each back-off, and is healthy again at the first answer.
TEST_F(ClientTest, AHungServerIsProbedByTheClientUntilItAnswers) {
  ClientConfig cfg;
  cfg.timeout = std::chrono::milliseconds(200);
  auto c = GatewayClient::create(io_, "127.0.0.1", server_->port(), cfg);
  ASSERT_TRUE(ask(c, "d1"));
  EXPECT_TRUE(healthy(c));
  mute_ = true;
  EXPECT_FALSE(ask(c, "d2"));
  EXPECT_FALSE(healthy(c));
  const int asked = others_;
  // Back-offs of 100, 200, 400 ms, each probe waiting its 200 ms timeout.
  for (int i = 0; i < 50 && probes_ < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GE(probes_, 2);
  EXPECT_FALSE(healthy(c));
  mute_ = false;
  bool back = false;
  for (int i = 0; i < 100 && !back; ++i) {  // the next probe: within 800 ms + 200 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    back = healthy(c);
  }
  EXPECT_TRUE(back);
  EXPECT_EQ(others_, asked);  // only probes reached it meanwhile
  c->close();
}

// A server that only speaks v1 (the 2013 gateway's protocol): it tells a v2
// client "1" and closes; the client comes back with v1 and keeps it.
class VersionOneServer {
 public:
  VersionOneServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 8);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~VersionOneServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::uint16_t port() const { return port_; }
  std::vector<std::uint16_t> offered() {
    std::lock_guard lock(m_);
    return offered_;
  }

 private:
  // Bounded: every wait polls with a timeout and checks stop_.
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }
  void serve() {
    while (readable(fd_)) {
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::vector<std::uint8_t> in;
      bool handshaken = false;
      std::uint8_t buf[512];
      while (readable(c)) {
        const auto n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        in.insert(in.end(), buf, buf + n);
        std::size_t pos = 0;
        std::vector<std::uint8_t> out;
        if (!handshaken) {
          const auto v = decode_version(in);
          if (!v) continue;
          {
            std::lock_guard lock(m_);
            offered_.push_back(*v);
          }
          encode_version(out, kVersion);
          if (*v != kVersion) {
            ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
            break;
          }
          handshaken = true;
          pos = 2;
        }
        for (;;) {
          const auto d = decode(std::span(in).subspan(pos));
          if (d.status != DecodeStatus::frame) break;
          pos += d.consumed;
          const auto& q = std::get<Query>(d.frame);
          encode(out, Reply{q.serial, true, 4, {192, 0, 2, 77}});
        }
        in.erase(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(pos));
        ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex m_;
  std::vector<std::uint16_t> offered_;
  std::thread thread_;
};

TEST_F(ClientTest, FallsBackToVersionOneWithAVersionOneServer) {
  VersionOneServer old;
  auto c = GatewayClient::create(io_, "127.0.0.1", old.port());
  const auto r = ask(c, "laptop.alice.uw");  // waits through the second connection
  ASSERT_TRUE(r && r->status == AnswerStatus::found);
  EXPECT_EQ(r->ipv4, (std::vector<std::array<std::uint8_t, 4>>{{192, 0, 2, 77}}));
  EXPECT_EQ(r->ttl, 0u);  // v1 says none
  EXPECT_TRUE(ask(c, "again.alice.uw"));
  EXPECT_EQ(old.offered(), (std::vector<std::uint16_t>{kVersion3, kVersion}));
  c->close();
}

std::optional<Answer3> ask3(asio::io_context&, const std::shared_ptr<GatewayClient>& c,
                            const std::string& name, std::uint16_t qtype) {
  std::promise<std::optional<Answer3>> p;
  c->query(name, qtype, [&](std::optional<Answer3> r) { p.set_value(r); });
  auto f = p.get_future();
  EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << name;
  return f.get();
}

// A v3 server: typed questions go out as QUERY3 and come back whole.
TEST_F(ClientTest, TypedQueriesOverVersionThree) {
  ServerConfig cfg;
  cfg.port = 0;
  GatewayServer v3(
      cfg,
      [](const std::string&, auto done) {
        done(Answer{0, AnswerStatus::absent, 5, {}, {}});
      },
      [](const std::string& name, std::uint16_t qtype, auto done) {
        Answer3 a{0, Answer3Status::absent, 5, {}};
        if (name == "_srv._tcp.laptop.alice.uw" && qtype == 33) {
          a.status = Answer3Status::found;
          a.rrsets.push_back(RRset{"", 33, 40, {std::string("\0\1\0\2\0\x50\0", 7)}});
        }
        done(a);
      });
  v3.start();
  auto c = GatewayClient::create(io_, "127.0.0.1", v3.port());
  auto r = ask3(io_, c, "_srv._tcp.laptop.alice.uw", 33);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Answer3Status::found);
  ASSERT_EQ(r->rrsets.size(), 1u);
  EXPECT_EQ(r->rrsets[0].type, 33);
  EXPECT_EQ(r->rrsets[0].ttl, 40u);
  r = ask3(io_, c, "laptop.alice.uw", 16);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Answer3Status::absent);
  // The address API still works over v3 (QUERY, answered with ANSWER).
  const auto a = ask(c, "laptop.alice.uw");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, AnswerStatus::absent);
  EXPECT_EQ(v3.stats().queries_by_version[2], 2u);
  c->close();
}

// A v2 server (no Resolve3): the client reconnects with v2 and converts.
TEST_F(ClientTest, FallsBackToVersionTwoForTypedQueries) {
  auto c = GatewayClient::create(io_, "127.0.0.1", server_->port());
  auto r = ask3(io_, c, "d7", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Answer3Status::found);
  ASSERT_EQ(r->rrsets.size(), 1u);
  EXPECT_EQ(r->rrsets[0].type, 1);
  EXPECT_EQ(r->rrsets[0].rdata[0], std::string("\x0a\x00\x00\x07", 4));
  r = ask3(io_, c, "d7", 16);  // v2 carries no TXT
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Answer3Status::nodata);
  r = ask3(io_, c, "nosuch", 16);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Answer3Status::absent);
  const auto st = server_->stats();
  EXPECT_EQ(st.queries_by_version[2], 0u);
  EXPECT_EQ(st.queries_by_version[1], 3u);
  c->close();
}

// Told to, a client offers v2 at most (a gateway asking its home agents).
TEST_F(ClientTest, MaxVersionIsOffered) {
  VersionOneServer old;
  ClientConfig cc;
  cc.max_version = kVersion2;
  auto c = GatewayClient::create(io_, "127.0.0.1", old.port(), cc);
  const auto r = ask3(io_, c, "laptop.alice.uw", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, Answer3Status::found);
  EXPECT_EQ(old.offered(), (std::vector<std::uint16_t>{kVersion2, kVersion}));
  c->close();
}

}  // namespace
}  // namespace pweb::gateway
