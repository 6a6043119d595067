#include "pweb/gateway/server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <optional>
#include <thread>

namespace pweb::gateway {
namespace {

// A blocking test client on a real socket, every read bounded by a timeout.
class Client {
 public:
  // `from`: the loopback source address to connect from.
  explicit Client(std::uint16_t port, const char* from = "127.0.0.1") {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, from, &src.sin_addr);
    bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Client() { close(fd_); }
  bool connected() const { return connected_; }
  void send(const std::vector<std::uint8_t>& b) {
    ASSERT_EQ(::send(fd_, b.data(), b.size(), 0), static_cast<ssize_t>(b.size()));
  }
  // Reads until `n` bytes arrived; fewer if the peer closed or 3 s passed.
  std::vector<std::uint8_t> read(std::size_t n) {
    std::vector<std::uint8_t> out;
    while (out.size() < n) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 3000) <= 0) break;
      std::uint8_t buf[512];
      const auto got = recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
      if (got <= 0) break;
      out.insert(out.end(), buf, buf + got);
    }
    return out;
  }
  bool closed_by_peer() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 3000) <= 0) return false;
    std::uint8_t b;
    return recv(fd_, &b, 1, 0) == 0;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class GatewayServerTest : public ::testing::Test {
 protected:
  GatewayServerTest() {
    ServerConfig cfg;
    cfg.port = 0;
    cfg.query_deadline = std::chrono::milliseconds(300);
    server_ = std::make_unique<GatewayServer>(cfg, [](const std::string& name, auto done) {
      Answer a;
      a.ttl = 60;
      a.status = AnswerStatus::found;
      if (name == "laptop.alice.uw") {
        a.ipv4 = {{192, 0, 2, 1}};
      } else if (name == "v6.alice.uw") {
        a.ipv6 = {{0x20, 0x01}};
      } else if (name == "dual.alice.uw") {
        a.ipv4 = {{192, 0, 2, 2}};
        a.ipv6 = {{0x20, 0x01, 0x0d, 0xb8}};
      } else if (name == "broken.alice.uw") {
        a = Answer{0, AnswerStatus::failed, 0, {}, {}};  // could not tell
      } else if (name == "slow.alice.uw") {
        return;  // never answers: the deadline must
      } else {
        a = Answer{0, AnswerStatus::absent, 60, {}, {}};
      }
      done(a);
    });
    server_->start();
  }
  std::unique_ptr<GatewayServer> server_;
};

// The frames of type F after the 2-byte version echo, by serial.
template <typename F>
std::map<std::uint16_t, F> frames_after_version(const std::vector<std::uint8_t>& bytes) {
  std::map<std::uint16_t, F> out;
  for (std::size_t pos = 2; pos < bytes.size();) {
    const auto d = decode(std::span(bytes).subspan(pos));
    EXPECT_EQ(d.status, DecodeStatus::frame);
    if (d.status != DecodeStatus::frame) break;
    const auto f = std::get<F>(d.frame);
    out[f.serial] = f;
    pos += d.consumed;
  }
  return out;
}

std::vector<std::uint8_t> handshake_and(std::initializer_list<Query> qs,
                                        std::uint16_t version = kVersion) {
  std::vector<std::uint8_t> b;
  encode_version(b, version);
  for (const auto& q : qs) encode(b, q);
  return b;
}

TEST_F(GatewayServerTest, PipelinedQueriesAnsweredWithTheirSerials) {
  Client c(server_->port());
  ASSERT_TRUE(c.connected());
  c.send(handshake_and(
      {{1, "laptop.alice.uw"}, {2, "v6.alice.uw"}, {3, "nosuch.alice.uw"}, {4, "slow.alice.uw"}}));
  auto bytes = c.read(2 + 10 + 22 + 5 + 5);  // version, v4, v6, two failures
  ASSERT_EQ(decode_version(bytes), 1);
  auto replies = frames_after_version<Reply>(bytes);
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_TRUE(replies[1].success);
  EXPECT_EQ(replies[1].family, 4);
  EXPECT_EQ(replies[1].address[0], 192);
  EXPECT_EQ(replies[2].family, 6);
  EXPECT_FALSE(replies[3].success);
  EXPECT_FALSE(replies[4].success);  // the deadline answered for the silent resolver
  EXPECT_EQ(server_->queries(), 4u);
  const auto st = server_->stats();
  EXPECT_EQ(st.queries, 4u);
  EXPECT_EQ(st.found, 2u);
  EXPECT_EQ(st.failed, 2u);
  EXPECT_EQ(st.connections, 1u);
}

