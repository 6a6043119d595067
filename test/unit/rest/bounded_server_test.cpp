#include "bounded_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace pweb::rest {
namespace {

using namespace std::chrono_literals;

TEST(ClientSlots, LimitsEachAddressAlone) {
  ClientSlots slots(2);
  auto a1 = slots.acquire("10.0.0.1");
  auto a2 = slots.acquire("10.0.0.1");
  ASSERT_TRUE(a1 && a2);
  EXPECT_FALSE(slots.acquire("10.0.0.1"));
  EXPECT_TRUE(slots.acquire("10.0.0.2"));  // another address is not affected
  EXPECT_EQ(slots.held("10.0.0.1"), 2u);
  a1.reset();
  EXPECT_EQ(slots.held("10.0.0.1"), 1u);
  EXPECT_TRUE(slots.acquire("10.0.0.1"));
}

TEST(ClientSlots, ZeroMeansNoLimit) {
  ClientSlots slots(0);
  std::vector<ClientSlots::Slot> held;
  for (int i = 0; i < 1000; ++i) {
    auto s = slots.acquire("10.0.0.1");
    ASSERT_TRUE(s);
    held.push_back(std::move(*s));
  }
  EXPECT_EQ(slots.held("10.0.0.1"), 1000u);
  held.clear();
  EXPECT_EQ(slots.held("10.0.0.1"), 0u);
}

// A real BoundedServer on an ephemeral loopback port with one route.
class Served : public ::testing::Test {
 protected:
  void start(std::size_t per_client) {
    ConnectionPolicy policy;
    policy.limits.max_head_bytes = 1024;
    policy.limits.max_body_bytes = 256;
    policy.limits.request_timeout = 400ms;
    policy.limits.idle_timeout = 2s;
    policy.max_connections_per_client = per_client;
    server_ = std::make_unique<BoundedServer>(policy);
    server_->Get("/x", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok", "text/plain");
    });
    server_->Post("/x", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(std::to_string(req.body.size()), "text/plain");
    });
    // What a smuggled request would run (a device created, in the node).
    const auto run = [this](const httplib::Request&, httplib::Response& res) {
      ++smuggled_;
      res.set_content("smuggled", "text/plain");
    };
    server_->Get("/smuggled", run);
    server_->Put("/smuggled", run);
    // Answers without reading the body, as the node's 431 for too many fields does.
    server_->set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
      if (req.path != "/early") return httplib::Server::HandlerResponse::Unhandled;
      res.status = 403;
      return httplib::Server::HandlerResponse::Handled;
    });
    port_ = server_->bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_->listen_after_bind(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  int connect() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    ::inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
  }
  static void send_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
      const auto n = ::send(fd, s.data() + done, s.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;  // the server may close first: what it answered is checked
      done += static_cast<std::size_t>(n);
    }
  }
  // Everything until the server closes (or 3 s pass).
  static std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
    return out;
  }
  static std::string read_until(int fd, const std::string& end) {
    std::string out;
    char c;
    while (out.find(end) == std::string::npos && ::recv(fd, &c, 1, 0) == 1) out += c;
    return out;
  }

  std::unique_ptr<BoundedServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> smuggled_{0};
};

