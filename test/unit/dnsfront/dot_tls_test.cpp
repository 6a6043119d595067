// DNS over TLS (RFC 7858): the TLS context (bad files named, old TLS refused)
// and the DoT listeners of a real DnsServer, asked by a real TLS client
// (Asio over OpenSSL) that verifies the server's certificate.
#include "dot_tls.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "../dns_test_util.hpp"
#include "../gateway/test_identity.hpp"
#include "../temp_dir.hpp"
#include "pweb/dns/authority.hpp"
#include "pweb/dns/server.hpp"

namespace pweb::dns {
namespace {

using namespace std::chrono_literals;
using testutil::build_query;
using testutil::decode;
using testutil::QuerySpec;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;

// A port free for both TCP and UDP on loopback right now.
std::uint16_t free_port() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    asio::error_code ec;
    asio::ip::udp::socket u(io);
    u.open(asio::ip::udp::v4());
    u.bind(asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return port;
  }
  return 0;
}

std::vector<std::uint8_t> framed(const QuerySpec& q) {
  const auto wire = build_query(q);
  std::vector<std::uint8_t> out{static_cast<std::uint8_t>(wire.size() >> 8),
                                static_cast<std::uint8_t>(wire.size())};
  out.insert(out.end(), wire.begin(), wire.end());
  return out;
}

// The other agent's answers, held until the test lets them go: a query
// waiting for one must not hold up later queries on its connection.
class HeldResolver : public RemoteResolver {
 public:
  void resolve(std::string, std::uint16_t, std::function<void(const RemoteAnswer&)> done) override {
    std::lock_guard lock(mutex_);
    held_.push_back(std::move(done));
  }
  std::size_t held() {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  void release() {
    std::vector<std::function<void(const RemoteAnswer&)>> now;
    {
      std::lock_guard lock(mutex_);
      now.swap(held_);
    }
    RemoteAnswer a;
    a.status = RemoteAnswer::Status::found;
    a.ttl = 30;
    a.entry = registrar::NameEntry::device(registrar::Ipv4{198, 51, 100, 7}, std::nullopt);
    for (auto& d : now) d(a);
  }

 private:
  std::mutex mutex_;
  std::vector<std::function<void(const RemoteAnswer&)>> held_;
};

class DotTest : public ::testing::Test {
 protected:
  DotTest() : id_(dir_.path(), "dot"), authority_(make_authority()), holder_(snapshot()) {}
  ~DotTest() override {
    if (server_) server_->stop();
    resolver_.release();
  }

  static Authority make_authority() {
    AuthorityConfig cfg;
    cfg.label = "uw";
    cfg.resolve_remote = true;
    return Authority(cfg);
  }
  static std::shared_ptr<const registrar::Snapshot> snapshot() {
    std::vector<registrar::DeviceRecord> recs(1);
    recs[0].name = "laptop.alice.uw";
    recs[0].ipv4 = registrar::parse_ipv4("192.0.2.10");
    return registrar::Snapshot::build(recs, 1);
  }

  void serve(ServerConfig cfg = {}) {
    dns_port_ = free_port();
    dot_port_ = free_port();
    ASSERT_NE(dns_port_, 0);
    ASSERT_NE(dot_port_, 0);
    cfg.listen = {{"127.0.0.1", dns_port_}};
    cfg.dot_listen = {{"127.0.0.1", dot_port_}};
    cfg.tls_cert = id_.cert.string();
    cfg.tls_key = id_.key.string();
    server_ = std::make_unique<DnsServer>(cfg, authority_, holder_, &resolver_);
    server_->start();
  }

  // A client that trusts only the test's certificate.
  asio::ssl::context client_context(int max_version = 0) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    ctx.load_verify_file(id_.cert.string());
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (max_version != 0) {
      SSL_CTX_set_min_proto_version(ctx.native_handle(), max_version);
      SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
      // Let this client offer what the server must refuse.
      SSL_CTX_set_cipher_list(ctx.native_handle(), "ALL:@SECLEVEL=0");
    }
    return ctx;
  }

  tcp::socket connect_tcp(std::uint16_t port) {
    tcp::socket s(io_);
    s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    return s;
  }

  std::unique_ptr<TlsStream> connect_tls(asio::ssl::context& ctx, asio::error_code& ec) {
    auto s = std::make_unique<TlsStream>(connect_tcp(dot_port_), ctx);
    s->handshake(asio::ssl::stream_base::client, ec);
    return s;
  }