TEST_F(GatewayServerTest, GarbageClosesTheConnectionServerLivesOn) {
  {
    Client c(server_->port());
    std::vector<std::uint8_t> b;
    encode_version(b);
    b.insert(b.end(), {0, 9, 0, 1});  // unknown frame type
    c.send(b);
    c.read(2);  // the version echo may or may not come first
    EXPECT_TRUE(c.closed_by_peer());
  }
  {
    Client c(server_->port());  // a duplicate outstanding serial is a protocol error
    c.send(handshake_and({{5, "slow.alice.uw"}, {5, "slow.alice.uw"}}));
    c.read(2);
    EXPECT_TRUE(c.closed_by_peer());
  }
  Client ok(server_->port());
  ok.send(handshake_and({{1, "laptop.alice.uw"}}));
  EXPECT_EQ(ok.read(2 + 10).size(), 12u);
}

TEST_F(GatewayServerTest, OtherVersionIsToldOursAndClosed) {
  Client c(server_->port());
  std::vector<std::uint8_t> b;
  encode_version(b, 7);
  c.send(b);
  const auto v = c.read(2);
  ASSERT_EQ(decode_version(v), kVersion2);  // the newest it speaks
  EXPECT_TRUE(c.closed_by_peer());
}

// A v1 client gets v1 replies from what the resolver says: the IPv4 of a
// dual-stack device, and "failed" as failure.
TEST_F(GatewayServerTest, VersionOneClientsGetVersionOneReplies) {
  Client c(server_->port());
  c.send(handshake_and({{1, "dual.alice.uw"}, {2, "broken.alice.uw"}}));
  auto bytes = c.read(2 + 10 + 5);
  ASSERT_EQ(decode_version(bytes), kVersion);
  auto replies = frames_after_version<Reply>(bytes);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[1].family, 4);
  EXPECT_EQ(replies[1].address[3], 2);
  EXPECT_FALSE(replies[2].success);
}

TEST_F(GatewayServerTest, VersionTwoClientsGetWholeAnswers) {
  Client c(server_->port());
  c.send(handshake_and({{1, "dual.alice.uw"},
                        {2, "nosuch.alice.uw"},
                        {3, "broken.alice.uw"},
                        {4, "slow.alice.uw"},
                        {5, "v6.alice.uw"}},
                       kVersion2));
  // version; dual: 2+2+1+4+1+4+1+16; three without addresses: 11 each; v6: 11+16
  auto bytes = c.read(2 + 31 + 3 * 11 + 27);
  ASSERT_EQ(decode_version(bytes), kVersion2);
  auto answers = frames_after_version<Answer>(bytes);
  ASSERT_EQ(answers.size(), 5u);
  EXPECT_EQ(answers[1],
            (Answer{1, AnswerStatus::found, 60, {{192, 0, 2, 2}}, {{0x20, 0x01, 0x0d, 0xb8}}}));
  EXPECT_EQ(answers[2].status, AnswerStatus::absent);
  EXPECT_EQ(answers[3].status, AnswerStatus::failed);
  EXPECT_EQ(answers[4].status, AnswerStatus::failed);  // the deadline: could not tell
  EXPECT_EQ(answers[5].ipv6.size(), 1u);
  EXPECT_TRUE(answers[5].ipv4.empty());
}

