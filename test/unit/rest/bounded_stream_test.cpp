#include "bounded_stream.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace pweb::rest {
namespace {

using namespace std::chrono_literals;

// A connected pair: `server` (non-blocking, read through a BoundedStream) and `client`.
struct Pair {
  int server = -1;
  int client = -1;
  Pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    server = fds[0];
    client = fds[1];
    ::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL, 0) | O_NONBLOCK);
  }
  ~Pair() {
    ::close(server);
    if (client >= 0) ::close(client);
  }
  void send(const std::string& s) const {
    ASSERT_EQ(::send(client, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  // What the server wrote, waiting up to 2 s for the first byte.
  std::string answer() const {
    timeval tv{2, 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(client, buf, sizeof(buf), out.empty() ? 0 : MSG_DONTWAIT)) > 0) {
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
};

RequestLimits small_limits() {
  RequestLimits l;
  l.max_head_bytes = 64;
  l.max_body_bytes = 32;
  l.request_timeout = 300ms;
  l.response_timeout = 300ms;
  l.idle_timeout = 300ms;
  return l;
}

// Reads the way cpp-httplib's line reader does: a byte at a time, to a newline.
std::string read_line(BoundedStream& s) {
  std::string line;
  char c;
  while (s.read(&c, 1) == 1) {
    line += c;
    if (c == '\n') return line;
  }
  return line + "<fail>";
}

std::string read_n(BoundedStream& s, std::size_t n) {
  std::string out(n, '\0');
  std::size_t got = 0;
  while (got < n) {
    const auto r = s.read(out.data() + got, n - got);
    if (r <= 0) return out.substr(0, got) + "<fail>";
    got += static_cast<std::size_t>(r);
  }
  return out;
}

TEST(BoundedStream, ReadsAHeadAndItsBody) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  p.send("POST / HTTP/1.1\r\nA: b\r\n\r\n0123456789");
  EXPECT_EQ(read_line(s), "POST / HTTP/1.1\r\n");
  EXPECT_EQ(read_line(s), "A: b\r\n");
  EXPECT_EQ(read_line(s), "\r\n");
  EXPECT_EQ(read_n(s, 10), "0123456789");
  EXPECT_EQ(s.limit_hit(), LimitHit::none);
}

// The boundary: a head of exactly max_head_bytes passes; one byte more is refused.
TEST(BoundedStream, HeadOfExactlyTheLimitPassesOneMoreIsRefused) {
  const std::string start = "GET / HTTP/1.1\r\nX: ";
  for (const std::size_t extra : {0u, 1u}) {
    Pair p;
    BoundedStream s(p.server, nullptr, small_limits());
    const std::size_t fill = 64 - start.size() - 4 + extra;  // "\r\n\r\n" ends the head
    const std::string head = start + std::string(fill, 'v') + "\r\n\r\n";
    ASSERT_EQ(head.size(), 64 + extra);
    p.send(head);
    read_line(s);
    const std::string field = read_line(s);
    const std::string blank = read_line(s);
    if (extra == 0) {
      EXPECT_EQ(blank, "\r\n");
      EXPECT_EQ(s.limit_hit(), LimitHit::none);
    } else {
      EXPECT_EQ(s.limit_hit(), LimitHit::head_too_large);
      const std::string answer = p.answer();
      EXPECT_EQ(answer.rfind("HTTP/1.1 431 ", 0), 0u) << answer;
      EXPECT_NE(answer.find("Connection: close"), std::string::npos);
      EXPECT_NE(answer.find("larger than 64 bytes"), std::string::npos);
    }
  }
}

// One endless line (no newline ever): refused once the budget is spent, not
// read into memory until the peer stops.
TEST(BoundedStream, EndlessRequestLineIsRefused) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  p.send("GET /" + std::string(1000, 'a'));
  EXPECT_EQ(read_line(s).size(), 64u + std::string("<fail>").size());
  EXPECT_EQ(s.limit_hit(), LimitHit::head_too_large);
  EXPECT_EQ(p.answer().rfind("HTTP/1.1 431 ", 0), 0u);
}

TEST(BoundedStream, BodyOverItsBudgetIsRefused) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  p.send("POST / HTTP/1.1\r\n\r\n" + std::string(33, 'b'));
  read_line(s);
  read_line(s);
  EXPECT_EQ(read_n(s, 33), std::string(32, 'b') + "<fail>");
  EXPECT_EQ(s.limit_hit(), LimitHit::body_too_large);
  EXPECT_EQ(p.answer().rfind("HTTP/1.1 413 ", 0), 0u);
}

