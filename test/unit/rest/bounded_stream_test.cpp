#include "bounded_stream.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

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
  p.send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789");
  EXPECT_EQ(read_line(s), "POST / HTTP/1.1\r\n");
  EXPECT_EQ(read_line(s), "Content-Length: 10\r\n");
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
  p.send("POST / HTTP/1.1\r\nContent-Length: 33\r\n\r\n" + std::string(33, 'b'));
  read_line(s);
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

// --- Framing (RFC 9112 6.3) ---

struct HeadCase {
  const char* name;
  std::vector<std::string> lines;  // the request line, then field lines
  int status;                      // 0: accepted
  BodyFraming::Kind kind = BodyFraming::Kind::none;
  std::uint64_t length = 0;
  const char* says = "";  // in the error
};

BodyFraming frame(const std::vector<std::string>& lines) {
  HeadFraming h;
  for (const auto& l : lines) {
    if (!h.line(l)) return h.result();
  }
  return h.finish();
}

TEST(HeadFraming, OneCasePerShape) {
  using K = BodyFraming::Kind;
  const std::string post = "POST /x HTTP/1.1";
  const std::vector<HeadCase> cases = {
      {"no body", {"GET /x HTTP/1.1", "Host: h"}, 0},
      {"length", {post, "Content-Length: 12"}, 0, K::length, 12},
      {"length zero is no body", {"GET /x HTTP/1.1", "Content-Length: 0"}, 0},
      {"identical repeated lines",
       {post, "Content-Length: 7", "content-length: 7"},
       0,
       K::length,
       7},
      {"identical list", {post, "Content-Length: 7, 7"}, 0, K::length, 7},
      {"leading zeros are the same value",
       {post, "Content-Length: 7", "Content-Length: 007"},
       0,
       K::length,
       7},
      {"chunked", {post, "Transfer-Encoding: chunked"}, 0, K::chunked},
      {"chunked any case, OWS", {post, "transfer-encoding: \t ChunKed  "}, 0, K::chunked},
      {"length and chunked",
       {post, "Content-Length: 5", "Transfer-Encoding: chunked"},
       400,
       K::none,
       0,
       "both Content-Length and Transfer-Encoding"},
      {"chunked and length",
       {post, "Transfer-Encoding: chunked", "Content-Length: 5"},
       400,
       K::none,
       0,
       "both Content-Length and Transfer-Encoding"},
      {"differing lines",
       {post, "Content-Length: 5", "Content-Length: 6"},
       400,
       K::none,
       0,
       "differing Content-Length"},
      {"differing list",
       {post, "Content-Length: 5, 6"},
       400,
       K::none,
       0,
       "differing Content-Length"},
      {"sign", {post, "Content-Length: +5"}, 400, K::none, 0, "invalid Content-Length"},
      {"negative", {post, "Content-Length: -1"}, 400, K::none, 0, "invalid Content-Length"},
      {"hex", {post, "Content-Length: 0x10"}, 400, K::none, 0, "invalid Content-Length"},
      {"percent-encoded (cpp-httplib decodes it)",
       {post, "Content-Length: 1%30"},
       400,
       K::none,
       0,
       "invalid Content-Length"},
      {"empty", {post, "Content-Length:"}, 400, K::none, 0, "invalid Content-Length"},
      {"empty element", {post, "Content-Length: 5,"}, 400, K::none, 0, "invalid Content-Length"},
      {"inner space", {post, "Content-Length: 1 2"}, 400, K::none, 0, "invalid Content-Length"},
      {"overflow", {post, "Content-Length: 18446744073709551616"}, 400, K::none, 0, "too large"},
      {"gzip only", {post, "Transfer-Encoding: gzip"}, 400, K::none, 0, "must end with chunked"},
      {"chunked not last",
       {post, "Transfer-Encoding: chunked, gzip"},
       400,
       K::none,
       0,
       "must end with chunked"},
      {"chunked not last, two lines",
       {post, "Transfer-Encoding: chunked", "Transfer-Encoding: gzip"},
       400,
       K::none,
       0,
       "must end with chunked"},
      {"chunked twice",
       {post, "Transfer-Encoding: chunked, chunked"},
       400,
       K::none,
       0,
       "more than once"},
      {"chunked twice, two lines",
       {post, "Transfer-Encoding: chunked", "Transfer-Encoding: chunked"},
       400,
       K::none,
       0,
       "more than once"},
      {"other coding then chunked",
       {post, "Transfer-Encoding: gzip, chunked"},
       501,
       K::none,
       0,
       "only the chunked transfer coding"},
      {"chunked with a parameter",
       {post, "Transfer-Encoding: chunked;x=1"},
       400,
       K::none,
       0,
       "must end with chunked"},
      {"empty element before chunked",
       {post, "Transfer-Encoding: , chunked"},
       400,
       K::none,
       0,
       "one field with the value chunked"},
      {"empty transfer-encoding",
       {post, "Transfer-Encoding:"},
       400,
       K::none,
       0,
       "must end with chunked"},
      {"chunked in HTTP/1.0",
       {"POST /x HTTP/1.0", "Transfer-Encoding: chunked"},
       400,
       K::none,
       0,
       "HTTP/1.0"},
      {"space before the colon",
       {post, "Content-Length : 5"},
       400,
       K::none,
       0,
       "malformed header field line"},
      {"tab before the colon",
       {post, "Transfer-Encoding\t: chunked"},
       400,
       K::none,
       0,
       "malformed header field line"},
      {"no colon", {post, "Content-Length 5"}, 400, K::none, 0, "malformed header field line"},
      {"obs-fold",
       {post, "Transfer-Encoding: gzip", " chunked"},
       400,
       K::none,
       0,
       "obsolete line folding"},
      {"GET with a length",
       {"GET /x HTTP/1.1", "Content-Length: 40"},
       400,
       K::none,
       0,
       "a GET request must not have a body"},
      {"GET chunked",
       {"GET /x HTTP/1.1", "Transfer-Encoding: chunked"},
       400,
       K::none,
       0,
       "a GET request must not have a body"},
      {"HEAD with a length",
       {"HEAD /x HTTP/1.1", "Content-Length: 1"},
       400,
       K::none,
       0,
       "a HEAD request must not have a body"},
      {"OPTIONS with a length",
       {"OPTIONS /x HTTP/1.1", "Content-Length: 1"},
       400,
       K::none,
       0,
       "OPTIONS request must not have a body"},
      {"odd method is not echoed",
       {"G\"T /x HTTP/1.1", "Content-Length: 1"},
       400,
       K::none,
       0,
       "a request of this method request must not have a body"},
      {"PUT", {"PUT /x HTTP/1.1", "Content-Length: 3"}, 0, K::length, 3},
      {"DELETE", {"DELETE /x HTTP/1.1", "Transfer-Encoding: chunked"}, 0, K::chunked},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const BodyFraming f = frame(c.lines);
    EXPECT_EQ(f.status, c.status) << f.error;
    if (c.status == 0) {
      EXPECT_EQ(f.kind, c.kind);
      EXPECT_EQ(f.length, c.length);
    } else {
      EXPECT_NE(f.error.find(c.says), std::string::npos) << f.error;
      EXPECT_EQ(f.error.find('"'), std::string::npos) << "closing_answer does not escape";
    }
  }
}