  // Reads one framed message, or nullopt on EOF, error or after `limit`.
  template <typename Stream>
  static std::optional<std::vector<std::uint8_t>> read_frame(Stream& s,
                                                             std::chrono::milliseconds limit) {
    set_timeout(s.lowest_layer(), limit);
    std::uint8_t len[2];
    asio::error_code ec;
    asio::read(s, asio::buffer(len), ec);
    if (ec) return std::nullopt;
    std::vector<std::uint8_t> msg(std::size_t{len[0]} << 8 | len[1]);
    asio::read(s, asio::buffer(msg), ec);
    if (ec) return std::nullopt;
    return msg;
  }
  // Blocking reads that give up: SO_RCVTIMEO under Asio's synchronous calls.
  static void set_timeout(tcp::socket::lowest_layer_type& s, std::chrono::milliseconds limit) {
    timeval tv{static_cast<time_t>(limit.count() / 1000),
               static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
    setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  // Whether the server closes `s` within `limit` (reading whatever comes).
  static bool closed_within(tcp::socket& s, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    std::uint8_t buf[512];
    while (std::chrono::steady_clock::now() < end) {
      set_timeout(s, 100ms);
      asio::error_code ec;
      s.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::eof || ec == asio::error::connection_reset) return true;
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return true;
    }
    return false;
  }

  pweb::testutil::TempDir dir_;
  pweb::testutil::TestIdentity id_;
  Authority authority_;
  registrar::SnapshotHolder holder_;
  HeldResolver resolver_;
  asio::io_context io_;
  std::unique_ptr<DnsServer> server_;
  std::uint16_t dns_port_ = 0;
  std::uint16_t dot_port_ = 0;
};

TEST_F(DotTest, AnswersOverTlsAndCountsDotApart) {
  serve();
  auto ctx = client_context();
  asio::error_code ec;
  auto s = connect_tls(ctx, ec);
  ASSERT_FALSE(ec) << ec.message();
  QuerySpec q;
  q.id = 0x4242;
  asio::write(*s, asio::buffer(framed(q)));
  const auto got = read_frame(*s, 2s);
  ASSERT_TRUE(got);
  const auto d = decode(*got);
  ASSERT_TRUE(d.ok);
  EXPECT_EQ(d.header.id, 0x4242);
  EXPECT_EQ(d.rcode(), 0);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{192, 0, 2, 10}));
  const auto st = server_->stats();
  EXPECT_EQ(st.dot_queries, 1u);
  EXPECT_EQ(st.tcp_queries, 0u);
  EXPECT_EQ(st.dot_connections, 1u);
}

