#pragma once
// A DNS-Gateway protocol client for one remote agent: one persistent connection
// speaking v3, or the older version a server echoes (2 or 1: it closes, the
// client reconnects offering that version, and stays with it),
// queries pipelined with unique serials, each answered exactly once (a reply,
// or nullopt on timeout or connection loss), reconnection with back-off (while
// backing off, queries fail at once; the next one after it reconnects).
// Thread-safe front: query() may be called from any thread; the work happens on
// the io_context given at construction.
#include <asio.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "pweb/gateway/frame.hpp"
#include "pweb/gateway/tls.hpp"

namespace pweb::gateway {

struct ClientConfig {
  std::chrono::milliseconds timeout{2000};  // per query, from the call
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // TLS 1.3 (make_client_tls) and the key the server must present; with tls
  // set and a server presenting another key, no query is sent and every one
  // fails (untrusted_key() says which key it saw). Null: plain protocol.
  std::shared_ptr<asio::ssl::context> tls;
  PeerKey peer_key;
  // The newest version offered: kVersion2 where forwarding matters (standalone
  // gateways ask home agents for any agent's names, which v3 servers do not forward).
  std::uint16_t max_version = kVersion3;
};

class GatewayClient : public std::enable_shared_from_this<GatewayClient> {
 public:
  // A v1 server's REPLY arrives converted (from_v1: ttl 0, one address).
  using Done = std::function<void(std::optional<Answer>)>;
  // Answers to typed questions in v3's form, whatever the version spoken: a
  // v2 or v1 server is asked QUERY and its answer converted (from_v2).
  using Done3 = std::function<void(std::optional<Answer3>)>;

  static std::shared_ptr<GatewayClient> create(asio::io_context& io, std::string host,
                                               std::uint16_t port, ClientConfig config = {});
  // From any thread; `done` runs on the io_context's thread. Called on that
  // thread, the query is queued at once, without a post.
  void query(std::string name, Done done);
  // The records of type `qtype` at `name` (QUERY3 on v3, QUERY before).
  void query(std::string name, std::uint16_t qtype, Done3 done);
  void close();
  // False while backing off after a failed connection, and after a query
  // timed out until a reply comes: past a back-off (doubling) the client asks
  // the server a probe of its own, so that no caller's query waits on a
  // server that may still hang. On the io thread only.
  [[nodiscard]] bool healthy() const noexcept;
  // The protocol version of the current (or next) connection. On the io thread only.
  [[nodiscard]] std::uint16_t version() const noexcept { return offer_; }
  // The key id the server presented on the last TLS handshake if it was not
  // the expected key (empty otherwise, and after a trusted handshake). On the
  // io thread only: a `done` seeing nullopt asks it to tell distrust from loss.
  [[nodiscard]] const std::string& untrusted_key() const noexcept { return untrusted_key_; }
  // TLS handshakes made, and how many resumed a session. On the io thread only.
  [[nodiscard]] std::uint64_t tls_handshakes() const noexcept { return tls_handshakes_; }
  [[nodiscard]] std::uint64_t tls_resumed() const noexcept { return tls_resumed_; }

  // Private use: construct through create().
  GatewayClient(asio::io_context& io, std::string host, std::uint16_t port, ClientConfig config);

 private:
  struct Outstanding {
    Done done;    // set for an address query ...
    Done3 done3;  // ... or this for a typed one
    std::uint16_t qtype = 0;
    std::chrono::steady_clock::time_point deadline;
  };
  struct Waiting {
    std::uint16_t serial;
    std::string name;
    std::uint16_t qtype;
    bool typed;
  };
  enum class State { idle, connecting, ready, waiting };
  struct Link;  // one connection: its socket (and TLS), read and write buffers

  // The query's serial; nullopt when it failed at once (`done` was called).
  std::optional<std::uint16_t> enqueue(std::string name, std::uint16_t qtype, Done done,
                                       Done3 done3);
  void connect();
  void on_connect(const asio::error_code& err);
  void on_tls(const asio::error_code& err);
  void on_connected();
  void backoff();
  void drop_link();
  void keep_session();
  void read();
  void on_read(std::size_t pos);
  void send(std::uint16_t serial, const std::string& name, std::uint16_t qtype, bool typed);
  void flush();
  void flush_soon();
  void fail_all();
  // The reply to `serial` (null: none), in the form its query wanted.
  void finish(std::uint16_t serial, const Frame* reply);
  void timed_out(std::uint16_t serial);
  void probe_later();
  void probe();
  void arm_deadlines();
  void on_deadlines();
  void prune_deadlines();
  std::uint16_t next_serial();

  asio::io_context& io_;
  std::string host_;
  std::uint16_t port_;
  ClientConfig config_;
  std::shared_ptr<Link> link_;
  std::shared_ptr<SSL_SESSION> session_;  // for resumption on the next connection
  asio::ip::tcp::resolver resolver_;      // for a host given by name
  asio::steady_timer backoff_timer_;
  // Every query has the same timeout, so deadlines come in the order queries
  // were made: one timer for the oldest instead of one per query.
  asio::steady_timer deadline_timer_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint16_t>> deadlines_;
  bool deadline_armed_ = false;
  std::chrono::milliseconds backoff_;
  State state_ = State::idle;
  bool closed_ = false, handshaken_ = false, flush_posted_ = false;
  std::string untrusted_key_;
  std::uint64_t tls_handshakes_ = 0, tls_resumed_ = 0;
  int sync_reads_ = 0;  // records taken without an asynchronous read, in a row
  std::uint16_t serial_ = 0;
  std::uint16_t offer_ = kVersion3;  // the version this client opens with
  // A query timed out and no reply came since; probe_ is the client's own
  // query that asks whether the server is back, while outstanding.
  bool suspect_ = false;
  std::optional<std::uint16_t> probe_;
  asio::steady_timer probe_timer_;
  std::deque<Waiting> waiting_;  // until the connection is ready
  std::unordered_map<std::uint16_t, Outstanding> outstanding_;
  std::vector<std::uint8_t> out_;
};

}  // namespace pweb::gateway
