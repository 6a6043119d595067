#include "pweb/gateway/tls.hpp"

#include <gtest/gtest.h>

#include <asio.hpp>
#include <future>
#include <thread>

#include "pweb/gateway/client.hpp"
#include "pweb/gateway/server.hpp"
#include "temp_dir.hpp"
#include "test_identity.hpp"

namespace pweb::gateway {
namespace {

using namespace std::chrono_literals;

class TlsTest : public ::testing::Test {
 protected:
  TlsTest()
      : agent_(dir_.path(), "agent"),
        stranger_(dir_.path(), "stranger"),
        guard_(asio::make_work_guard(io_)) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TlsTest() override {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  // A server answering every name with 192.0.2.<n>, TLS with `id`.
  std::unique_ptr<GatewayServer> serve(const testutil::TestIdentity& id, std::uint8_t n,
                                       std::chrono::milliseconds idle = 300s) {
    ServerConfig cfg;
    cfg.port = 0;
    cfg.idle_timeout = idle;
    cfg.tls = make_server_tls(id.cert, id.key);
    // A v3 server, as agents are: the client's first offer is taken.
    auto s = std::make_unique<GatewayServer>(
        cfg,
        [n](const std::string&, auto done) {
          done(Answer{0, AnswerStatus::found, 30, {{192, 0, 2, n}}, {}});
        },
        [](const std::string&, std::uint16_t, auto done) { done(Answer3{}); });
    s->start();
    return s;
  }

  std::optional<Answer> ask(const std::shared_ptr<GatewayClient>& c, const std::string& name) {
    std::promise<std::optional<Answer>> p;
    c->query(name, [&](std::optional<Answer> r) { p.set_value(r); });
    auto f = p.get_future();
    EXPECT_EQ(f.wait_for(5s), std::future_status::ready) << name;
    return f.get();
  }
  // Runs `f` on the client's io thread (its state is read there only).
  template <class F>
  auto on_io(F f) {
    std::promise<decltype(f())> p;
    asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }

  std::shared_ptr<GatewayClient> client(std::uint16_t port, PeerKey key) {
    ClientConfig cc;
    cc.timeout = 2s;
    cc.tls = make_client_tls();
    cc.peer_key = std::move(key);
    return GatewayClient::create(io_, "127.0.0.1", port, cc);
  }

  testutil::TempDir dir_;
  testutil::TestIdentity agent_, stranger_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::thread thread_;
};

TEST(KeyId, IsTheSha1OfTheSubjectPublicKeyInfoAsOpenDhtPrintsIt) {
  EXPECT_EQ(key_id_of({'a', 'b', 'c'}), "a9993e364706816aba3e25717850c26c9cd0d89d");
  PeerKey by_id{{}, key_id_of({1, 2, 3})};
  EXPECT_TRUE(key_matches(by_id, {1, 2, 3}));
  EXPECT_FALSE(key_matches(by_id, {1, 2, 4}));
  PeerKey by_spki{{1, 2, 3}, ""};
  EXPECT_TRUE(key_matches(by_spki, {1, 2, 3}));
  EXPECT_FALSE(key_matches(by_spki, {1, 2}));
  EXPECT_FALSE(key_matches(PeerKey{}, {1, 2, 3}));  // nothing expected: nothing trusted
  EXPECT_FALSE(key_matches(by_spki, {}));
}

TEST(ServerTls, AMissingOrMismatchedKeyIsAClearStartupError) {
  testutil::TempDir dir;
  testutil::TestIdentity a(dir.path(), "a"), b(dir.path(), "b");
  EXPECT_THROW(make_server_tls(dir.path() / "none.crt", a.key), TlsError);
  try {
    make_server_tls(a.cert, b.key);
    FAIL() << "a key that is not the certificate's was accepted";
  } catch (const TlsError& e) {
    EXPECT_NE(std::string(e.what()).find(b.key.string()), std::string::npos) << e.what();
  }
}

TEST_F(TlsTest, TheAgentHoldingTheExpectedKeyIsAnsweredOverOneConnection) {
  auto server = serve(agent_, 1);
  auto c = client(server->port(), PeerKey{agent_.spki, ""});
  for (int i = 0; i < 50; ++i) {
    const auto r = ask(c, "d" + std::to_string(i) + ".alice.uw");
    ASSERT_TRUE(r && r->status == AnswerStatus::found) << i;
    EXPECT_EQ(r->ipv4.at(0)[3], 1);
  }
  EXPECT_EQ(server->stats().tls_connections, 1u);
  EXPECT_EQ(on_io([&] { return c->tls_handshakes(); }), 1u);
  EXPECT_TRUE(on_io([&] { return c->untrusted_key(); }).empty());
  // The key id form (a standalone gateway told its agents' keys) works too.
  auto by_id = client(server->port(), PeerKey{{}, key_id_of(agent_.spki)});
  EXPECT_TRUE(ask(by_id, "x.alice.uw").has_value());
  c->close();
  by_id->close();
}

// Whoever took the agent's address without its key is never asked, never believed.
TEST_F(TlsTest, AServerWithAnotherKeyIsNeverAskedNorBelieved) {
  auto impostor = serve(stranger_, 66);
  auto c = client(impostor->port(), PeerKey{agent_.spki, ""});
  const auto r = ask(c, "laptop.alice.uw");
  EXPECT_FALSE(r.has_value());
  EXPECT_EQ(on_io([&] { return c->untrusted_key(); }), key_id_of(stranger_.spki));
  EXPECT_EQ(impostor->queries(), 0u);  // the name never left the client
  // The key id form is checked as strictly.
  auto by_id = client(impostor->port(), PeerKey{{}, key_id_of(agent_.spki)});
  EXPECT_FALSE(ask(by_id, "laptop.alice.uw").has_value());
  EXPECT_EQ(impostor->queries(), 0u);
  c->close();
  by_id->close();
}

// A plain (v1/v2) server where TLS is expected: the handshake fails, nothing believed.
TEST_F(TlsTest, APlainServerWhereTlsIsExpectedIsNotBelieved) {
  ServerConfig cfg;
  cfg.port = 0;
  GatewayServer plain(cfg, [](const std::string&, auto done) {
    done(Answer{0, AnswerStatus::found, 30, {{6, 6, 6, 6}}, {}});
  });
  plain.start();
  auto c = client(plain.port(), PeerKey{agent_.spki, ""});
  EXPECT_FALSE(ask(c, "laptop.alice.uw").has_value());
  EXPECT_EQ(plain.queries(), 0u);
  c->close();
}

// Plain v2 (standalone and 2013 gateways) keeps working on the TLS port.
TEST_F(TlsTest, PlainClientsAreServedOnTheSamePort) {
  auto server = serve(agent_, 3);
  auto plain = GatewayClient::create(io_, "127.0.0.1", server->port(), ClientConfig{});
  const auto r = ask(plain, "laptop.alice.uw");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->ipv4.at(0)[3], 3);
  EXPECT_EQ(server->stats().tls_connections, 0u);
  plain->close();
}

// A connection the server closed as idle comes back resumed: no RSA signature.
TEST_F(TlsTest, AReconnectResumesTheSession) {
  auto server = serve(agent_, 4, 300ms);
  auto c = client(server->port(), PeerKey{agent_.spki, ""});
  ASSERT_TRUE(ask(c, "a.alice.uw").has_value());
  const auto end = std::chrono::steady_clock::now() + 5s;
  while (server->stats().idle_closed == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(server->stats().idle_closed, 1u);
  std::this_thread::sleep_for(100ms);  // the client sees the close
  std::optional<Answer> r;
  for (int i = 0; i < 20 && !r; ++i) r = ask(c, "b.alice.uw");  // a query may meet the close
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(on_io([&] { return c->tls_handshakes(); }), 2u);
  EXPECT_EQ(on_io([&] { return c->tls_resumed(); }), 1u);
  c->close();
}

}  // namespace
}  // namespace pweb::gateway
