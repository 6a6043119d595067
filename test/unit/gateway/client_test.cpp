#include "pweb/gateway/client.hpp"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "pweb/gateway/server.hpp"

namespace pweb::gateway {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  ClientTest() : guard_(asio::make_work_guard(io_)) {
    ServerConfig cfg;
    cfg.port = 0;
    server_ = std::make_unique<GatewayServer>(cfg, [](const std::string& name, auto done) {
      if (name == "slow.alice.uw") return;  // the server's own 30 s deadline is far away
      if (name.rfind("d", 0) == 0) {
        const auto n = static_cast<std::uint8_t>(std::stoi(name.substr(1)) % 256);
        return done(Reply{0, true, 4, {10, 0, 0, n}});
      }
      done(Reply{0, false, 0, {}});
    });
    server_->start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ClientTest() override {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  std::optional<Reply> ask(const std::shared_ptr<GatewayClient>& c, const std::string& name) {
    std::promise<std::optional<Reply>> p;
    c->query(name, [&](std::optional<Reply> r) { p.set_value(r); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << name;
    return f.get();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::unique_ptr<GatewayServer> server_;
  std::thread thread_;
};

TEST_F(ClientTest, ManyPipelinedQueriesOneConnection) {
  auto c = GatewayClient::create(io_, "127.0.0.1", server_->port());
  constexpr int kQueries = 500;
  std::vector<std::promise<std::optional<Reply>>> ps(kQueries);
  for (int i = 0; i < kQueries; ++i) {
    c->query("d" + std::to_string(i), [&ps, i](std::optional<Reply> r) { ps[i].set_value(r); });
  }
  for (int i = 0; i < kQueries; ++i) {
    auto f = ps[i].get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready) << i;
    const auto r = f.get();
    ASSERT_TRUE(r && r->success) << i;
    EXPECT_EQ(r->address[3], i % 256) << i;
  }
  EXPECT_FALSE(ask(c, "nosuch.alice.uw")->success);
  c->close();
}

// Agents given by host name (compose services): resolved when connecting; a name
// that does not resolve fails the query at once, like a refused connection.
TEST_F(ClientTest, HostNamesAreResolved) {
  auto c = GatewayClient::create(io_, "localhost", server_->port());
  const auto r = ask(c, "d7");
  ASSERT_TRUE(r && r->success);
  EXPECT_EQ(r->address[3], 7);
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

}  // namespace
}  // namespace pweb::gateway