// v3: a server given a Resolve3 answers QUERY3 with ANSWER3, and still v2's QUERY.
class GatewayServerV3Test : public ::testing::Test {
 protected:
  GatewayServerV3Test() {
    ServerConfig cfg;
    cfg.port = 0;
    cfg.query_deadline = std::chrono::milliseconds(300);
    server_ = std::make_unique<GatewayServer>(
        cfg,
        [](const std::string&, auto done) {
          done(Answer{0, AnswerStatus::found, 60, {{192, 0, 2, 1}}, {}});
        },
        [](const std::string& name, std::uint16_t qtype, auto done) {
          Answer3 a;
          a.ttl = 30;
          if (name == "laptop.alice.uw" && qtype == 16) {
            a.status = Answer3Status::found;
            a.rrsets.push_back(RRset{"", 16, 30, {std::string("\x02hi", 3)}});
          } else if (name == "laptop.alice.uw") {
            a.status = Answer3Status::nodata;
          } else if (name == "big.alice.uw") {  // more than a frame holds: failed
            a.status = Answer3Status::found;
            a.rrsets.push_back(RRset{"", 16, 30, {std::string(30000, 'x')}});
          } else if (name == "slow.alice.uw") {
            return;
          }
          done(a);
        });
    server_->start();
  }
  std::unique_ptr<GatewayServer> server_;
};

TEST_F(GatewayServerV3Test, Query3AnsweredWithAnswer3AndQueryWithAnswer) {
  Client c(server_->port());
  std::vector<std::uint8_t> b;
  encode_version(b, kVersion3);
  encode(b, Query3{1, 16, "laptop.alice.uw"});
  encode(b, Query3{2, 33, "laptop.alice.uw"});
  encode(b, Query3{3, 16, "nosuch.alice.uw"});
  encode(b, Query3{4, 16, "big.alice.uw"});
  encode(b, Query3{5, 16, "slow.alice.uw"});
  encode(b, Query{6, "laptop.alice.uw"});
  c.send(b);
  // version; TXT: 10 + 8 + 2 + 3; four without RRsets: 10 each; ANSWER: 15
  auto bytes = c.read(2 + 23 + 4 * 10 + 15);
  ASSERT_EQ(decode_version(bytes), kVersion3);
  std::map<std::uint16_t, Answer3> answers;
  std::optional<Answer> v2;
  for (std::size_t pos = 2; pos < bytes.size();) {
    const auto d = decode(std::span(bytes).subspan(pos));
    ASSERT_EQ(d.status, DecodeStatus::frame);
    if (const auto* a = std::get_if<Answer3>(&d.frame)) answers[a->serial] = *a;
    if (const auto* a = std::get_if<Answer>(&d.frame)) v2 = *a;
    pos += d.consumed;
  }
  ASSERT_EQ(answers.size(), 5u);
  EXPECT_EQ(
      answers[1],
      (Answer3{1, Answer3Status::found, 30, {RRset{"", 16, 30, {std::string("\x02hi", 3)}}}}));
  EXPECT_EQ(answers[2].status, Answer3Status::nodata);
  EXPECT_EQ(answers[3].status, Answer3Status::absent);
  EXPECT_EQ(answers[4].status, Answer3Status::failed);  // too large for the frame
  EXPECT_EQ(answers[5].status, Answer3Status::failed);  // the deadline
  ASSERT_TRUE(v2);
  EXPECT_EQ(v2->ipv4.size(), 1u);
  const auto st = server_->stats();
  EXPECT_EQ(st.queries, 6u);
  EXPECT_EQ(st.queries_by_version[2], 5u);
  EXPECT_EQ(st.queries_by_version[1], 1u);
}