struct ChunkCase {
  const char* name;
  std::string body;
  const char* fails;  // nullptr: a complete, valid body
};

TEST(ChunkedFraming, OneCasePerShape) {
  const std::vector<ChunkCase> cases = {
      {"one chunk", "5\r\nhello\r\n0\r\n\r\n", nullptr},
      {"upper hex, leading zeros", "00A\r\n0123456789\r\n000\r\n\r\n", nullptr},
      {"extensions", "5;a=b;c=\"d e\"\r\nhello\r\n0 ;x\r\n\r\n", nullptr},
      {"empty body", "0\r\n\r\n", nullptr},
      {"non-hex size", "g\r\n", "not a hex number"},
      {"0x prefix (strtoul takes it)", "0x5\r\nhello\r\n0\r\n\r\n", "not a hex number"},
      {"signed size (strtoul takes it)", "-1\r\n", "not a hex number"},
      {"leading space (strtoul skips it)", " 5\r\nhello\r\n", "not a hex number"},
      {"no size", "\r\n", "not a hex number"},
      {"overflow", "10000000000000000\r\n", "more than 16 hex digits"},
      {"junk after the size (strtoul ignores it)", "5 junk\r\nhello\r\n0\r\n\r\n",
       "other than an extension"},
      {"trailing space, no extension", "5 \r\nhello\r\n", "other than an extension"},
      {"bare LF after the size", "5\nhello\r\n0\r\n\r\n", "size line not ended by CRLF"},
      {"CR without LF after the size", "5\rxhello", "size line not ended by CRLF"},
      {"data longer than its size", "3\r\nhello\r\n0\r\n\r\n", "not followed by CRLF"},
      {"data then no CRLF", "5\r\nhelloGET / HTTP/1.1\r\n", "not followed by CRLF"},
      {"data then bare LF", "5\r\nhello\n0\r\n\r\n", "not followed by CRLF"},
      {"extension too long", "5;" + std::string(300, 'e') + "\r\nhello\r\n", "longer than 256"},
      {"control byte in an extension", std::string("5;a\0b\r\nhello\r\n", 13), "control character"},
      {"LF inside an extension", "5;a\nb\r\nhello\r\n", "control character"},
      {"trailer field", "0\r\nX: y\r\n\r\n", "trailer fields"},
      {"last chunk, bare LF", "0\r\n\n", "trailer fields"},
      {"last chunk, CR then junk", "0\r\n\rx", "last chunk not ended by CRLF"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    // Byte by byte (as cpp-httplib reads the size lines) and all at once.
    for (const bool bytewise : {true, false}) {
      ChunkedFraming f;
      std::size_t used = 0;
      if (bytewise) {
        for (std::size_t i = 0; i < c.body.size() && !f.done() && !f.failed(); ++i) {
          used += f.feed(c.body.data() + i, 1);
        }
      } else {
        used = f.feed(c.body.data(), c.body.size());
      }
      if (c.fails == nullptr) {
        EXPECT_TRUE(f.done());
        EXPECT_FALSE(f.failed()) << f.error();
        EXPECT_EQ(used, c.body.size());
      } else {
        ASSERT_TRUE(f.failed());
        EXPECT_FALSE(f.done());
        EXPECT_NE(std::string(f.error()).find(c.fails), std::string::npos) << f.error();
      }
    }
  }
}

TEST(ChunkedFraming, StopsAtTheEndOfTheBody) {
  ChunkedFraming f;
  const std::string bytes = "2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(f.feed(bytes.data(), bytes.size()), bytes.find("GET"));
  EXPECT_TRUE(f.done());
}

// Reads a whole request the way cpp-httplib does: lines, then `body` bytes.
std::string read_head(BoundedStream& s) {
  std::string head;
  for (;;) {
    const std::string line = read_line(s);
    head += line;
    if (line == "\r\n" || line.find("<fail>") != std::string::npos) return head;
  }
}

struct StreamCase {
  const char* name;
  std::string request;  // a head (and body); "SMUGGLED" marks what must never be read
  int status;           // of the refusal
  const char* says;
};

// Through the stream: the refusal is answered 400/501 with Connection: close, the
// read fails, nothing after the fault is delivered, and the request is not complete.
TEST(BoundedStream, FramingFaultsAreRefusedAndNothingAfterThemIsRead) {
  const std::string smuggled = "PUT /SMUGGLED HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
  const std::vector<StreamCase> cases = {
      {"length and chunked",
       "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" +
           smuggled,
       400, "both Content-Length and Transfer-Encoding"},
      {"differing lengths",
       "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 47\r\n\r\n" + smuggled, 400,
       "differing Content-Length"},
      {"differing list", "POST / HTTP/1.1\r\nContent-Length: 0, 47\r\n\r\n" + smuggled, 400,
       "differing Content-Length"},
      {"invalid length", "POST / HTTP/1.1\r\nContent-Length: +0\r\n\r\n" + smuggled, 400,
       "invalid Content-Length"},
      {"transfer coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled, 400,
       "must end with chunked"},
      {"unimplemented coding",
       "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" + smuggled, 501,
       "only the chunked"},
      {"GET with a body", "GET / HTTP/1.1\r\nContent-Length: 47\r\n\r\n" + smuggled, 400,
       "a GET request must not have a body"},
      {"bare LF", "GET / HTTP/1.1\nContent-Length: 47\n\n" + smuggled, 400, "bare CR or LF"},
      {"bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n" + smuggled, 400, "bare CR or LF"},
      {"bad chunk size",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n0\r\n\r\n" + smuggled,
       400, "chunk size followed by"},
      {"chunk data without CRLF",
       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx" + smuggled, 400,
       "chunk data not followed by CRLF"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Pair p;
    auto limits = small_limits();
    limits.max_head_bytes = 256;
    limits.max_body_bytes = 256;
    BoundedStream s(p.server, nullptr, limits);
    p.send(c.request);
    std::string got = read_head(s);
    if (got.find("<fail>") == std::string::npos) got += read_n(s, 64);  // the body
    EXPECT_NE(got.find("<fail>"), std::string::npos) << got;
    EXPECT_EQ(got.find("SMUGGLED"), std::string::npos) << got;
    EXPECT_EQ(s.limit_hit(), LimitHit::bad_framing);
    EXPECT_FALSE(s.request_complete());
    EXPECT_FALSE(s.wait_for_request([] { return false; }));
    const std::string answer = p.answer();
    EXPECT_EQ(answer.rfind("HTTP/1.1 " + std::to_string(c.status) + " ", 0), 0u) << answer;
    EXPECT_NE(answer.find("Connection: close\r\n"), std::string::npos) << answer;
    EXPECT_NE(answer.find("{\"error\":\""), std::string::npos) << answer;
    EXPECT_NE(answer.find(c.says), std::string::npos) << answer;
  }
}

// The body ends where its framing says: later reads give end of body, the
// request is complete, and the next request is read as one.
TEST(BoundedStream, BodyEndsWhereItsFramingSays) {
  struct Case {
    const char* name;
    std::string request;
    std::string body;  // as delivered, framing included
  };
  const std::vector<Case> cases = {
      {"length", "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "abc"},
      {"chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       "3\r\nabc\r\n0\r\n\r\n"},
      {"none (a POST without either has no body)", "POST / HTTP/1.1\r\n\r\n", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    Pair p;
    BoundedStream s(p.server, nullptr, small_limits());
    p.send(c.request + "GET /next HTTP/1.1\r\n\r\n");
    read_head(s);
    EXPECT_EQ(s.request_complete(), c.body.empty());
    std::string body(64, '\0');
    std::size_t got = 0;
    for (ssize_t r; (r = s.read(body.data() + got, body.size() - got)) > 0;) {
      got += static_cast<std::size_t>(r);
    }
    body.resize(got);
    EXPECT_EQ(body, c.body);
    EXPECT_EQ(s.limit_hit(), LimitHit::none);
    EXPECT_TRUE(s.request_complete());
    ASSERT_TRUE(s.wait_for_request([] { return false; }));
    s.begin_request();
    EXPECT_EQ(read_line(s), "GET /next HTTP/1.1\r\n");
  }
}

}  // namespace
}  // namespace pweb::rest
