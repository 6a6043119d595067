#include "h2_connection.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <csignal>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bounded_server.hpp"

namespace pweb::rest {
namespace {

// A TLS server context with a fresh self-signed P-256 certificate, and a
// client context that does not verify it: only ALPN is under test.
struct Contexts {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> server{SSL_CTX_new(TLS_server_method()),
                                                           SSL_CTX_free};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> client{SSL_CTX_new(TLS_client_method()),
                                                           SSL_CTX_free};
  Contexts() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("test"), -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    SSL_CTX_use_certificate(server.get(), cert);
    SSL_CTX_use_PrivateKey(server.get(), key);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

// The protocol ALPN agreed on ("" for none) after an in-memory handshake in
// which the client offers `offer` (wire format: length-prefixed names).
std::string negotiate(Contexts& c, const std::string& offer, bool server_offers_h2) {
  if (server_offers_h2) offer_h2(c.server.get());
  SSL* server = SSL_new(c.server.get());
  SSL* client = SSL_new(c.client.get());
  BIO* a = nullptr;
  BIO* b = nullptr;
  BIO_new_bio_pair(&a, 0, &b, 0);
  SSL_set_bio(server, a, a);
  SSL_set_bio(client, b, b);
  SSL_set_accept_state(server);
  SSL_set_connect_state(client);
  if (!offer.empty()) {
    SSL_set_alpn_protos(client, reinterpret_cast<const unsigned char*>(offer.data()),
                        static_cast<unsigned int>(offer.size()));
  }
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {  // bounded: a handshake takes a few rounds
    const int s = SSL_do_handshake(server);
    const int cl = SSL_do_handshake(client);
    done = s == 1 && cl == 1;
  }
  EXPECT_TRUE(done);
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(server, &data, &len);
  const std::string chosen =
      data ? std::string(reinterpret_cast<const char*>(data), len) : std::string();
  EXPECT_EQ(alpn_is_h2(server), chosen == "h2");
  SSL_free(server);
  SSL_free(client);
  return chosen;
}

const std::string kH2AndHttp11("\x02h2\x08http/1.1", 12);
const std::string kHttp11Only("\x08http/1.1", 9);
const std::string kH2Only("\x02h2", 3);

TEST(OfferH2, H2IsPreferredWhenOffered) {
  Contexts c;
  EXPECT_EQ(negotiate(c, kH2AndHttp11, true), "h2");
  Contexts c2;
  EXPECT_EQ(negotiate(c2, kH2Only, true), "h2");
}

TEST(OfferH2, Http11ClientsKeepHttp11) {
  Contexts c;
  EXPECT_EQ(negotiate(c, kHttp11Only, true), "http/1.1");
  Contexts c2;
  EXPECT_EQ(negotiate(c2, "", true), "");  // no ALPN: HTTP/1.1 as before
  Contexts c3;
  EXPECT_EQ(negotiate(c3, std::string("\x06spdy/3", 7), true), "");
}

TEST(OfferH2, WithoutItNoAlpnIsAgreed) {
  Contexts c;
  EXPECT_EQ(negotiate(c, kH2AndHttp11, false), "");
}

// serve_h2 on one end of a socket pair, in a thread, with `handler`; an
// nghttp2 client session over TLS on the other end, driven by the test.
class H2Session {
 public:
  H2Session(H2Handler handler, const H2Limits& limits) : handler_(std::move(handler)) {
    // As pweb-node does (app.cpp): the server's last writes after the test's
    // client has gone must fail with EPIPE, not end the test process.
    std::signal(SIGPIPE, SIG_IGN);
    offer_h2(c_.server.get());
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    server_fd_ = fds[0];
    client_fd_ = fds[1];
    ::fcntl(server_fd_, F_SETFL, ::fcntl(server_fd_, F_GETFL) | O_NONBLOCK);
    server_ = std::thread([this, limits] {
      SSL* ssl = SSL_new(c_.server.get());
      SSL_set_fd(ssl, server_fd_);
      if (tls_accept(server_fd_, ssl, BoundedStream::Clock::now() + std::chrono::seconds(5))) {
        serve_h2(
            server_fd_, ssl, limits, [this] { return stop_.load(); }, handler_, counters_);
      }
      SSL_free(ssl);
    });
    ssl_ = SSL_new(c_.client.get());
    SSL_set_fd(ssl_, client_fd_);
    SSL_set_alpn_protos(ssl_, reinterpret_cast<const unsigned char*>("\x02h2"), 3);
    EXPECT_EQ(SSL_connect(ssl_), 1);
    ::fcntl(client_fd_, F_SETFL, ::fcntl(client_fd_, F_GETFL) | O_NONBLOCK);
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(
        cb, [](nghttp2_session*, const nghttp2_frame* f, const uint8_t* n, size_t nl,
               const uint8_t* v, size_t vl, uint8_t, void* self) {
          if (std::string_view(reinterpret_cast<const char*>(n), nl) == ":status") {
            static_cast<H2Session*>(self)->status_[f->hd.stream_id] =
                std::stoi(std::string(reinterpret_cast<const char*>(v), vl));
          }
          return 0;
        });
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(
        cb, [](nghttp2_session*, uint8_t, int32_t id, const uint8_t* d, size_t len, void* self) {
          static_cast<H2Session*>(self)->body_[id].append(reinterpret_cast<const char*>(d), len);
          return 0;
        });
    nghttp2_session_callbacks_set_on_stream_close_callback(
        cb, [](nghttp2_session*, int32_t id, uint32_t, void* self) {
          static_cast<H2Session*>(self)->closed_.push_back(id);
          return 0;
        });
    nghttp2_session_client_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~H2Session() {
    stop_ = true;
    nghttp2_session_del(session_);
    SSL_free(ssl_);
    ::shutdown(client_fd_, SHUT_RDWR);
    server_.join();
    ::close(client_fd_);
    ::close(server_fd_);
  }
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  int32_t get(const std::string& path) {
    const std::string method = "GET", scheme = "https", authority = "test";
    const auto nv = [](const std::string& n, const std::string& v) {
      return nghttp2_nv{reinterpret_cast<uint8_t*>(const_cast<char*>(n.data())),
                        reinterpret_cast<uint8_t*>(const_cast<char*>(v.data())), n.size(), v.size(),
                        NGHTTP2_NV_FLAG_NONE};
    };
    const std::string m = ":method", s = ":scheme", a = ":authority", p = ":path";
    const nghttp2_nv fields[] = {nv(m, method), nv(s, scheme), nv(a, authority), nv(p, path)};
    return nghttp2_submit_request(session_, nullptr, fields, 4, nullptr, nullptr);
  }

  // Sends what is queued and reads until `done()` or `limit` passed.
  bool pump_until(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      const uint8_t* data = nullptr;
      for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
        for (ssize_t off = 0; off < n;) {
          const int w = SSL_write(ssl_, data + off, static_cast<int>(n - off));
          if (w > 0) {
            off += w;
          } else {
            pollfd pf{client_fd_, POLLOUT, 0};
            ::poll(&pf, 1, 50);
          }
        }
      }
      if (std::chrono::steady_clock::now() >= end) return false;
      std::array<uint8_t, 16384> buf{};
      const int r = SSL_read(ssl_, buf.data(), static_cast<int>(buf.size()));
      if (r > 0) {
        nghttp2_session_mem_recv(session_, buf.data(), static_cast<size_t>(r));
      } else if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) {
        pollfd pf{client_fd_, POLLIN, 0};
        ::poll(&pf, 1, 20);
      } else {
        return done();  // the server ended the connection
      }
    }
    return true;
  }
  bool closed(int32_t id) const {
    return std::find(closed_.begin(), closed_.end(), id) != closed_.end();
  }