TEST_F(GatewayServerV3Test, Query3BeforeVersionThreeClosesTheConnection) {
  Client c(server_->port());
  std::vector<std::uint8_t> b;
  encode_version(b, kVersion2);
  c.send(b);
  ASSERT_EQ(decode_version(c.read(2)), kVersion2);
  b.clear();
  encode(b, Query3{1, 16, "laptop.alice.uw"});
  c.send(b);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(GatewayServerTest, WithoutResolve3VersionThreeIsToldTwo) {
  Client c(server_->port());
  std::vector<std::uint8_t> b;
  encode_version(b, kVersion3);
  c.send(b);
  ASSERT_EQ(decode_version(c.read(2)), kVersion2);
  EXPECT_TRUE(c.closed_by_peer());
}

TEST_F(GatewayServerV3Test, OtherVersionIsToldThree) {
  Client c(server_->port());
  std::vector<std::uint8_t> b;
  encode_version(b, 4);
  c.send(b);
  ASSERT_EQ(decode_version(c.read(2)), kVersion3);
  EXPECT_TRUE(c.closed_by_peer());
}

// One client address holds at most max_per_client connections; others are
// still served while it does (the whole table was 1,024 for anyone before).
TEST(GatewayServerLimits, OneClientAddressCannotTakeEveryConnection) {
  ServerConfig cfg;
  cfg.port = 0;
  cfg.max_per_client = 3;
  cfg.max_connections = 5;
  GatewayServer server(cfg, [](const std::string&, auto done) {
    done(Answer{0, AnswerStatus::found, 30, {{192, 0, 2, 7}}, {}});
  });
  server.start();
  std::vector<std::unique_ptr<Client>> hog;
  for (int i = 0; i < 3; ++i) {
    hog.push_back(std::make_unique<Client>(server.port(), "127.0.0.2"));
    hog.back()->send(handshake_and({}));
    ASSERT_EQ(hog.back()->read(2).size(), 2u) << i;  // handshaken: held
  }
  Client fourth(server.port(), "127.0.0.2");
  EXPECT_TRUE(fourth.closed_by_peer());
  EXPECT_EQ(server.stats().refused_client_limit, 1u);
  // Another agent is served while the hog holds its maximum.
  Client other(server.port(), "127.0.0.1");
  other.send(handshake_and({{1, "laptop.alice.uw"}}));
  EXPECT_EQ(other.read(2 + 10).size(), 2u + 10u);
  // The total still bounds everyone: two more from a third address fill it.
  Client third(server.port(), "127.0.0.3");
  third.send(handshake_and({}));
  ASSERT_EQ(third.read(2).size(), 2u);
  Client over(server.port(), "127.0.0.4");
  EXPECT_TRUE(over.closed_by_peer());
  EXPECT_EQ(server.stats().refused_total_limit, 1u);
  // A slot is given back when its connection closes.
  hog.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Client again(server.port(), "127.0.0.2");
  again.send(handshake_and({{2, "laptop.alice.uw"}}));
  EXPECT_EQ(again.read(2 + 10).size(), 2u + 10u);
}

TEST(GatewayServerLimits, ASilentConnectionIsClosedAfterTheIdleTimeout) {
  ServerConfig cfg;
  cfg.port = 0;
  cfg.idle_timeout = std::chrono::milliseconds(300);
  cfg.query_deadline = std::chrono::milliseconds(2000);
  GatewayServer server(cfg, [](const std::string& name, auto done) {
    if (name == "slow.alice.uw") return;  // in flight until the query deadline
    done(Answer{0, AnswerStatus::found, 30, {{192, 0, 2, 7}}, {}});
  });
  server.start();
  Client idle(server.port());
  idle.send(handshake_and({{1, "laptop.alice.uw"}}));
  ASSERT_EQ(idle.read(2 + 10).size(), 2u + 10u);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle.closed_by_peer());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(server.stats().idle_closed, 1u);
  // A query in flight is not idleness: its answer (failure at the deadline) arrives.
  Client busy(server.port());
  busy.send(handshake_and({{1, "slow.alice.uw"}}));
  const auto got = busy.read(2 + 5);
  EXPECT_EQ(got.size(), 2u + 5u);
}

TEST(GatewayServerLimits, NoHandshakeInTimeIsCounted) {
  ServerConfig cfg;
  cfg.port = 0;
  cfg.handshake_timeout = std::chrono::milliseconds(200);
  GatewayServer server(cfg, [](const std::string&, auto done) { done(Answer{}); });
  server.start();
  Client mute(server.port());  // connects, says nothing
  EXPECT_TRUE(mute.closed_by_peer());
  EXPECT_EQ(server.stats().handshake_timeouts, 1u);
}

}  // namespace
}  // namespace pweb::gateway