TEST_F(Served, KeepAliveServesRequestsInTurn) {
  start(4);
  const int fd = connect();
  for (int i = 0; i < 3; ++i) {
    send_all(fd, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    const std::string answer = read_until(fd, "\r\n\r\nok");
    EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK", 0), 0u) << answer;
  }
  send_all(fd, "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_NE(read_until(fd, "\r\n\r\n5").find("\r\n\r\n5"), std::string::npos);
  ::close(fd);
}

TEST_F(Served, HeaderFloodIsAnswered431AndClosed) {
  start(4);
  const int fd = connect();
  std::string flood = "GET /x HTTP/1.1\r\n";
  while (flood.size() < 64 * 1024) flood += "X-A: 1\r\n";
  send_all(fd, flood);  // no blank line: without a bound it would wait for more
  const std::string answer = read_all(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer.substr(0, 200);
  EXPECT_EQ(answer.find("HTTP/1.1 400"), std::string::npos) << "cpp-httplib's answer leaked";
  ::close(fd);
  EXPECT_EQ(server_->limit_counters().head_too_large.get(), 1u);
}

TEST_F(Served, ChunkedBodyOverTheLimitIsAnswered413) {
  start(4);
  const int fd = connect();
  std::string req = "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) req += "20\r\n" + std::string(32, 'c') + "\r\n";
  req += "0\r\n\r\n";
  send_all(fd, req);
  const std::string answer = read_all(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 413 ", 0), 0u) << answer.substr(0, 200);
  ::close(fd);
}

TEST_F(Served, SlowRequestIsCutAtTheDeadline) {
  start(4);
  const int fd = connect();
  const auto t0 = std::chrono::steady_clock::now();
  std::thread trickle([&] {
    for (const char c : std::string("GET /x HTTP/1.1\r\nHost: hhhhhhhhhhhhhhhhhh\r\n\r\n")) {
      if (::send(fd, &c, 1, MSG_NOSIGNAL) != 1) return;
      std::this_thread::sleep_for(100ms);
    }
  });
  const std::string answer = read_all(fd);
  const auto took = std::chrono::steady_clock::now() - t0;
  trickle.join();
  EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer.substr(0, 200);
  EXPECT_LT(took, 2s);  // 400 ms deadline; the whole request would take 4 s
  ::close(fd);
  EXPECT_EQ(server_->limit_counters().too_slow.get(), 1u);
}

TEST_F(Served, ConnectionsOverTheClientLimitAreAnswered503) {
  start(2);
  const int a = connect();
  const int b = connect();
  send_all(a, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  send_all(b, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  read_until(a, "\r\n\r\nok");  // both are being served (held by keep-alive)
  read_until(b, "\r\n\r\nok");
  const int c = connect();
  send_all(c, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  const std::string refused = read_all(c);
  EXPECT_EQ(refused.rfind("HTTP/1.1 503 ", 0), 0u) << refused;
  EXPECT_NE(refused.find("more than 2 connections"), std::string::npos);
  ::close(c);
  ::close(a);  // frees a slot
  std::string answer;
  for (int i = 0; i < 50 && answer.rfind("HTTP/1.1 200", 0) != 0; ++i) {
    std::this_thread::sleep_for(20ms);
    const int d = connect();
    send_all(d, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n");
    answer = read_all(d);
    ::close(d);
  }
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer;
  ::close(b);
  EXPECT_GE(server_->limit_counters().client_connections.get(), 1u);
}

TEST_F(Served, StopEndsIdleConnectionsPromptly) {
  start(4);
  const int fd = connect();
  send_all(fd, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n");
  read_until(fd, "\r\n\r\nok");
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  thread_.join();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);  // idle timeout is 2 s
  ::close(fd);
}

// Each shape carries a request that would run /smuggled if the bytes after the
// fault were read as a request: it is answered (400/501 with Connection: close,
// or cpp-httplib's own answer), the connection is closed, and /smuggled never runs.
TEST_F(Served, NothingAfterAFramingFaultIsReadAsARequest) {
  start(4);
  const std::string put = "PUT /smuggled HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n";
  const std::string get = "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n";
  const auto len = [](const std::string& s) { return std::to_string(s.size()); };
  struct Case {
    const char* name;
    std::string bytes;
    const char* status;
    bool bad_framing;  // refused by BoundedStream (counted), not by cpp-httplib
  };
  const std::vector<Case> cases = {
      {"GET whose body is a request",
       "GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: " + len(put) + "\r\n\r\n" + put, "400", true},
      {"Content-Length and Transfer-Encoding (CL.TE)",
       "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n" +
           put,
       "400", true},
      {"Transfer-Encoding and Content-Length (TE.CL)",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: " +
           len("0\r\n\r\n" + put) + "\r\n\r\n0\r\n\r\n" + put,
       "400", true},
      {"two differing Content-Length lines",
       "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: " + len(put) +
           "\r\n\r\n" + put,
       "400", true},
      {"a differing Content-Length list",
       "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0, " + len(put) + "\r\n\r\n" + put, "400",
       true},
      {"a signed Content-Length", "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: +0\r\n\r\n" + put,
       "400", true},
      {"an overflowing Content-Length",
       "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n" + put, "400",
       true},
      {"a Transfer-Encoding not ending in chunked",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n" + put,
       "400", true},
      {"a transfer coding before chunked",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + put,
       "501", true},
      {"a space before the colon",
       "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length : " + len(put) + "\r\n\r\n" + put, "400",
       true},
      {"a non-hex chunk size",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n" + put, "400", true},
      {"an overflowing chunk size",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "1ffffffffffffffff\r\n" +
           put,
       "400", true},
      {"chunk data without its CRLF (cpp-httplib ends the body there)",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab" + put, "400",
       true},
      {"a chunk extension hiding a line (cpp-httplib's strtoul stops at it)",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0 x\r\n\r\n" + put, "400",
       true},
      {"a trailer field",
       "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n\r\n" + put,
       "400", true},
      // cpp-httplib answers these itself without reading the whole request.
      {"a bad request line (its fields follow it)", "BAD\r\n" + get, "400", false},
      {"an answer before the body is read",
       "POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: " + len(get) + "\r\n\r\n" + get, "403",
       false},
  };
  std::uint64_t refused = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const int fd = connect();
    send_all(fd, c.bytes);
    const std::string answer = read_all(fd);  // to the close: it is closed
    ::close(fd);
    EXPECT_EQ(answer.rfind(std::string("HTTP/1.1 ") + c.status + " ", 0), 0u) << answer;
    EXPECT_EQ(answer.find("smuggled"), std::string::npos) << answer;
    EXPECT_EQ(answer.find("HTTP/1.1", 1), std::string::npos) << "a second answer: " << answer;
    if (c.bad_framing) {
      EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
      EXPECT_NE(answer.find("{\"error\":"), std::string::npos) << answer;
      EXPECT_EQ(server_->limit_counters().bad_framing.get(), ++refused);
    }
    EXPECT_EQ(smuggled_.load(), 0);
  }
  // The same server still serves, and a well-framed body keeps the connection.
  const int fd = connect();
  send_all(fd,
           "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
           "3;ext=1\r\nabc\r\n0\r\n\r\n" +
               get);
  const std::string answer = read_until(fd, "smuggled");
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 ", 0), 0u) << answer;
  EXPECT_NE(answer.find("\r\n\r\n3HTTP/1.1 200 "), std::string::npos) << answer;
  ::close(fd);
  EXPECT_EQ(smuggled_.load(), 1);
}

}  // namespace
}  // namespace pweb::rest