  std::map<int32_t, int> status_;
  std::map<int32_t, std::string> body_;
  std::vector<int32_t> closed_;  // in the order the streams ended

 private:
  Contexts c_;
  H2Handler handler_;
  LimitCounters counters_;
  std::atomic<bool> stop_{false};
  int server_fd_ = -1, client_fd_ = -1;
  std::thread server_;
  SSL* ssl_ = nullptr;
  nghttp2_session* session_ = nullptr;
};

H2Response text(std::string body) {
  H2Response r;
  r.content_type = "text/plain";
  r.body = std::move(body);
  return r;
}

// Replies at once to every path but "/later", whose reply the test makes.
struct HeldReplies {
  std::mutex m;
  std::vector<H2Reply> later;
  H2Handler handler() {
    return [this](const H2Request& req, H2Reply reply) {
      if (req.path == "/later") {
        std::lock_guard lock(m);
        later.push_back(std::move(reply));
        return;
      }
      reply([path = req.path] { return std::optional<H2Response>(text("now " + path)); });
    };
  }
  std::size_t count() {
    std::lock_guard lock(m);
    return later.size();
  }
};

TEST(ServeH2, AStreamWaitingForItsAnswerDoesNotHoldUpTheOthers) {
  HeldReplies held;
  H2Session h(held.handler(), H2Limits{});
  const auto slow = h.get("/later");
  const auto fast = h.get("/fast");
  ASSERT_TRUE(h.pump_until([&] { return h.closed(fast); }, std::chrono::seconds(5)));
  EXPECT_EQ(h.status_[fast], 200);
  EXPECT_EQ(h.body_[fast], "now /fast");
  EXPECT_FALSE(h.closed(slow));
  ASSERT_EQ(held.count(), 1u);
  // Replied from another thread, as the resolver does: the connection wakes.
  std::thread([&] {
    held.later[0]([] { return std::optional<H2Response>(text("later")); });
  }).join();
  ASSERT_TRUE(h.pump_until([&] { return h.closed(slow); }, std::chrono::seconds(5)));
  EXPECT_EQ(h.status_[slow], 200);
  EXPECT_EQ(h.body_[slow], "later");
  EXPECT_EQ(h.closed_, (std::vector<int32_t>{fast, slow}));
}

TEST(ServeH2, NoReplyWithinTheAnswerTimeoutIs504AndALateReplyGoesNowhere) {
  HeldReplies held;
  H2Limits limits;
  limits.answer_timeout = std::chrono::milliseconds(300);
  {
    H2Session h(held.handler(), limits);
    const auto t0 = std::chrono::steady_clock::now();
    const auto slow = h.get("/later");
    ASSERT_TRUE(h.pump_until([&] { return h.closed(slow); }, std::chrono::seconds(5)));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(300));
    EXPECT_EQ(h.status_[slow], 504);
    EXPECT_NE(h.body_[slow].find("no answer within 300 ms"), std::string::npos) << h.body_[slow];
    // The connection goes on.
    const auto fast = h.get("/fast");
    ASSERT_TRUE(h.pump_until([&] { return h.closed(fast); }, std::chrono::seconds(5)));
    EXPECT_EQ(h.status_[fast], 200);
  }
  // After the connection ended: dropped, never run (ASan: nothing freed is touched).
  ASSERT_EQ(held.count(), 1u);
  bool ran = false;
  held.later[0]([&ran] {
    ran = true;
    return std::optional<H2Response>(text("too late"));
  });
  EXPECT_FALSE(ran);
}

TEST(ServeH2, AReplyWithoutAResponseResetsTheStreamForHttp11) {
  H2Session h([](const H2Request&, H2Reply reply) { reply([] { return std::nullopt; }); },
              H2Limits{});
  const auto id = h.get("/api/v1/status");
  ASSERT_TRUE(h.pump_until([&] { return h.closed(id); }, std::chrono::seconds(5)));
  EXPECT_EQ(h.status_.count(id), 0u);  // reset, no response
}

}  // namespace
}  // namespace pweb::rest