// RFC 7766 §6.2.1.1 as over TCP: a query waiting for another agent does not
// hold up the ones after it on the same connection.
TEST_F(DotTest, PipelinedQueriesAnsweredOutOfOrder) {
  serve();
  auto ctx = client_context();
  asio::error_code ec;
  auto s = connect_tls(ctx, ec);
  ASSERT_FALSE(ec) << ec.message();
  QuerySpec remote;
  remote.name = "desk.bob.ut.dht.";
  remote.id = 1;
  QuerySpec local;
  local.id = 2;
  auto both = framed(remote);
  const auto second = framed(local);
  both.insert(both.end(), second.begin(), second.end());
  asio::write(*s, asio::buffer(both));
  const auto first = read_frame(*s, 2s);
  ASSERT_TRUE(first);
  EXPECT_EQ(decode(*first).header.id, 2);
  for (int i = 0; i < 200 && resolver_.held() == 0; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(resolver_.held(), 1u);
  resolver_.release();
  const auto later = read_frame(*s, 2s);
  ASSERT_TRUE(later);
  const auto d = decode(*later);
  EXPECT_EQ(d.header.id, 1);
  ASSERT_EQ(d.answer.size(), 1u);
  EXPECT_EQ(d.answer[0].rdata, (std::vector<std::uint8_t>{198, 51, 100, 7}));
}

TEST_F(DotTest, StalledHandshakeIsCutAtItsDeadline) {
  ServerConfig cfg;
  cfg.tls_handshake_timeout = 300ms;
  cfg.tcp_idle_timeout = 30s;  // not what cuts it
  serve(cfg);
  auto s = connect_tcp(dot_port_);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(closed_within(s, 3s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  // Counted when the aborted handshake's handler runs, just after the close
  // the client saw.
  for (int i = 0; i < 200 && server_->stats().dot_handshake_failures == 0; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(server_->stats().dot_handshake_failures, 1u);
}

TEST_F(DotTest, PlainDnsOnTheDotPortGetsNoAnswer) {
  serve();
  auto s = connect_tcp(dot_port_);
  asio::write(s, asio::buffer(framed(QuerySpec{})));
  EXPECT_FALSE(read_frame(s, 2s)) << "a DNS answer in clear on the DoT port";
  EXPECT_EQ(server_->stats().dot_queries, 0u);
}

TEST_F(DotTest, IdleConnectionClosedAfterTheHandshake) {
  ServerConfig cfg;
  cfg.tcp_idle_timeout = 300ms;
  serve(cfg);
  auto ctx = client_context();
  asio::error_code ec;
  auto s = connect_tls(ctx, ec);
  ASSERT_FALSE(ec) << ec.message();
  asio::write(*s, asio::buffer(framed(QuerySpec{})));
  ASSERT_TRUE(read_frame(*s, 2s));
  EXPECT_TRUE(closed_within(s->next_layer(), 3s));
}

// The per-thread limit counts DoT connections apart: DoT clients at the
// limit are refused more, TCP still served.
TEST_F(DotTest, ConnectionLimitPerThread) {
  ServerConfig cfg;
  cfg.threads = 1;
  cfg.max_tcp_connections_per_thread = 2;
  serve(cfg);
  auto ctx = client_context();
  asio::error_code ec;
  auto a = connect_tls(ctx, ec);
  ASSERT_FALSE(ec);
  auto b = connect_tls(ctx, ec);
  ASSERT_FALSE(ec);
  auto c = connect_tls(ctx, ec);
  EXPECT_TRUE(ec) << "a third DoT connection was served over a limit of 2";
  auto plain = connect_tcp(dns_port_);
  asio::write(plain, asio::buffer(framed(QuerySpec{})));
  EXPECT_TRUE(read_frame(plain, 2s));
  // One closed: room again.
  a.reset();
  std::this_thread::sleep_for(200ms);
  auto d = connect_tls(ctx, ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST_F(DotTest, OldTlsIsRefused) {
  serve();
  for (const int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    auto ctx = client_context(version);
    asio::error_code ec;
    auto s = connect_tls(ctx, ec);
    EXPECT_TRUE(ec) << "handshake at TLS version " << version << " accepted";
  }
  auto ctx = client_context(TLS1_2_VERSION);
  asio::error_code ec;
  auto s = connect_tls(ctx, ec);
  EXPECT_FALSE(ec) << "TLS 1.2: " << ec.message();
}

// Both would bind (SO_REUSEPORT) and the kernel would split clients between them.
TEST_F(DotTest, DotOnADnsListenersPortIsRefused) {
  const auto port = free_port();
  for (const char* dot_host : {"127.0.0.1", "0.0.0.0"}) {
    ServerConfig cfg;
    cfg.listen = {{"127.0.0.1", port}};
    cfg.dot_listen = {{dot_host, port}};
    cfg.tls_cert = id_.cert.string();
    cfg.tls_key = id_.key.string();
    try {
      DnsServer s(cfg, authority_, holder_, &resolver_);
      ADD_FAILURE() << "DoT on " << dot_host << " shares the DNS port";
    } catch (const BindError& e) {
      EXPECT_NE(std::string(e.what()).find("share the port"), std::string::npos) << e.what();
    }
  }
}

TEST(DotTls, BadFilesAreNamed) {
  pweb::testutil::TempDir dir;
  pweb::testutil::TestIdentity a(dir.path(), "a"), b(dir.path(), "b");
  const auto junk = dir.path() / "junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  try {
    make_dot_tls(junk.string(), a.key.string());
    FAIL() << "junk accepted as a certificate";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(junk.string()), std::string::npos) << e.what();
  }
  try {
    make_dot_tls(a.cert.string(), b.key.string());
    FAIL() << "another certificate's key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(b.key.string()), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(make_dot_tls(a.cert.string(), a.key.string()));
}

}  // namespace
}  // namespace pweb::dns