// The deadline is per request, not per read: a byte every 50 ms keeps every
// read short, and the request is still cut at request_timeout.
TEST(BoundedStream, TrickledRequestIsCutAtItsDeadline) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  std::thread slow([&] {
    const std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int i = 0; i < 40; ++i) {
      const char c = req[static_cast<std::size_t>(i) % req.size()];
      if (::send(p.client, &c, 1, MSG_NOSIGNAL) != 1) return;
      std::this_thread::sleep_for(50ms);
    }
  });
  const auto t0 = std::chrono::steady_clock::now();
  while (read_line(s).find("<fail>") == std::string::npos) {
  }
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(s.limit_hit(), LimitHit::too_slow);
  EXPECT_LT(took, 1500ms);  // 300 ms deadline; 40 bytes would take 2 s
  ::shutdown(p.client, SHUT_RDWR);
  slow.join();
}

TEST(BoundedStream, StalledRequestIsAnswered408) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  p.send("GET / HTTP/1.1\r\nHo");
  read_line(s);
  EXPECT_NE(read_line(s).find("<fail>"), std::string::npos);
  EXPECT_EQ(s.limit_hit(), LimitHit::too_slow);
  const std::string answer = p.answer();
  EXPECT_EQ(answer.rfind("HTTP/1.1 408 ", 0), 0u) << answer;
}

TEST(BoundedStream, WritesAfterARefusalAreDiscarded) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  p.send(std::string(100, 'x'));
  read_line(s);
  ASSERT_EQ(s.limit_hit(), LimitHit::head_too_large);
  EXPECT_EQ(s.write("HTTP/1.1 400 Bad Request\r\n\r\n", 28), 28);
  const std::string answer = p.answer();
  EXPECT_EQ(answer.find("400"), std::string::npos) << answer;
}

TEST(BoundedStream, PipelinedRequestsEachGetTheirOwnBudget) {
  Pair p;
  BoundedStream s(p.server, nullptr, small_limits());
  const std::string one = "GET /a HTTP/1.1\r\nHost: " + std::string(30, 'h') + "\r\n\r\n";
  ASSERT_LE(one.size(), 64u);
  ASSERT_GT(2 * one.size(), 64u);  // together they would break one budget
  p.send(one + one);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(s.wait_for_request([] { return false; }));
    s.begin_request();
    EXPECT_EQ(read_line(s), "GET /a HTTP/1.1\r\n");
    read_line(s);
    EXPECT_EQ(read_line(s), "\r\n");
    EXPECT_EQ(s.limit_hit(), LimitHit::none);
  }
}

TEST(BoundedStream, WaitForRequestEndsOnIdleCloseOrStop) {
  {
    Pair p;
    BoundedStream s(p.server, nullptr, small_limits());
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(s.wait_for_request([] { return false; }));  // idle 300 ms
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
  }
  {
    Pair p;
    BoundedStream s(p.server, nullptr, small_limits());
    ::close(p.client);
    p.client = -1;
    EXPECT_FALSE(s.wait_for_request([] { return false; }));
  }
  {
    Pair p;
    auto limits = small_limits();
    limits.idle_timeout = 60s;
    BoundedStream s(p.server, nullptr, limits);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(s.wait_for_request([] { return true; }));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  }
  {
    Pair p;
    BoundedStream s(p.server, nullptr, small_limits());
    p.send("G");
    EXPECT_TRUE(s.wait_for_request([] { return false; }));
  }
}

TEST(BoundedStream, WriteGivesUpOnAPeerThatDoesNotRead) {
  Pair p;
  auto limits = small_limits();
  BoundedStream s(p.server, nullptr, limits);
  const std::string big(1 << 20, 'r');  // more than the socket buffers hold
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(s.write(big.data(), big.size()), -1);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
}

}  // namespace
}  // namespace pweb::rest
